// Package cdktest holds what the constructs' example tests share: a TestMain
// that runs them in one jsii runtime and closes it once.
package cdktest

import (
	"os"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// Main runs a package's tests and examples, then closes the jsii runtime
// (one Node process per test binary, started by the first jsii call).
// aws-cdk-lib's CloudFormation validator is turned off: it adds seconds to
// every synth, and the app's own tests run it on the whole stack.
func Main(m *testing.M) {
	os.Setenv("CDK_VALIDATION", "false")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}
