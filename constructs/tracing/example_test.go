package tracing_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracing"
)

// TestMain stops jsii's Node process once, after every test. The tests
// check construct output, not aws-cdk-lib's template validator, which the
// app's own tests run.
func TestMain(m *testing.M) {
	os.Setenv("CDK_VALIDATION", "false")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// container is one container definition of a synthesized task definition.
type container struct {
	Name        string
	User        string
	Essential   bool
	EntryPoint  []string
	Command     []string
	Environment []struct{ Name, Value string }
	DependsOn   []struct{ ContainerName, Condition string }
}

// containers reads the containers of the stack's one task definition.
func containers(stack awscdk.Stack) []container {
	found := assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::ECS::TaskDefinition"), nil)
	var out []container
	for _, r := range *found {
		raw, _ := json.Marshal((*r)["Properties"].(map[string]any)["ContainerDefinitions"])
		json.Unmarshal(raw, &out)
	}
	return out
}

func (c container) env() string {
	parts := make([]string, len(c.Environment))
	for i, e := range c.Environment {
		parts[i] = e.Name + "=" + e.Value
	}
	return strings.Join(parts, " ")
}

// newTask is a Fargate task definition with an app container on port 8080,
// in a stack for eu-west-1.
func newTask() (awscdk.Stack, awsecs.FargateTaskDefinition, awsecs.ContainerDefinition) {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Orders"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
	task := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), nil)
	app := task.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
		Image:        awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/orders:1.4.2"), nil),
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(8080)}},
	})
	return stack, task, app
}

// The X-Ray daemon beside an app: the app is told where it is and what its
// traces are called, and starts after it; the task role may send traces.
func ExampleNewSidecar() {
	stack, task, app := newTask()

	sidecar := tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{
		TaskDefinition: task,
		AppContainer:   app,
		ServiceName:    jsii.String("orders"),
	})
	fmt.Println(sidecar.CollectorName(), *sidecar.Container().ContainerName())
	for _, c := range containers(stack) {
		fmt.Printf("%s: user %q, essential %v, depends on %v\n  %v %v\n  env %q\n", c.Name, c.User, c.Essential, c.DependsOn, c.EntryPoint, c.Command, c.env())
	}
	statements := sidecar.Policy().Document().ToJSON()
	out, _ := json.Marshal(statements)
	fmt.Println(string(out))
	// Output:
	// X-Ray daemon xray-daemon
	// app: user "", essential true, depends on [{xray-daemon START}]
	//   [] []
	//   env "AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000 AWS_XRAY_TRACING_NAME=orders"
	// xray-daemon: user "10001", essential false, depends on []
	//   [/xray] [-b 127.0.0.1:2000 -t 127.0.0.1:2000 -o -n eu-west-1 -m 64 -l info]
	//   env ""
	// {"Statement":[{"Action":["xray:PutTraceSegments","xray:PutTelemetryRecords","xray:GetSamplingRules","xray:GetSamplingTargets","xray:GetSamplingStatisticSummaries"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}
}

// The ADOT collector in the daemon's place: the app gets OpenTelemetry's
// standard variables too, sampling at the given rate.
func ExampleADOTCollector() {
	stack, task, app := newTask()

	tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{
		TaskDefinition: task,
		AppContainer:   app,
		ServiceName:    jsii.String("orders"),
		Collector:      tracing.ADOTCollector(&tracing.ADOTCollectorOptions{SampleRate: jsii.Number(0.25)}),
	})
	for _, c := range containers(stack) {
		fmt.Printf("%s: user %q, command %v\n", c.Name, c.User, c.Command)
		for _, e := range c.Environment {
			if e.Name == "AOT_CONFIG_CONTENT" {
				var config struct{ Service any }
				json.Unmarshal([]byte(e.Value), &config)
				e.Value = fmt.Sprint(config.Service)
			}
			fmt.Printf("  %s=%s\n", e.Name, e.Value)
		}
	}
	// Output:
	// app: user "", command []
	//   AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000
	//   AWS_XRAY_TRACING_NAME=orders
	//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
	//   OTEL_SERVICE_NAME=orders
	//   OTEL_TRACES_SAMPLER=parentbased_traceidratio
	//   OTEL_TRACES_SAMPLER_ARG=0.25
	// otel-collector: user "10001", command [--config=env:AOT_CONFIG_CONTENT]
	//   AOT_CONFIG_CONTENT=map[extensions:[health_check] pipelines:map[traces:map[exporters:[awsxray] processors:[memory_limiter batch] receivers:[awsxray otlp]]]]
}

