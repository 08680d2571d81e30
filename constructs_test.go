package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/service"
	"github.com/cruddur/tracing/constructs/tracedtask"
	"github.com/cruddur/tracing/constructs/xray"
	"github.com/cruddur/tracing/internal/stackvalues"
)

// The constructs used on their own, as their go doc examples use them,
// outside the Cruddur stack: each in a stack of one app, synthesized once
// (these checks live here, not in the constructs' packages, so that
// `go test ./...` runs jsii in one test binary, not four).
var constructStacks struct {
	once                    sync.Once
	err                     error
	outdir                  string
	group                   *xray.Group
	groupStack, ruleStack   awscdk.Stack
	rule                    *xray.SamplingRule
	seedRule                *xray.SamplingRule
	task                    *tracedtask.TracedTask
	taskStack, serviceStack awscdk.Stack
	svc                     *service.TracedService
	seedProps               *xray.SamplingRuleProps
}

// imageRef is an image a user of the constructs would run.
const imageRef = "public.ecr.aws/example/orders:1.4.2"

func buildConstructs(t *testing.T) {
	t.Helper()
	c := &constructStacks
	c.once.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				c.err = fmt.Errorf("panic: %v", r)
			}
		}()
		if c.outdir, c.err = os.MkdirTemp(synth.dir, "constructs-"); c.err != nil {
			return
		}
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: &c.outdir})

		c.groupStack = awscdk.NewStack(app, jsii.String("Tracing"), nil)
		c.group = xray.NewGroup(c.groupStack, "Group", &xray.GroupProps{
			GroupName:       jsii.String("orders"),
			ServiceName:     jsii.String("orders"),
			InsightsEnabled: jsii.Bool(true),
		})
		c.ruleStack = awscdk.NewStack(app, jsii.String("Rules"), nil)
		c.rule = xray.NewSamplingRule(c.ruleStack, "Writes", &xray.SamplingRuleProps{
			RuleName:      jsii.String("cruddur-writes"),
			Priority:      jsii.Number(100),
			ReservoirSize: jsii.Number(10),
			FixedRate:     jsii.Number(0.25),
			HTTPMethod:    jsii.String("POST"),
			URLPath:       jsii.String("/api/activities*"),
		})
		if c.seedProps, c.err = xray.LoadSamplingRuleFile(filepath.Join("aws", "json", "xray.json")); c.err != nil {
			return
		}
		c.seedRule = xray.NewSamplingRule(c.ruleStack, "SamplingRule", c.seedProps)

		c.taskStack = awscdk.NewStack(app, jsii.String("Orders"), &awscdk.StackProps{
			Env: &awscdk.Environment{Region: jsii.String("eu-west-1")},
		})
		c.task = tracedtask.NewTracedTask(c.taskStack, "Task", &tracedtask.TracedTaskProps{
			AppImage:       awsecs.ContainerImage_FromRegistry(jsii.String(imageRef), nil),
			AppPort:        jsii.Number(8080),
			ServiceName:    jsii.String("orders"),
			Cpu:            jsii.Number(512),
			MemoryLimitMiB: jsii.Number(1024),
		})

		c.serviceStack = awscdk.NewStack(app, jsii.String("OrdersService"), &awscdk.StackProps{
			Env: &awscdk.Environment{Account: jsii.String("111122223333"), Region: jsii.String("eu-west-1")},
		})
		c.svc = service.NewTracedService(c.serviceStack, "Service", &service.TracedServiceProps{
			Task: tracedtask.NewTracedTask(c.serviceStack, "Task", &tracedtask.TracedTaskProps{
				AppImage: awsecs.ContainerImage_FromRegistry(jsii.String(imageRef), nil),
			}),
			Vpc:          awsec2.NewVpc(c.serviceStack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)}),
			DesiredCount: jsii.Number(3),
		})
		app.Synth(nil)
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
}

