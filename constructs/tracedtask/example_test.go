package tracedtask_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracedtask"
	"github.com/cruddur/tracing/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

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
	// Output:
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
	// Output:
	// tracedtask.NewTracedTask Task: Cpu/MemoryLimitMiB: 4096 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024, 2048
}

func TestAppEnvironmentMayNotShadowTheConstructsVariables(t *testing.T) {
	for _, name := range []string{"AWS_XRAY_DAEMON_ADDRESS", "PORT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		func() {
			defer func() {
				want := "tracedtask.NewTracedTask Task: AppEnvironment: " + name + " is set by the construct; expected other variables"
				if r := recover(); fmt.Sprint(r) != want {
					t.Errorf("AppEnvironment %s: got %v, want %q", name, r, want)
				}
			}()
			stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Orders"), nil)
			tracedtask.NewTracedTask(stack, "Task", &tracedtask.TracedTaskProps{
				AppImage:       awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/orders:1.4.2"), nil),
				Collector:      tracedtask.CollectorADOT,
				AppEnvironment: map[string]string{name: "x"},
			})
		}()
	}
}
