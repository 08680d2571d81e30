//go:build !unix

package xray

const nonblock = 0
