// Command scale synthesizes a stack with BENCH_SERVICES traced services (task
// and service, each with its load balancer) in one VPC, beside the X-Ray group
// and rule: bench/run.sh times it at several sizes to find what one more
// traced service costs. bench/js/app.js builds the same stack in JavaScript.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/service"
	"github.com/cruddur/tracing/constructs/tracedtask"
	"github.com/cruddur/tracing/constructs/xray"
)

func main() {
	n, err := strconv.Atoi(os.Getenv("BENCH_SERVICES"))
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "scale: BENCH_SERVICES must be a whole number >= 1")
		os.Exit(2)
	}
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Scale"), nil)
	xray.NewGroup(stack, "Group", nil)
	xray.NewSamplingRule(stack, "SamplingRule", nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	image := awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/cruddur-backend:1.0.0"), nil)
	for i := 1; i <= n; i++ {
		task := tracedtask.NewTracedTask(stack, fmt.Sprintf("Task%d", i), &tracedtask.TracedTaskProps{AppImage: image})
		service.NewTracedService(stack, fmt.Sprintf("Service%d", i), &service.TracedServiceProps{Task: task, Vpc: vpc})
	}
	app.Synth(nil)
}
