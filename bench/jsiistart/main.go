// Command jsiistart only starts jsii and creates a CDK App: the fixed cost
// every Go CDK program pays before it defines anything, against which
// bench/run.sh sets the Go synth's time.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	awscdk.NewApp(nil)
}
