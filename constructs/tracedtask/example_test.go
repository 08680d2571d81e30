package tracedtask_test

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracedtask"
)

// The examples are compiled, not run: "It prints" is not an Output comment.
// The app's tests run the same code and check its templates
// (constructs_test.go at the repository root), so that `go test ./...`
// starts jsii in one test binary instead of one per package.

func ExampleNewTracedTask() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Orders"), &awscdk.StackProps{
		Env: &awscdk.Environment{Region: jsii.String("eu-west-1")},
	})

	task := tracedtask.NewTracedTask(stack, "Task", &tracedtask.TracedTaskProps{
		AppImage:       awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/orders:1.4.2"), nil),
		AppPort:        jsii.Number(8080),
		ServiceName:    jsii.String("orders"),
		Cpu:            jsii.Number(512),
		MemoryLimitMiB: jsii.Number(1024),
	})
	fmt.Println("app port:", task.AppPort())

	defs := assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::ECS::TaskDefinition"), nil)
	for _, def := range *defs {
		containers := (*def)["Properties"].(map[string]any)["ContainerDefinitions"].([]any)
		for _, c := range containers {
			c := c.(map[string]any)
			env, _ := json.Marshal(c["Environment"])
			fmt.Println(c["Name"], c["Command"], string(env))
		}
	}
	// It prints:
	// app port: 8080
	// xray-daemon [-b 127.0.0.1:2000 -t 127.0.0.1:2000 -o -n eu-west-1 -m 64 -l info] null
	// app <nil> [{"Name":"AWS_XRAY_DAEMON_ADDRESS","Value":"127.0.0.1:2000"},{"Name":"AWS_XRAY_TRACING_NAME","Value":"orders"},{"Name":"PORT","Value":"8080"}]
}

func ExampleNewTracedTask_badSize() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Orders"), nil)
	defer func() { fmt.Println(recover()) }()

	tracedtask.NewTracedTask(stack, "Task", &tracedtask.TracedTaskProps{
		AppImage:       awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/orders:1.4.2"), nil),
		Cpu:            jsii.Number(256),
		MemoryLimitMiB: jsii.Number(4096),
	})
	// It prints:
	// tracedtask.NewTracedTask Task: Cpu/MemoryLimitMiB: 4096 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024, 2048
}
