// Package tracedtask defines a Fargate task definition in which every request
// the app serves can be traced: the app container plus the AWS X-Ray daemon as
// a sidecar, wired as AWS documents it, with a pinned image, least-privilege
// IAM, and nothing that a daemon fault could use to take the app down.
package tracedtask

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/internal/stackvalues"
)

// DefaultDaemonImage is the X-Ray daemon release the sidecar runs: 3.6.6
// (2026-07-14) from ECR Public. The image is FROM scratch (no shell, no curl)
// and runs as user xray, uid 10001.
const DefaultDaemonImage = "public.ecr.aws/xray/aws-xray-daemon:3.6.6"

// DaemonAddress is where the app finds the daemon. Containers of a Fargate
// task share one network namespace (awsvpc), so the daemon listens on the
// task's loopback and nothing outside the task can send it segments.
const DaemonAddress = "127.0.0.1:2000"

// DaemonPort is the daemon's port: UDP for segments, TCP for the sampling
// proxy that the SDKs' centralized sampling polls.
const DaemonPort = 2000

// daemonUser is the uid the daemon image's USER xray has; ECS takes a
// numeric user even where the image has no /etc/group entry for it.
const daemonUser = "10001"

// Defaults, documented on TracedTaskProps.
const (
	defaultAppPort            = 4567
	defaultAppUser            = "65532:65532"
	defaultCPU                = 256
	defaultMemoryMiB          = 512
	defaultDaemonCPU          = 32
	defaultDaemonMemoryMiB    = 256
	defaultHealthCheckCommand = "/cruddur-backend"
)

// TracedTaskProps configure a TracedTask.
type TracedTaskProps struct {
	// AppImage is the app's container image. Required.
	AppImage awsecs.ContainerImage
	// AppPort is the TCP port the app serves HTTP on, 1..65535 but not the
	// daemon's 2000.
	// Default: 4567.
	AppPort *float64
	// AppUser is the user the app runs as; never root.
	// Default: "65532:65532", the distroless image's nonroot user.
	AppUser *string
	// AppHealthCheck is the command ECS runs inside the app container to
	// check it. The backend's image has no shell or curl, so its binary
	// checks itself.
	// Default: ["CMD", "/cruddur-backend", "-healthcheck"].
	AppHealthCheck *[]*string
	// AppEnvironment adds variables to the app's environment. It may not set
	// the tracing variables, which the construct owns; never put secrets or
	// AWS keys here: the task role carries the permissions.
	// Default: none.
	AppEnvironment map[string]string
	// ServiceName is the name the app gives its segments
	// (AWS_XRAY_TRACING_NAME): the same name the X-Ray group filters on and
	// the sampling rule matches.
	// Default: "Cruddur".
	ServiceName *string
	// Cpu is the task's CPU units (1024 to a vCPU), MemoryLimitMiB its
	// memory; together they must be a Fargate task size.
	// Default: 256 CPU units and 512 MiB, the smallest size that holds both
	// containers.
	Cpu            *float64
	MemoryLimitMiB *float64
	// DaemonImage replaces the X-Ray daemon image; it must keep /xray as the
	// daemon's path, as the ECR Public and Docker Hub images do.
	// Default: DefaultDaemonImage, pinned.
	DaemonImage awsecs.ContainerImage
	// LogRetention is how long both containers' logs are kept.
	// Default: one month.
	LogRetention awslogs.RetentionDays
	// Collector chooses the tracing sidecar: the X-Ray daemon, or the ADOT
	// collector configured to stand in for it, which also takes OTLP and
	// switches the app to OpenTelemetry (CRUDDUR_TRACING=otel).
	// Default: CollectorXRayDaemon.
	Collector Collector
	// SampleRate is, with the ADOT collector, the share of requests the
	// app's OpenTelemetry SDK traces when no upstream decided
	// (OTEL_TRACES_SAMPLER=parentbased_traceidratio): X-Ray's centralized
	// rules apply to X-Ray SDKs only, so the stack passes its rule's
	// FixedRate here. 0..1.
	// Default: 0.1.
	SampleRate *float64
	// CollectorImage replaces the ADOT collector image; it must keep
	// /awscollector and /healthcheck, as the ECR Public image does.
	// Default: DefaultCollectorImage, pinned.
	CollectorImage awsecs.ContainerImage
}