// properties is the Properties of every resource of one type in a stack's
// synthesized template, as JSON, in logical id order.
func properties(t *testing.T, stack awscdk.Stack, resourceType string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(constructStacks.outdir, *stack.ArtifactId()+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var template struct {
		Resources map[string]struct {
			Type       string
			Properties json.RawMessage
		}
	}
	if err := json.Unmarshal(data, &template); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id, r := range template.Resources {
		if r.Type == resourceType {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []string
	for _, id := range ids {
		var compact bytes.Buffer
		if err := json.Compact(&compact, template.Resources[id].Properties); err != nil {
			t.Fatal(err)
		}
		out = append(out, compact.String())
	}
	return out
}

func equalStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestGroupConstruct(t *testing.T) {
	buildConstructs(t)
	c := &constructStacks
	if got := *c.group.FilterExpression(); got != `service("orders")` {
		t.Errorf("FilterExpression() = %s", got)
	}
	equalStrings(t, "the group", properties(t, c.groupStack, "AWS::XRay::Group"),
		`{"FilterExpression":"service(\"orders\")","GroupName":"orders","InsightsConfiguration":{"InsightsEnabled":true,"NotificationsEnabled":false}}`)
}

func TestSamplingRuleConstruct(t *testing.T) {
	buildConstructs(t)
	c := &constructStacks
	// The seed's rule file, then a rule whose left-out fields take
	// X-Ray's wildcards and the default service name.
	equalStrings(t, "the rules", properties(t, c.ruleStack, "AWS::XRay::SamplingRule"),
		`{"SamplingRule":{"FixedRate":0.1,"HTTPMethod":"*","Host":"*","Priority":9000,"ReservoirSize":5,"ResourceARN":"*","RuleName":"Cruddur","ServiceName":"Cruddur","ServiceType":"*","URLPath":"*","Version":1}}`,
		`{"SamplingRule":{"FixedRate":0.25,"HTTPMethod":"POST","Host":"*","Priority":100,"ReservoirSize":10,"ResourceARN":"*","RuleName":"cruddur-writes","ServiceName":"Cruddur","ServiceType":"*","URLPath":"/api/activities*","Version":1}}`)
	if got := fmt.Sprintf("%s %v %v %v", *c.seedRule.RuleName(), *c.seedProps.Priority, *c.seedProps.FixedRate, *c.seedProps.ReservoirSize); got != "Cruddur 9000 0.1 5" {
		t.Errorf("the seed's rule: %s", got)
	}
}

// panics is the message a function panics with, or "" if it does not.
func panics(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

func TestConstructsRefuseBadProps(t *testing.T) {
	newStack := func() awscdk.Stack { return awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Orders"), nil) }
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"rate above 1", func() {
			xray.NewSamplingRule(newStack(), "Rule", &xray.SamplingRuleProps{FixedRate: jsii.Number(1.5)})
		}, "xray.NewSamplingRule Rule: FixedRate: 1.5 is outside 0..1"},
		{"a task size Fargate has not", func() {
			tracedtask.NewTracedTask(newStack(), "Task", &tracedtask.TracedTaskProps{
				AppImage:       awsecs.ContainerImage_FromRegistry(jsii.String(imageRef), nil),
				Cpu:            jsii.Number(256),
				MemoryLimitMiB: jsii.Number(4096),
			})
		}, "tracedtask.NewTracedTask Task: Cpu/MemoryLimitMiB: 4096 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024, 2048"},
	}
	// The app's environment may not shadow a variable the construct sets.
	for _, name := range []string{"AWS_XRAY_DAEMON_ADDRESS", "PORT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		cases = append(cases, struct {
			name string
			f    func()
			want string
		}{"AppEnvironment " + name, func() {
			tracedtask.NewTracedTask(newStack(), "Task", &tracedtask.TracedTaskProps{
				AppImage:       awsecs.ContainerImage_FromRegistry(jsii.String(imageRef), nil),
				Collector:      tracedtask.CollectorADOT,
				AppEnvironment: map[string]string{name: "x"},
			})
		}, "tracedtask.NewTracedTask Task: AppEnvironment: " + name + " is set by the construct; expected other variables"})
	}
	for _, tc := range cases {
		if got := panics(tc.f); got != tc.want {
			t.Errorf("%s: panicked with %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTracedTaskConstruct(t *testing.T) {
	buildConstructs(t)
	c := &constructStacks
	if c.task.AppPort() != 8080 {
		t.Errorf("AppPort() = %d", c.task.AppPort())
	}
	var got []string
	for _, def := range properties(t, c.taskStack, "AWS::ECS::TaskDefinition") {
		var props struct {
			ContainerDefinitions []struct {
				Name        string
				Command     []string
				Environment json.RawMessage
			}
		}
		if err := json.Unmarshal([]byte(def), &props); err != nil {
			t.Fatal(err)
		}
		for _, c := range props.ContainerDefinitions {
			got = append(got, fmt.Sprint(c.Name, c.Command, " ", string(c.Environment)))
		}
	}
	// In a stack of a known region the daemon is told it, not AWS::Region.
	equalStrings(t, "containers", got,
		`xray-daemon[-b 127.0.0.1:2000 -t 127.0.0.1:2000 -o -n eu-west-1 -m 64 -l info] `,
		`app[] [{"Name":"AWS_XRAY_DAEMON_ADDRESS","Value":"127.0.0.1:2000"},{"Name":"AWS_XRAY_TRACING_NAME","Value":"orders"},{"Name":"PORT","Value":"8080"}]`)
}

func TestTracedServiceConstruct(t *testing.T) {
	buildConstructs(t)
	c := &constructStacks
	if c.svc.URL() == nil {
		t.Error("no URL with the default load balancer")
	}
	var got []string
	for _, kind := range []string{"AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup"} {
		got = append(got, fmt.Sprint(kind, " ", len(properties(t, c.serviceStack, kind))))
	}
	equalStrings(t, "resources", got,
		"AWS::ECS::Cluster 1", "AWS::ECS::Service 1", "AWS::ElasticLoadBalancingV2::LoadBalancer 1", "AWS::ElasticLoadBalancingV2::TargetGroup 1")
	if svc := properties(t, c.serviceStack, "AWS::ECS::Service"); len(svc) != 1 || !strings.Contains(svc[0], `"DesiredCount":3`) {
		t.Errorf("the service does not run three tasks: %s", svc)
	}
}

// TestStackValuesAreMadeOncePerStack checks what the constructs rely on to
// save jsii round trips: a Duration is made once for a stack and shared,
// and another stack gets its own.
func TestStackValuesAreMadeOncePerStack(t *testing.T) {
	app := awscdk.NewApp(nil)
	a := awscdk.NewStack(app, jsii.String("A"), nil)
	b := awscdk.NewStack(app, jsii.String("B"), nil)
	first := stackvalues.Seconds(a, 30)
	if *first.ToSeconds(nil) != 30 || *stackvalues.Days(a, 2).ToDays(nil) != 2 {
		t.Fatalf("wrong durations: %v s, %v days", *first.ToSeconds(nil), *stackvalues.Days(a, 2).ToDays(nil))
	}
	if stackvalues.Seconds(a, 30) != first {
		t.Error("a second Seconds(30) for the stack made a new Duration")
	}
	if stackvalues.Seconds(b, 30) == first || stackvalues.Seconds(a, 31) == first {
		t.Error("another stack, or another value, got the same Duration")
	}
}