// Any task definition in awsvpc mode, whose containers share a loopback of
// the task's own: an EC2 task in awsvpc mode works; bridge (a network per
// container) and host (the instance's network, where the collector's port
// would be the instance's) are refused, each saying why.
func TestSidecarOnEC2TaskDefinitions(t *testing.T) {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Ec2"), nil)
	for _, mode := range []awsecs.NetworkMode{awsecs.NetworkMode_AWS_VPC, awsecs.NetworkMode_BRIDGE, awsecs.NetworkMode_HOST} {
		task := awsecs.NewEc2TaskDefinition(stack, jsii.String("Task"+string(mode)), &awsecs.Ec2TaskDefinitionProps{NetworkMode: mode})
		app := task.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
			Image:          awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/orders:1.4.2"), nil),
			MemoryLimitMiB: jsii.Number(256),
		})
		err := panicked(func() {
			tracing.NewSidecar(stack, "Tracing"+string(mode), &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders")})
		})
		want := map[awsecs.NetworkMode]string{
			awsecs.NetworkMode_BRIDGE: "tracing.NewSidecar TracingBRIDGE: TaskDefinition: network mode bridge gives each container a network of its own; expected awsvpc, where the app reaches the X-Ray daemon on the task's loopback",
			awsecs.NetworkMode_HOST:   "tracing.NewSidecar TracingHOST: TaskDefinition: network mode host binds the X-Ray daemon's port 2000 on the instance itself, where two such tasks clash and every process on the instance can send to it; expected awsvpc, where it is the task's own loopback",
		}[mode]
		if err != want {
			t.Errorf("%s: panic %q, want %q", mode, err, want)
		}
	}
}

// The app may not take a port the collector listens on, in either mode.
func TestSidecarRefusesTheCollectorsPorts(t *testing.T) {
	cases := []struct {
		port      float64
		collector tracing.Collector
		want      string
	}{
		{2000, nil, "tracing.NewSidecar Tracing: AppContainer: port 2000 is the X-Ray daemon's; expected the app on another port"},
		{4318, tracing.ADOTCollector(nil), "tracing.NewSidecar Tracing: AppContainer: port 4318 is the ADOT collector's; expected the app on another port"},
		{4318, tracing.XRayDaemon(nil), ""},
	}
	for _, tc := range cases {
		stack, task, _ := newTask()
		app := task.AddContainer(jsii.String("other"), &awsecs.ContainerDefinitionOptions{
			Image:        awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/orders:1.4.2"), nil),
			PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(tc.port)}},
		})
		got := panicked(func() {
			tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders"), Collector: tc.collector})
		})
		if got != tc.want {
			t.Errorf("port %v: panic %q, want %q", tc.port, got, tc.want)
		}
	}
}