// TracedTask is a Fargate task definition with the app container and the X-Ray
// daemon sidecar.
type TracedTask struct {
	constructs.Construct
	taskDefinition awsecs.FargateTaskDefinition
	app, daemon    awsecs.ContainerDefinition
	appLogs        awslogs.LogGroup
	daemonLogs     awslogs.LogGroup
	appPort        int
	stack          awscdk.Stack // the stack the task is in
}

// NewTracedTask defines the task. It panics on props that ECS or Fargate would
// refuse, naming the field, the value and what is expected.
func NewTracedTask(scope constructs.Construct, id string, props *TracedTaskProps) *TracedTask {
	if props == nil || props.AppImage == nil {
		panic(fmt.Errorf("tracedtask.NewTracedTask %s: AppImage is required", id))
	}
	p := *props
	cpu, memory := intOr(p.Cpu, defaultCPU), intOr(p.MemoryLimitMiB, defaultMemoryMiB)
	port := intOr(p.AppPort, defaultAppPort)
	if err := ValidateTaskSize(cpu, memory); err != nil {
		panic(fmt.Errorf("tracedtask.NewTracedTask %s: Cpu/MemoryLimitMiB: %w", id, err))
	}
	// Every Fargate size has at least 512 MiB, so the app always keeps
	// at least 256 MiB beside the daemon's 256.
	appMemory := memory - defaultDaemonMemoryMiB
	if port < 1 || port > 65535 || port == DaemonPort {
		panic(fmt.Errorf("tracedtask.NewTracedTask %s: AppPort: %d is not usable; expected 1..65535 other than the daemon's %d", id, port, DaemonPort))
	}
	serviceName := "Cruddur"
	if p.ServiceName != nil {
		serviceName = *p.ServiceName
	}
	retention := p.LogRetention
	if retention == "" {
		retention = awslogs.RetentionDays_ONE_MONTH
	}

	t := &TracedTask{appPort: port}
	constructs.NewConstruct_Override(t, scope, &id)
	t.stack = awscdk.Stack_Of(t)

	// The task role is what the containers' AWS calls run as: the seed's
	// static keys for the daemon become this role's inline policy.
	taskRole := awsiam.NewRole(t, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("Task role of the traced " + serviceName + " task: sends traces to X-Ray"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"XRayDaemonWrite": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{XRayWriteStatement()},
			}),
		},
	})

	t.taskDefinition = awsecs.NewFargateTaskDefinition(t, jsii.String("Resource"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(cpu),
		MemoryLimitMiB: jsii.Number(memory),
		TaskRole:       taskRole,
		// The backend's image is built for linux/amd64 (see backend/).
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       stackvalues.Constant(t.stack, "X86_64", awsecs.CpuArchitecture_X86_64),
			OperatingSystemFamily: stackvalues.Constant(t.stack, "LINUX", awsecs.OperatingSystemFamily_LINUX),
		},
	})

	// One log group for the tracing sidecar whichever it is, so that
	// switching the collector does not replace it.
	t.daemonLogs = logGroup(t, "DaemonLogs", retention)
	var sidecarEnv map[string]string
	switch p.Collector {
	case "", CollectorXRayDaemon:
		t.daemon = t.addXRayDaemon(p.DaemonImage)
	case CollectorADOT:
		rate := 0.1
		if p.SampleRate != nil {
			rate = *p.SampleRate
		}
		if rate < 0 || rate > 1 {
			panic(fmt.Errorf("tracedtask.NewTracedTask %s: SampleRate: %v is outside 0..1", id, rate))
		}
		t.daemon, sidecarEnv = t.addADOTCollector(p.CollectorImage, serviceName, rate)
	default:
		panic(fmt.Errorf("tracedtask.NewTracedTask %s: Collector: %q is not a collector; expected %q or %q", id, p.Collector, CollectorXRayDaemon, CollectorADOT))
	}

	t.appLogs = logGroup(t, "AppLogs", retention)
	// The construct owns the tracing variables, the sidecar's and PORT; a
	// user's variable may not shadow one of them.
	owned := tracingEnv(DaemonAddress, serviceName)
	for k, v := range sidecarEnv {
		owned[k] = v
	}
	owned["PORT"] = strconv.Itoa(port)
	env := map[string]*string{}
	for k, v := range p.AppEnvironment {
		if _, clash := owned[k]; clash {
			panic(fmt.Errorf("tracedtask.NewTracedTask %s: AppEnvironment: %s is set by the construct; expected other variables", id, k))
		}
		env[k] = jsii.String(v)
	}
	for k, v := range owned {
		env[k] = jsii.String(v)
	}
	healthCheck := p.AppHealthCheck
	if healthCheck == nil {
		healthCheck = jsii.Strings("CMD", defaultHealthCheckCommand, "-healthcheck")
	}
	user := p.AppUser
	if user == nil {
		user = jsii.String(defaultAppUser)
	}
	t.app = t.taskDefinition.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
		Image:       p.AppImage,
		Environment: &env,
		PortMappings: &[]*awsecs.PortMapping{
			{Name: jsii.String("http"), ContainerPort: jsii.Number(port), Protocol: awsecs.Protocol_TCP},
		},
		Essential: jsii.Bool(true),
		// What the daemon leaves of the task's memory, as a hard limit.
		MemoryLimitMiB: jsii.Number(appMemory),
		HealthCheck: &awsecs.HealthCheck{
			Command:     healthCheck,
			Interval:    stackvalues.Seconds(t.stack, 30),
			Timeout:     stackvalues.Seconds(t.stack, 5),
			Retries:     jsii.Number(3),
			StartPeriod: stackvalues.Seconds(t.stack, 10),
		},
		User: user,
		// The Go backend writes no files, so it needs no scratch volume.
		ReadonlyRootFilesystem: jsii.Bool(true),
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     t.appLogs,
			StreamPrefix: jsii.String("app"),
		}),
	})
	// Segments sent before the daemon listens would be dropped.
	t.app.AddContainerDependencies(&awsecs.ContainerDependency{
		Container: t.daemon,
		Condition: awsecs.ContainerDependencyCondition_START,
	})

	envReason := "The environment holds no secrets: the X-Ray daemon's loopback address, the service's segment name and the port. The X-Ray SDK reads the first two only from the environment, and keeping them in the task definition shows every change to them in cdk diff."
	if p.Collector == CollectorADOT {
		envReason = "The environments hold no secrets: the collector's loopback addresses, the service's name, the port, the tracing mode and the collector's configuration (receivers, processors and the X-Ray exporter's region). Keeping them in the task definition shows every change to them in cdk diff."
	}
	// cdk-nag findings that stand, each for one resource and one rule, with
	// the reason a reviewer needs. Without cdk-nag this is inert metadata.
	cdknag.NagSuppressions_AddResourceSuppressions(taskRole, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{"Resource::*"},
		Reason:    jsii.String("The five X-Ray daemon actions (PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets, GetSamplingStatisticSummaries) support no resource-level permissions: the X-Ray service authorization reference lists no resource types for them, so \"*\" is the only resource they take."),
	}}, jsii.Bool(false))
	cdknag.NagSuppressions_AddResourceSuppressions(t.taskDefinition.ExecutionRole(), &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{"Resource::*"},
		Reason:    jsii.String("ecr:GetAuthorizationToken, which pulling the app's image from ECR needs, supports no resource-level permissions; every other statement of this role names its repository or log group."),
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(t.taskDefinition, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String(envReason),
	}}, jsii.Bool(false))
	return t
}

