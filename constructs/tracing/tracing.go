// Package tracing adds a tracing sidecar to any ECS task definition, Fargate
// or EC2, and wires the app container to it, as aws-cdk's ecs-service-extensions
// XRayExtension does, with a pinned image, least-privilege IAM, and nothing a
// sidecar fault could use to take the app down.
//
// The sidecar is a choice of Collector: XRayDaemon (the default),
// ADOTCollector or CloudWatchAgent.
package tracing

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// XRayPort is where a collector takes X-Ray segments (UDP) and proxies the
// SDKs' sampling-rule calls (TCP), on the task's loopback: containers of an
// awsvpc task share one network namespace of their own, so nothing outside
// the task can reach it (NewSidecar refuses other network modes).
const XRayPort = 2000

// defaultSidecarMiB is the sidecar's memory by default, reserved and its
// hard limit, whichever collector it runs (Sidecar.MemoryLimitMiB gives the
// actual, for an app container that shares the task's memory).
const defaultSidecarMiB = 256

// The sidecar's CPU units by default, the least memory a collector runs
// in, and its restart window.
const (
	sidecarCPU     = 32
	minSidecarMiB  = 64
	maxSidecarCPU  = 10240
	restartSeconds = 60
)

// SidecarProps configure a Sidecar.
type SidecarProps struct {
	// TaskDefinition gets the sidecar container. Required.
	TaskDefinition awsecs.TaskDefinition
	// AppContainer is told where the collector is and what its traces are
	// called, and starts after the sidecar. Required.
	AppContainer awsecs.ContainerDefinition
	// ServiceName is the name the app's traces carry (AWS_XRAY_TRACING_NAME,
	// OTEL_SERVICE_NAME). Required.
	ServiceName *string
	// Collector is the sidecar to run.
	// Default: XRayDaemon(nil).
	Collector Collector
	// LogGroup receives the sidecar's logs.
	// Default: a new log group, kept one month.
	LogGroup awslogs.ILogGroup
	// Cpu is the sidecar's CPU units (1024 to a vCPU), 0..10240.
	// Default: 32.
	Cpu *float64
	// MemoryLimitMiB is the sidecar's memory, reserved and its hard limit,
	// a whole number of MiB, 64 or more; the collector's buffers follow it.
	// Default: 256.
	MemoryLimitMiB *float64
}

// Sidecar is a tracing collector running beside an app container.
type Sidecar struct {
	constructs.Construct
	memoryMiB int
	name      string
	container awsecs.ContainerDefinition
	logGroup  awslogs.ILogGroup
	policy    awsiam.Policy
}

// MemoryLimitMiB is the sidecar's memory, reserved and its hard limit: what an
// app container sharing the task's memory must leave for it.
func (s *Sidecar) MemoryLimitMiB() int { return s.memoryMiB }

// NewSidecar adds the collector's container to the task definition, grants
// the task role what the collector calls, and points the app container at
// it. It panics on missing props, on a task definition whose network mode is
// not awsvpc, or when the app container maps a port the collector listens
// on.
func NewSidecar(scope constructs.Construct, id string, props *SidecarProps) *Sidecar {
	if props == nil || props.TaskDefinition == nil || props.AppContainer == nil || props.ServiceName == nil {
		panic(fmt.Errorf("tracing.NewSidecar %s: TaskDefinition, AppContainer and ServiceName are required", id))
	}
	collector := props.Collector
	if collector == nil {
		collector = XRayDaemon(nil)
	}
	spec := collector.spec()
	cpu, memory := sidecarSize(id, props, spec)
	s := &Sidecar{name: spec.name, logGroup: props.LogGroup, memoryMiB: int(memory)}
	constructs.NewConstruct_Override(s, scope, &id)
	if s.logGroup == nil {
		s.logGroup = awslogs.NewLogGroup(s, jsii.String("Logs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_MONTH})
	}
	region := *awscdk.Stack_Of(s).Region()

	ports := make([]*awsecs.PortMapping, len(spec.ports))
	for i, p := range spec.ports {
		ports[i] = &awsecs.PortMapping{Name: jsii.String(p.name), ContainerPort: jsii.Number(p.port), Protocol: p.protocol}
	}
	opts := &awsecs.ContainerDefinitionOptions{
		Image:        spec.image,
		EntryPoint:   spec.entryPoint,
		Command:      jsii.Strings(spec.command(region, s.memoryMiB)...),
		Environment:  spec.environment(region, s.memoryMiB),
		PortMappings: &ports,
		HealthCheck:  spec.healthCheck,
		Cpu:          jsii.Number(cpu),
		// A hard limit as well as the reservation (Control Tower's
		// CT.ECS.PR.7): a leaking sidecar is restarted, not left to starve
		// the app.
		MemoryReservationMiB: jsii.Number(s.memoryMiB),
		MemoryLimitMiB:       jsii.Number(s.memoryMiB),
		// Not essential, and restarted in place: while it restarts, traces
		// of those seconds are lost and requests are not.
		Essential:              jsii.Bool(false),
		EnableRestartPolicy:    jsii.Bool(true),
		RestartAttemptPeriod:   awscdk.Duration_Seconds(jsii.Number(restartSeconds)),
		User:                   jsii.String(spec.user),
		ReadonlyRootFilesystem: jsii.Bool(true),
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     s.logGroup,
			StreamPrefix: jsii.String(spec.containerName),
		}),
	}
	if spec.noCapabilities {
		linux := awsecs.NewLinuxParameters(s, jsii.String("LinuxParameters"), nil)
		linux.DropCapabilities(awsecs.Capability_ALL)
		opts.LinuxParameters = linux
	}
	s.container = props.TaskDefinition.AddContainer(jsii.String(spec.containerName), opts)
	for i, path := range spec.writable {
		volume := spec.containerName + "-" + strconv.Itoa(i)
		props.TaskDefinition.AddVolume(&awsecs.Volume{Name: &volume})
		s.container.AddMountPoints(&awsecs.MountPoint{SourceVolume: &volume, ContainerPath: jsii.String(path), ReadOnly: jsii.Bool(false)})
	}

	s.grant(props.TaskDefinition.TaskRole(), spec.statements)

	s.wireApp(props.AppContainer, spec.appEnvironment(*props.ServiceName))
	return s
}