func panicked(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// The CloudWatch agent in the daemon's place, hardened like the others:
// not root, a read-only root filesystem, and an empty task volume for each
// path it writes; its configuration is in the environment.
func ExampleCloudWatchAgent() {
	stack, task, app := newTask()

	sidecar := tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{
		TaskDefinition: task,
		AppContainer:   app,
		ServiceName:    jsii.String("orders"),
		Collector:      tracing.CloudWatchAgent(nil),
	})
	fmt.Println(sidecar.CollectorName())
	found := assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::ECS::TaskDefinition"), nil)
	for _, r := range *found {
		props := (*r)["Properties"].(map[string]any)
		for _, c := range props["ContainerDefinitions"].([]any) {
			c := c.(map[string]any)
			if c["Name"] != "cloudwatch-agent" {
				continue
			}
			fmt.Println("user", c["User"], "read-only root", c["ReadonlyRootFilesystem"], "essential", c["Essential"])
			fmt.Println("capabilities dropped", c["LinuxParameters"].(map[string]any)["Capabilities"].(map[string]any)["Drop"])
			for _, m := range c["MountPoints"].([]any) {
				m := m.(map[string]any)
				fmt.Println("writable", m["ContainerPath"], "from", m["SourceVolume"])
			}
			for _, e := range c["Environment"].([]any) {
				e := e.(map[string]any)
				fmt.Println(e["Name"], e["Value"])
			}
		}
		fmt.Println("volumes", len(props["Volumes"].([]any)))
	}
	// Output:
	// CloudWatch agent
	// user 0 read-only root true essential false
	// capabilities dropped [ALL]
	// writable /opt/aws/amazon-cloudwatch-agent/etc from cloudwatch-agent-0
	// writable /opt/aws/amazon-cloudwatch-agent/logs from cloudwatch-agent-1
	// writable /opt/aws/amazon-cloudwatch-agent/var from cloudwatch-agent-2
	// writable /tmp from cloudwatch-agent-3
	// CW_CONFIG_CONTENT {"traces":{"traces_collected":{"xray":{"bind_address":"127.0.0.1:2000","tcp_proxy":{"bind_address":"127.0.0.1:2000"}},"otlp":{"grpc_endpoint":"127.0.0.1:4317","http_endpoint":"127.0.0.1:4318"}},"local_mode":true,"region_override":"eu-west-1"}}
	// GOMEMLIMIT 204MiB
	// volumes 4
}