// addXRayDaemon adds the X-Ray daemon sidecar.
func (t *TracedTask) addXRayDaemon(image awsecs.ContainerImage) awsecs.ContainerDefinition {
	daemonImage := image
	if daemonImage == nil {
		daemonImage = awsecs.ContainerImage_FromRegistry(jsii.String(DefaultDaemonImage), nil)
	}
	loopback := DaemonAddress
	return t.taskDefinition.AddContainer(jsii.String("xray-daemon"), t.sidecar("xray-daemon", daemonUser, &awsecs.ContainerDefinitionOptions{
		Image: daemonImage,
		// The image's own ENTRYPOINT binds 0.0.0.0; naming the binary here
		// replaces it, so that every flag is in the template.
		EntryPoint: jsii.Strings("/xray"),
		Command: jsii.Strings(
			"-b", loopback, // UDP: segments from the app
			"-t", loopback, // TCP: the sampling-rule proxy
			"-o",                    // local mode: no EC2 instance metadata on Fargate
			"-n", *t.stack.Region(), // the region to send to, never guessed
			"-m", strconv.Itoa(daemonBufferMiB(defaultDaemonMemoryMiB)),
			"-l", "info",
		),
		PortMappings: &[]*awsecs.PortMapping{
			{Name: jsii.String("xray-udp"), ContainerPort: jsii.Number(DaemonPort), Protocol: awsecs.Protocol_UDP},
			{Name: jsii.String("xray-tcp"), ContainerPort: jsii.Number(DaemonPort), Protocol: awsecs.Protocol_TCP},
		},
		// No HealthCheck: the image has no shell and no curl to run one, and
		// a check that cannot run would mark the daemon unhealthy forever.
	}))
}