// grant gives role what the collector calls, and statements (the caller's,
// for its own collector configuration).
func (s *Sidecar) grant(role awsiam.IRole, statements []awsiam.PolicyStatement) {
	// The task role's grant, as a policy of its own that callers can see
	// and depend on. Inline, so it does not grow when AWS changes the
	// managed policy (AWSXRayDaemonWriteAccess) it mirrors.
	s.policy = awsiam.NewPolicy(s, jsii.String("Policy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings(
				"xray:PutTraceSegments",
				"xray:PutTelemetryRecords",
				"xray:GetSamplingRules",
				"xray:GetSamplingTargets",
				"xray:GetSamplingStatisticSummaries",
			),
			// X-Ray has no resource-level permissions for these actions.
			Resources: jsii.Strings("*"),
		})},
	})
	// cdk-nag's suppression, as the metadata cdk-nag reads (what its
	// NagSuppressions writes), so this package needs no cdk-nag.
	s.policy.Node().DefaultChild().(awscdk.CfnResource).AddMetadata(jsii.String("cdk_nag"), map[string]any{
		"rules_to_suppress": []any{map[string]any{
			"id":         "AwsSolutions-IAM5",
			"applies_to": []any{"Resource::*"},
			"reason":     "The X-Ray actions PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets and GetSamplingStatisticSummaries support no resource-level permissions: \"*\" is the only resource they take.",
		}},
	})

	// The caller's statements, for what its own collector configuration
	// adds, in a policy of their own: cdk-nag judges them, not under the
	// X-Ray actions' suppression.
	if len(statements) > 0 {
		awsiam.NewPolicy(s, jsii.String("ConfigPolicy"), &awsiam.PolicyProps{
			Roles: &[]awsiam.IRole{role}, Statements: &statements,
		})
	}
}

// wireApp points the app container at the collector with appEnv.
func (s *Sidecar) wireApp(app awsecs.ContainerDefinition, appEnv map[string]string) {
	// The app's side: where to send, what to call its traces, and to start
	// only once the sidecar has, since segments sent earlier are lost.
	names := make([]string, 0, len(appEnv))
	for k := range appEnv {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		app.AddEnvironment(jsii.String(k), jsii.String(appEnv[k]))
	}
	app.AddContainerDependencies(&awsecs.ContainerDependency{
		Container: s.container,
		Condition: awsecs.ContainerDependencyCondition_START,
	})
}

