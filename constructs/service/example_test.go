package service_test

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/service"
	"github.com/cruddur/tracing/constructs/tracedtask"
)

// The examples are compiled, not run: "It prints" is not an Output comment.
// The app's tests run the same code and check its templates
// (constructs_test.go at the repository root), so that `go test ./...`
// starts jsii in one test binary instead of one per package.

func ExampleNewTracedService() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Orders"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111122223333"), Region: jsii.String("eu-west-1")},
	})
	task := tracedtask.NewTracedTask(stack, "Task", &tracedtask.TracedTaskProps{
		AppImage: awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/orders:1.4.2"), nil),
	})
	svc := service.NewTracedService(stack, "Service", &service.TracedServiceProps{
		Task:         task,
		Vpc:          awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)}),
		DesiredCount: jsii.Number(3),
	})
	fmt.Println(svc.URL() != nil)

	template := assertions.Template_FromStack(stack, nil)
	for _, kind := range []string{"AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup"} {
		fmt.Println(kind, len(*template.FindResources(jsii.String(kind), nil)))
	}
	// It prints:
	// true
	// AWS::ECS::Cluster 1
	// AWS::ECS::Service 1
	// AWS::ElasticLoadBalancingV2::LoadBalancer 1
	// AWS::ElasticLoadBalancingV2::TargetGroup 1
}
