// Package envcheck takes AWS_XRAY_DAEMON_ADDRESS out of the process's
// environment before the X-Ray SDK's package initialization can read it.
//
// The SDK reads that variable while its package xray initializes (its
// globalCfg, through daemoncfg.GetDaemonEndpoints) and panics on a value it
// cannot parse: a Go stack trace instead of a one-line error, in every
// tracing mode, before main runs. Go initializes packages in import-path
// order among those whose imports are initialized (the language
// specification, "Package initialization", since Go 1.21). This package
// imports only syscall, so it initializes as soon as syscall has, before os
// and so before every package that reads the environment through os, the
// SDK's included. main then checks the value (DaemonAddress) and hands it to
// the SDK through xray.Config, where a bad value is an error, not a panic.
package envcheck

import "syscall"

// DaemonAddressVar is the variable the X-Ray SDK reads for its daemon.
const DaemonAddressVar = "AWS_XRAY_DAEMON_ADDRESS"

// DaemonAddress is the value AWS_XRAY_DAEMON_ADDRESS had at start, "" when it
// was not set; the variable itself is no longer set.
var DaemonAddress = take(DaemonAddressVar)

func take(name string) string {
	v, ok := syscall.Getenv(name)
	if ok {
		syscall.Unsetenv(name)
	}
	return v
}