// sidecarSize checks the props NewSidecar refuses (CPU and memory, the
// task's network mode, the app's ports) and returns the sidecar's CPU units
// and memory.
func sidecarSize(id string, props *SidecarProps, spec *collectorSpec) (cpu, memory float64) {
	cpu, memory = float64(sidecarCPU), float64(defaultSidecarMiB)
	if props.Cpu != nil {
		cpu = *props.Cpu
	}
	if props.MemoryLimitMiB != nil {
		memory = *props.MemoryLimitMiB
	}
	if cpu != float64(int(cpu)) || cpu < 0 || cpu > maxSidecarCPU {
		panic(fmt.Errorf("tracing.NewSidecar %s: Cpu: %g is not a number of CPU units; expected a whole number in 0..%d", id, cpu, maxSidecarCPU))
	}
	if memory != float64(int(memory)) || memory < minSidecarMiB {
		panic(fmt.Errorf("tracing.NewSidecar %s: MemoryLimitMiB: %g is not a sidecar's memory; expected a whole number of MiB, %d or more (the %s's buffers are a share of it)", id, memory, minSidecarMiB, spec.name))
	}
	switch mode := props.TaskDefinition.NetworkMode(); mode {
	case awsecs.NetworkMode_AWS_VPC:
	case awsecs.NetworkMode_HOST:
		panic(fmt.Errorf("tracing.NewSidecar %s: TaskDefinition: network mode host binds the %s's port %d on the instance itself, where two such tasks clash and every process on the instance can send to it; expected awsvpc, where it is the task's own loopback", id, spec.name, XRayPort))
	default:
		panic(fmt.Errorf("tracing.NewSidecar %s: TaskDefinition: network mode %s gives each container a network of its own; expected awsvpc, where the app reaches the %s on the task's loopback", id, strings.ToLower(string(mode)), spec.name))
	}
	if props.AppContainer.PortMappings() != nil {
		for _, m := range *props.AppContainer.PortMappings() {
			if err := spec.checkAppPort(*m.ContainerPort); err != nil {
				panic(fmt.Errorf("tracing.NewSidecar %s: AppContainer: %w", id, err))
			}
		}
	}
	return cpu, memory
}

// Container is the sidecar's container definition.
func (s *Sidecar) Container() awsecs.ContainerDefinition { return s.container }

// LogGroup holds the sidecar's logs.
func (s *Sidecar) LogGroup() awslogs.ILogGroup { return s.logGroup }

// Policy is what the task role was granted for the collector.
func (s *Sidecar) Policy() awsiam.Policy { return s.policy }

// CollectorName says which collector runs, such as "X-Ray daemon".
func (s *Sidecar) CollectorName() string { return s.name }

// CheckAppPort refuses an app port the collector listens on, in the task's
// one network namespace; NewSidecar checks the app container's every mapped
// port with it, and an app can check its configuration before.
func CheckAppPort(collector Collector, appPort float64) error {
	return collector.spec().checkAppPort(appPort)
}

// checkAppPort is CheckAppPort for the collector of spec.
func (spec *collectorSpec) checkAppPort(appPort float64) error {
	for _, p := range spec.ports {
		if appPort == float64(p.port) {
			return fmt.Errorf("port %d is the %s's; expected the app on another port", p.port, spec.name)
		}
	}
	return nil
}

// Collector is a choice of tracing sidecar: make one with XRayDaemon,
// ADOTCollector or CloudWatchAgent.
type Collector interface {
	spec() *collectorSpec
}

// collectorSpec is what sets one collector apart from another.
type collectorSpec struct {
	name, containerName, user string
	image                     awsecs.ContainerImage
	entryPoint                *[]*string
	command                   func(region string, memoryMiB int) []string
	environment               func(region string, memoryMiB int) *map[string]*string
	ports                     []port
	healthCheck               *awsecs.HealthCheck
	// noCapabilities drops every Linux capability of the container (for one
	// that must run as uid 0).
	noCapabilities bool
	// writable paths get an empty task volume each.
	writable []string
	// statements are the caller's, granted beside the X-Ray actions.
	statements     []awsiam.PolicyStatement
	appEnvironment func(serviceName string) map[string]string
}

type port struct {
	name     string
	port     int
	protocol awsecs.Protocol
}

// xrayPorts are the X-Ray daemon's two listeners, which the ADOT collector
// also serves.
var xrayPorts = []port{{"xray-udp", XRayPort, awsecs.Protocol_UDP}, {"xray-tcp", XRayPort, awsecs.Protocol_TCP}}

func loopback(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }

// xrayAppEnvironment points the X-Ray SDK at the collector and names the
// app's segments; the SDK reads both only from the environment.
func xrayAppEnvironment(serviceName string) map[string]string {
	return map[string]string{
		"AWS_XRAY_DAEMON_ADDRESS": loopback(XRayPort),
		"AWS_XRAY_TRACING_NAME":   serviceName,
	}
}

func noEnvironment(string, int) *map[string]*string { return nil }
