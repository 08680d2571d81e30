// Command scale synthesizes a stack with BENCH_SERVICES traced services (a
// task with the X-Ray daemon sidecar, run by ecs-patterns' load-balanced
// Fargate service) in one VPC, beside an X-Ray group and rule: bench/run.sh
// times it at several sizes to find what one more traced service costs.
// bench/js/app.js builds a similar stack in JavaScript.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracing"
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
	xray.NewGroup(stack, "Group", &xray.GroupProps{GroupName: jsii.String("scale"), FilterExpression: jsii.String(`service("scale")`)})
	xray.NewSamplingRule(stack, "SamplingRule", &xray.SamplingRuleProps{RuleName: jsii.String("scale"), Priority: jsii.Number(9000)})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: vpc})
	image := awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/cruddur-backend:1.0.0"), nil)
	for i := 1; i <= n; i++ {
		task := awsecs.NewFargateTaskDefinition(stack, jsii.String(fmt.Sprintf("Task%d", i)), nil)
		app := task.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
			Image:        image,
			PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(4567)}},
		})
		tracing.NewSidecar(stack, fmt.Sprintf("Tracing%d", i), &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("scale")})
		awsecspatterns.NewApplicationLoadBalancedFargateService(stack, jsii.String(fmt.Sprintf("Service%d", i)), &awsecspatterns.ApplicationLoadBalancedFargateServiceProps{
			Cluster: cluster, TaskDefinition: task,
		})
	}
	app.Synth(nil)
}