// TestTheSidecarsSizeAndConfigurationAreTunable: CPU and memory from the
// props (the collector's buffers follow the memory, and MemoryLimitMiB reads
// it back), a collector configuration of the caller's own used as given, and
// sizes the construct refuses, each naming its prop.
func TestTheSidecarsSizeAndConfigurationAreTunable(t *testing.T) {
	type sized struct {
		Name              string
		Cpu               float64
		Memory            float64
		MemoryReservation float64
		Command           []string
		Environment       []struct{ Name, Value string }
	}
	read := func(stack awscdk.Stack, name string) sized {
		found := assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::ECS::TaskDefinition"), nil)
		for _, r := range *found {
			var list []sized
			raw, _ := json.Marshal((*r)["Properties"].(map[string]any)["ContainerDefinitions"])
			json.Unmarshal(raw, &list)
			for _, c := range list {
				if c.Name == name {
					return c
				}
			}
		}
		t.Fatalf("no container %s", name)
		return sized{}
	}
	stack, task, app := newTask()
	sidecar := tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders"),
		Cpu: jsii.Number(64), MemoryLimitMiB: jsii.Number(512)})
	daemon := read(stack, "xray-daemon")
	if daemon.Cpu != 64 || daemon.Memory != 512 || daemon.MemoryReservation != 512 || !strings.Contains(strings.Join(daemon.Command, " "), "-m 128") || sidecar.MemoryLimitMiB() != 512 {
		t.Errorf("daemon %+v, MemoryLimitMiB() %d; want 64 units, 512 MiB, a 128 MiB buffer", daemon, sidecar.MemoryLimitMiB())
	}

	stack, task, app = newTask()
	tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders"),
		MemoryLimitMiB: jsii.Number(1024), Collector: tracing.ADOTCollector(nil)})
	if env := read(stack, "otel-collector").Environment; len(env) != 1 || !strings.Contains(env[0].Value, `"limit_mib":819`) {
		t.Errorf("ADOT at 1024 MiB: %v; want memory_limiter at 80%%, 819 MiB", env)
	}
	own := `{"receivers": {"otlp": {}}}`
	for _, c := range []struct {
		collector tracing.Collector
		container string
	}{
		{tracing.ADOTCollector(&tracing.ADOTCollectorOptions{Config: &own}), "otel-collector"},
		{tracing.CloudWatchAgent(&tracing.CloudWatchAgentOptions{Config: &own}), "cloudwatch-agent"},
	} {
		stack, task, app = newTask()
		tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders"), Collector: c.collector})
		if env := read(stack, c.container).Environment; len(env) < 1 || env[0].Value != own {
			t.Errorf("%s with a configuration of its own: %v", c.container, env)
		}
	}
	// The CloudWatch agent's only bound but its hard limit: the Go
	// runtime's soft limit, 80% of its memory.
	stack, task, app = newTask()
	tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders"),
		MemoryLimitMiB: jsii.Number(1024), Collector: tracing.CloudWatchAgent(nil)})
	if env := read(stack, "cloudwatch-agent").Environment; len(env) != 2 || env[1].Name != "GOMEMLIMIT" || env[1].Value != "819MiB" || strings.Contains(env[0].Value, "buffer_size_mb") {
		t.Errorf("the CloudWatch agent at 1024 MiB: %v; want GOMEMLIMIT=819MiB and no buffer_size_mb, which its translator ignores", env)
	}

	for _, tc := range []struct {
		props func(*tracing.SidecarProps)
		want  string
	}{
		{func(p *tracing.SidecarProps) { p.MemoryLimitMiB = jsii.Number(32) }, "tracing.NewSidecar Tracing: MemoryLimitMiB: 32 is not a sidecar's memory; expected a whole number of MiB, 64 or more (the X-Ray daemon's buffers are a share of it)"},
		{func(p *tracing.SidecarProps) { p.Cpu = jsii.Number(1.5) }, "tracing.NewSidecar Tracing: Cpu: 1.5 is not a number of CPU units; expected a whole number in 0..10240"},
	} {
		stack, task, app = newTask()
		p := &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders")}
		tc.props(p)
		if got := panicked(func() { tracing.NewSidecar(stack, "Tracing", p) }); got != tc.want {
			t.Errorf("panic %q, want %q", got, tc.want)
		}
	}
}

// TestACustomConfigsStatementsAreGranted: the statements a collector's
// options carry go to the task role in a policy of their own, beside the
// X-Ray actions, and not under their cdk-nag suppression.
func TestACustomConfigsStatementsAreGranted(t *testing.T) {
	metrics := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("cloudwatch:PutMetricData"), Resources: jsii.Strings("*")})
	for _, collector := range []tracing.Collector{
		tracing.ADOTCollector(&tracing.ADOTCollectorOptions{Statements: []awsiam.PolicyStatement{metrics}}),
		tracing.CloudWatchAgent(&tracing.CloudWatchAgentOptions{Statements: []awsiam.PolicyStatement{metrics}}),
	} {
		stack, task, app := newTask()
		tracing.NewSidecar(stack, "Tracing", &tracing.SidecarProps{TaskDefinition: task, AppContainer: app, ServiceName: jsii.String("orders"), Collector: collector})
		policies := *assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::IAM::Policy"), nil)
		found := false
		for id, p := range policies {
			doc, _ := json.Marshal(p)
			if strings.Contains(string(doc), "cloudwatch:PutMetricData") {
				found = true
				if strings.Contains(string(doc), "xray:") || strings.Contains(string(doc), "cdk_nag") || !strings.Contains(id, "ConfigPolicy") {
					t.Errorf("policy %s: %s; want the caller's statements alone, unsuppressed", id, doc)
				}
			}
		}
		if !found {
			t.Errorf("no policy grants the caller's statement: %v", policies)
		}
	}
}