// sidecar fills in what both tracing sidecars share: their size, their log
// stream, a non-root user, a read-only root filesystem, and the choice that a
// sidecar fault costs traces, never requests.
func (t *TracedTask) sidecar(name, user string, opts *awsecs.ContainerDefinitionOptions) *awsecs.ContainerDefinitionOptions {
	opts.Cpu = jsii.Number(defaultDaemonCPU)
	// A hard limit as well as the reservation (Control Tower's
	// CT.ECS.PR.7): a leaking sidecar is restarted, not left to starve the
	// app.
	opts.MemoryReservationMiB = jsii.Number(defaultDaemonMemoryMiB)
	opts.MemoryLimitMiB = jsii.Number(defaultDaemonMemoryMiB)
	// Not essential, and restarted in place: while ECS restarts a failed
	// sidecar, traces of those seconds are lost and requests are not.
	opts.Essential = jsii.Bool(false)
	opts.EnableRestartPolicy = jsii.Bool(true)
	opts.RestartAttemptPeriod = stackvalues.Seconds(t.stack, 60)
	opts.User = jsii.String(user)
	opts.ReadonlyRootFilesystem = jsii.Bool(true)
	opts.Logging = awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
		LogGroup:     t.daemonLogs,
		StreamPrefix: jsii.String(name),
	})
	return opts
}

// addADOTCollector adds the ADOT collector sidecar, configured by
// NewCollectorConfig, and returns the environment that moves the app to
// OpenTelemetry and points it at the collector.
func (t *TracedTask) addADOTCollector(image awsecs.ContainerImage, serviceName string, sampleRate float64) (awsecs.ContainerDefinition, map[string]string) {
	if image == nil {
		image = awsecs.ContainerImage_FromRegistry(jsii.String(DefaultCollectorImage), nil)
	}
	config := NewCollectorConfig(*t.stack.Region(), defaultDaemonMemoryMiB)
	collector := t.taskDefinition.AddContainer(jsii.String("otel-collector"), t.sidecar("otel-collector", collectorUser, &awsecs.ContainerDefinitionOptions{
		Image: image,
		// The collector reads its configuration from this variable: the
		// env config provider, which needs no file and no volume, so the
		// root filesystem stays read-only. It holds no secret.
		Command:     jsii.Strings("--config=env:" + collectorEnvVar),
		Environment: &map[string]*string{collectorEnvVar: jsii.String(config.String())},
		PortMappings: &[]*awsecs.PortMapping{
			{Name: jsii.String("xray-udp"), ContainerPort: jsii.Number(DaemonPort), Protocol: awsecs.Protocol_UDP},
			{Name: jsii.String("xray-tcp"), ContainerPort: jsii.Number(DaemonPort), Protocol: awsecs.Protocol_TCP},
			{Name: jsii.String("otlp-grpc"), ContainerPort: jsii.Number(OTLPGRPCPort), Protocol: awsecs.Protocol_TCP},
			{Name: jsii.String("otlp-http"), ContainerPort: jsii.Number(OTLPHTTPPort), Protocol: awsecs.Protocol_TCP},
		},
		// The image ships /healthcheck, which asks the health_check
		// extension; it needs no shell.
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings("CMD", "/healthcheck"),
			Interval:    stackvalues.Seconds(t.stack, 30),
			Timeout:     stackvalues.Seconds(t.stack, 5),
			Retries:     jsii.Number(3),
			StartPeriod: stackvalues.Seconds(t.stack, 10),
		},
	}))
	return collector, map[string]string{
		"CRUDDUR_TRACING":             "otel",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:" + strconv.Itoa(OTLPHTTPPort),
		"OTEL_SERVICE_NAME":           serviceName,
		"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":     strconv.FormatFloat(sampleRate, 'g', -1, 64),
	}
}

// XRayWriteStatement allows exactly what the X-Ray daemon calls: the actions
// of the AWSXRayDaemonWriteAccess managed policy, inline so that the grant
// does not grow when AWS changes that policy.
func XRayWriteStatement() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("XRayDaemonWrite"),
		Actions: jsii.Strings(
			"xray:PutTraceSegments",
			"xray:PutTelemetryRecords",
			"xray:GetSamplingRules",
			"xray:GetSamplingTargets",
			"xray:GetSamplingStatisticSummaries",
		),
		// X-Ray has no resource-level permissions for these actions: "*" is
		// the only resource they take.
		Resources: jsii.Strings("*"),
	})
}

// tracingEnv is the environment that points the X-Ray SDK at the daemon and
// names the app's segments.
func tracingEnv(daemonAddress, serviceName string) map[string]string {
	return map[string]string{
		"AWS_XRAY_DAEMON_ADDRESS": daemonAddress,
		"AWS_XRAY_TRACING_NAME":   serviceName,
	}
}

// daemonBufferMiB bounds the daemon's segment buffer (-m) to a quarter of its
// memory reservation, leaving the rest for the process itself; the daemon's
// own default is 1% of the host's memory, which on Fargate is not the task's.
func daemonBufferMiB(reservationMiB int) int {
	return max(reservationMiB/4, 3) // 3 is the daemon's minimum
}

func logGroup(scope constructs.Construct, id string, retention awslogs.RetentionDays) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{
		Retention: retention,
	})
}

func intOr(v *float64, def int) int {
	if v == nil {
		return def
	}
	return int(*v)
}

// TaskDefinition is the Fargate task definition, to run in a service.
func (t *TracedTask) TaskDefinition() awsecs.FargateTaskDefinition { return t.taskDefinition }

// AppContainer is the app's container definition.
func (t *TracedTask) AppContainer() awsecs.ContainerDefinition { return t.app }

// DaemonContainer is the tracing sidecar's container definition: the X-Ray
// daemon, or the ADOT collector with CollectorADOT.
func (t *TracedTask) DaemonContainer() awsecs.ContainerDefinition { return t.daemon }

// AppLogGroup holds the app's logs.
func (t *TracedTask) AppLogGroup() awslogs.LogGroup { return t.appLogs }

// DaemonLogGroup holds the tracing sidecar's logs, whichever it is.
func (t *TracedTask) DaemonLogGroup() awslogs.LogGroup { return t.daemonLogs }

// TaskRole is the role the containers' AWS calls run as; grant the app
// what else it needs here.
func (t *TracedTask) TaskRole() awsiam.IRole { return t.taskDefinition.TaskRole() }

// AppPort is the TCP port the app serves on.
func (t *TracedTask) AppPort() int { return t.appPort }
