// Package stack is Cruddur's tracing stack: its configuration (LoadConfig,
// from CDK context) and the stack built from it (New) with the constructs in
// ../constructs and aws-cdk-lib's ecs-patterns. Every Cruddur choice lives
// here, not in the constructs.
package stack

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/regioninfo"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracing"
)

// Cruddur's choices for its backend (see backend/).
const (
	// backendDir holds the backend's Dockerfile, the app image's default.
	backendDir = "backend"
	// healthCheckPath is where the load balancer asks the backend if it is up.
	healthCheckPath = "/api/health-check"
	// appUser is the Dockerfile's USER: distroless's nonroot.
	appUser = "65532:65532"
)

// Props configure the stack.
type Props struct {
	awscdk.StackProps
	// Config is the checked configuration; see LoadConfig.
	Config *Config
}

// PropsFor are the stack's props for a configuration: its environment
// (agnostic unless an account or region is set) and description. The app
// names the stack after the stage (Config.Stage.StackName).
func PropsFor(cfg *Config) *Props {
	var env *awscdk.Environment
	if cfg.Account != "" || cfg.Region != "" {
		env = &awscdk.Environment{Account: nonEmpty(cfg.Account), Region: nonEmpty(cfg.Region)}
	}
	return &Props{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("Cruddur tracing (" + cfg.Stage.Name + "): the X-Ray group, sampling rule and traced Fargate service of " + cfg.ServiceName),
		},
		Config: cfg,
	}
}

// New defines Cruddur's stack: a platform (the stack's key, network,
// cluster, alarm topic and dashboard) and on it the traced service: its
// X-Ray group and sampling rules, the Fargate task that runs it with a
// tracing sidecar, and the service and load balancer that run that task.
func New(scope constructs.Construct, id string, props *Props) awscdk.Stack {
	cfg := props.Config
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	refuseToDeploy(stack, cfg.NotDeployable)
	awscdk.Aspects_Of(stack).Add(&keptExceptOnCreate{}, nil)
	p := newPlatform(stack, cfg)
	// The first service's resources are the stack's own: they keep the
	// logical ids every deployed stack has (ids are API). Another service
	// is another call, in a construct of its own.
	p.addService(stack, &cfg.Service)
	p.finish()
	return stack
}

// sidecarMiB is the tracing sidecar's memory, reserved and its hard limit,
// whichever collector: each sizes its buffers from it. The app container
// has the rest of the task's.
const sidecarMiB = 256

// collector is the tracing sidecar cruddur:collector chooses. With the ADOT
// collector or the CloudWatch agent the backend traces with OpenTelemetry,
// and samples as in X-Ray mode: by the account's X-Ray rules, which it reads
// through the collector's sampling proxy (backend/internal/tracing/otelsampler.go), so no
// rate is copied into the task.
func collector(svc *Service) tracing.Collector {
	switch svc.Collector {
	case collectorADOT:
		return tracing.ADOTCollector(&tracing.ADOTCollectorOptions{Image: registryImage(svc.CollectorImage)})
	case collectorCloudWatchAgent:
		return tracing.CloudWatchAgent(&tracing.CloudWatchAgentOptions{Image: registryImage(svc.CollectorImage)})
	}
	return tracing.XRayDaemon(&tracing.XRayDaemonOptions{Image: registryImage(svc.DaemonImage)})
}

// appEnvironment is the backend's own environment; the tracing sidecar adds
// where to send traces. CRUDDUR_TRACING picks the backend's SDK;
// CRUDDUR_TRUSTED_PROXIES=1 says the load balancer is in front, so the
// client is the address it appended to X-Forwarded-For (backend/internal/edge).
func appEnvironment(svc *Service) *map[string]*string {
	env := map[string]*string{"PORT": jsii.String(strconv.Itoa(svc.AppPort))}
	if tracesWithOpenTelemetry(svc) {
		env["CRUDDUR_TRACING"] = jsii.String("otel")
	}
	if svc.LoadBalancer {
		env["CRUDDUR_TRUSTED_PROXIES"] = jsii.String("1")
	}
	return &env
}

// tracesWithOpenTelemetry says whether the backend traces with
// OpenTelemetry: with either collector other than the X-Ray daemon, both of
// which take OTLP.
func tracesWithOpenTelemetry(svc *Service) bool { return svc.Collector != collectorXRayDaemon }

// segmentOrigin is the origin of the backend's segments on Fargate, which
// it asks the sampling rules with (backend/internal/tracing): in X-Ray
// mode the X-Ray SDK's ECS plugin writes AWS::ECS::Container; under
// OpenTelemetry the collector's awsxray exporter writes AWS::ECS::Fargate.
func segmentOrigin(svc *Service) string {
	if tracesWithOpenTelemetry(svc) {
		return "AWS::ECS::Fargate"
	}
	return "AWS::ECS::Container"
}

// Go's garbage collector in the backend. At GOGC's default (100) a heap
// of a few MiB live is collected every time it doubles, and never later than
// at 4 MiB: 20 to 30 collections a second under load, whose cost grows with
// what a traced request allocates and keeps (OpenTelemetry's span snapshots,
// queued for their batch, most of all). The app container's memory is fixed
// and mostly unused, so the backend trades some of it for CPU: GOGC=400
// (under the load bench's load, 6 to 9 times fewer collections, and a peak
// resident size of 48 MiB instead of 31), and GOMEMLIMIT a share of the
// container's hard limit, below which the runtime collects as often as it
// must to stay, before the kernel's OOM killer would act
// (docs/performance-history.md has the figures).
const (
	appGOGC             = 400
	appMemoryLimitShare = 0.9
)

// goRuntimeEnvironment is the Go runtime's settings for an app container of
// containerMiB, in the order the task lists them.
func goRuntimeEnvironment(containerMiB int) [][2]string {
	return [][2]string{
		{"GOGC", strconv.Itoa(appGOGC)},
		{"GOMEMLIMIT", strconv.Itoa(int(float64(containerMiB)*appMemoryLimitShare)) + "MiB"},
	}
}

// newService runs the task in the platform's cluster, in the VPC's private
// subnets: behind an internet-facing Application Load Balancer
// (ecs-patterns), which it returns, or alone. Either way deploys start new
// tasks before stopping old ones, a deploy that does not become healthy
// rolls back by itself, and the scaler owns the task count (see scale). It
// is about 80 lines because it is one ecs-patterns call and its plain twin,
// which share their settings: split, each half would restate them.
func newService(scope constructs.Construct, p *platform, svc *Service, task awsecs.FargateTaskDefinition) (awsecs.FargateService, elbv2.ApplicationLoadBalancer) {
	vpc, cluster := p.vpc, p.cluster
	// Tasks send only HTTPS out (X-Ray, CloudWatch Logs, ECR and S3 for
	// the image) and take only what the load balancer forwards.
	tasksSG := awsec2.NewSecurityGroup(scope, jsii.String("TasksSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("Traced service tasks: HTTPS out to AWS APIs, the app port from the load balancer"),
		AllowAllOutbound: jsii.Bool(false),
	})
	tasksSG.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)),
		jsii.String("HTTPS to X-Ray, CloudWatch Logs and ECR through the NAT gateway"), nil)
	// How the tasks run, whichever way they are reached (both props below
	// take these): new tasks before old ones stop, and a deploy that does
	// not become healthy rolls back.
	private := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	minHealthy, maxHealthy := jsii.Number(100), jsii.Number(200)
	rollback := &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)}
	groups := &[]awsec2.ISecurityGroup{tasksSG}

	if !svc.LoadBalancer {
		service := awsecs.NewFargateService(scope, jsii.String("Service"), &awsecs.FargateServiceProps{
			Cluster: cluster, TaskDefinition: task, VpcSubnets: private,
			MinHealthyPercent: minHealthy, MaxHealthyPercent: maxHealthy, CircuitBreaker: rollback,
			EnableExecuteCommand: jsii.Bool(svc.EcsExec), PlatformVersion: awsecs.FargatePlatformVersion_LATEST,
			AssignPublicIp: jsii.Bool(false), SecurityGroups: groups,
		})
		scale(svc, service, nil)
		return service, nil
	}

	lbSG := awsec2.NewSecurityGroup(scope, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("Traced service load balancer: HTTP(S) in from the internet, the app port out to the tasks"),
		AllowAllOutbound: jsii.Bool(false),
	})
	nagSuppress(lbSG, false, "AwsSolutions-EC23", "The load balancer serves a public API: ports 80 and 443 are open to the internet on purpose, and only those.")
	lb := elbv2.NewApplicationLoadBalancer(scope, jsii.String("LoadBalancer"), &elbv2.ApplicationLoadBalancerProps{
		Vpc:                     vpc,
		InternetFacing:          jsii.Bool(true),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		SecurityGroup:           lbSG,
		DeletionProtection:      jsii.Bool(svc.DeletionProtection),
		DropInvalidHeaderFields: jsii.Bool(true),
		// Requests are framed here, at the edge: strictest refuses every
		// request HTTP Desync Guardian does not classify compliant (both
		// Content-Length and Transfer-Encoding among them) with 400,
		// rather than forwarding it and closing the connections after.
		DesyncMitigationMode: elbv2.DesyncMitigationMode_STRICTEST,
	})
	logAccessLogs(scope, lb)

	props := &awsecspatterns.ApplicationLoadBalancedFargateServiceProps{
		Cluster: cluster, TaskDefinition: task, TaskSubnets: private,
		MinHealthyPercent: minHealthy, MaxHealthyPercent: maxHealthy, CircuitBreaker: rollback,
		EnableExecuteCommand: jsii.Bool(svc.EcsExec), PlatformVersion: awsecs.FargatePlatformVersion_LATEST,
		AssignPublicIp: jsii.Bool(false), SecurityGroups: groups,
		LoadBalancer: lb, OpenListener: jsii.Bool(true),
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(60)),
	}
	if svc.CertificateArn != "" {
		props.Certificate = awscertificatemanager.Certificate_FromCertificateArn(scope, jsii.String("Certificate"), &svc.CertificateArn)
		props.Protocol = elbv2.ApplicationProtocol_HTTPS
		props.SslPolicy = elbv2.SslPolicy_RECOMMENDED_TLS
		props.RedirectHTTP = jsii.Bool(true)
		props.TargetProtocol = elbv2.ApplicationProtocol_HTTP
	}
	alb := awsecspatterns.NewApplicationLoadBalancedFargateService(scope, jsii.String("Service"), props)
	alb.TargetGroup().ConfigureHealthCheck(&elbv2.HealthCheck{
		Path:                    jsii.String(healthCheckPath),
		HealthyHttpCodes:        jsii.String("200"),
		Interval:                awscdk.Duration_Seconds(jsii.Number(15)),
		Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
		HealthyThresholdCount:   jsii.Number(2),
		UnhealthyThresholdCount: jsii.Number(3),
	})
	// Old tasks finish their requests within ECS's 30 s stop timeout.
	alb.TargetGroup().SetAttribute(jsii.String("deregistration_delay.timeout_seconds"), jsii.String("30"))
	scale(svc, alb.Service(), alb.TargetGroup())
	return alb.Service(), lb
}

// Target tracking: tasks are added when their average CPU passes
// scaleCPUPercent, or when each gets more than scaleRequestsPerTask requests
// a minute; removed, slowly, when both fall back.
const (
	scaleCPUPercent      = 60
	scaleRequestsPerTask = 1000
	scaleOutSeconds      = 60
	scaleInSeconds       = 300
)

// scale lets Application Auto Scaling run between cruddur:desiredCount and
// cruddur:maxCount tasks (0 and 0 pause the service). The template sets no
// DesiredCount of its own, so a deploy never resets what the scaler chose.
func scale(svc *Service, service awsecs.FargateService, targets elbv2.ApplicationTargetGroup) {
	max := svc.MaxCount
	if svc.DesiredCount == 0 {
		max = 0
	}
	scaling := service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(svc.DesiredCount), MaxCapacity: jsii.Number(max),
	})
	in, out := awscdk.Duration_Seconds(jsii.Number(scaleInSeconds)), awscdk.Duration_Seconds(jsii.Number(scaleOutSeconds))
	scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(scaleCPUPercent), ScaleInCooldown: in, ScaleOutCooldown: out,
	})
	if targets != nil {
		scaling.ScaleOnRequestCount(jsii.String("Requests"), &awsecs.RequestCountScalingProps{
			RequestsPerTarget: jsii.Number(scaleRequestsPerTask), TargetGroup: targets, ScaleInCooldown: in, ScaleOutCooldown: out,
		})
	}
}

// logAccessLogs sends the load balancer's access logs to a bucket of their
// own. aws-cdk-lib's LogAccessLogs needs a concrete region to pick the
// principal that writes them, so for an environment-agnostic stack the same
// statements are written here with the region's Elastic Load Balancing
// account looked up at deploy time (aws-cdk-lib's own table of them, as a
// CfnMapping). Regions opened since August 2022 are not in that table:
// deploy there with cruddur:region set, and aws-cdk-lib's method takes over.
func logAccessLogs(scope constructs.Construct, lb elbv2.ApplicationLoadBalancer) {
	stack := awscdk.Stack_Of(scope)
	bucket := awss3.NewBucket(scope, jsii.String("AccessLogs"), &awss3.BucketProps{
		// ALB access logs can be written only with S3-managed keys.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration:                  awscdk.Duration_Days(jsii.Number(90)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
		}},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	nagSuppress(bucket, false, "AwsSolutions-S1", "This bucket holds the load balancer's access logs; logging its own accesses to another bucket would only move the question there.")
	const prefix = "alb"
	if !*awscdk.Token_IsUnresolved(stack.Region()) {
		lb.LogAccessLogs(bucket, jsii.String(prefix))
		return
	}
	lb.SetAttribute(jsii.String("access_logs.s3.enabled"), jsii.String("true"))
	lb.SetAttribute(jsii.String("access_logs.s3.bucket"), bucket.BucketName())
	lb.SetAttribute(jsii.String("access_logs.s3.prefix"), jsii.String(prefix))
	objects := bucket.ArnForObjects(jsii.String(prefix + "/AWSLogs/" + *stack.Account() + "/*"))
	elbAccount := stack.RegionalFact(regioninfo.FactName_ELBV2_ACCOUNT(), nil)
	logDelivery := awsiam.NewServicePrincipal(jsii.String("delivery.logs.amazonaws.com"), nil)
	// EnforceSSL made the bucket's policy already; one AddStatements call
	// adds the three statements.
	policy := bucket.Policy()
	policy.Document().AddStatements(
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("s3:PutObject"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(elbAccount)},
			Resources:  &[]*string{objects},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("s3:PutObject"),
			Principals: &[]awsiam.IPrincipal{logDelivery},
			Resources:  &[]*string{objects},
			Conditions: &map[string]any{"StringEquals": map[string]any{"s3:x-amz-acl": "bucket-owner-full-control"}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("s3:GetBucketAcl"),
			Principals: &[]awsiam.IPrincipal{logDelivery},
			Resources:  &[]*string{bucket.BucketArn()},
		}),
	)
	// The load balancer checks that it can write before it turns logging on.
	lb.Node().AddDependency(policy)
}

// network is the VPC named in context, looked up at synth (which needs the
// stack's account and region), or a new one across two Availability Zones:
// public subnets for the load balancer and NAT, private ones with egress for
// the tasks. Its flow log records rejected traffic, what an investigation
// needs, at a fraction of the cost of all traffic.
func network(stack awscdk.Stack, cfg *Config, logs func(constructs.Construct, string, *string) awslogs.LogGroup) awsec2.IVpc {
	if cfg.VpcID != "" {
		return awsec2.Vpc_FromLookup(stack, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: &cfg.VpcID})
	}
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs: jsii.Number(2),
		// The tasks' only way out (to X-Ray, CloudWatch Logs, ECR). Two
		// survive the loss of an Availability Zone at twice the cost.
		NatGateways: jsii.Number(cfg.NatGateways),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			// Only the load balancer and the NAT gateways live here, each
			// with an address of its own: nothing else gets a public IP.
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String("Private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(24)},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(true),
	})
	flowLog := vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(logs(stack, "VpcFlowLogs", nil), nil),
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
	})
	// The service may use the role only for this account's flow logs (the
	// confused-deputy conditions of AWS's VPC flow logs guide), as the task
	// roles are kept to this account's ECS tasks. In place, on aws-cdk-lib's
	// role: a role of our own would be a new logical id, a replacement.
	flowLog.IamRole().Node().DefaultChild().(awsiam.CfnRole).AddPropertyOverride(
		jsii.String("AssumeRolePolicyDocument.Statement.0.Condition"), map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
			"ArnLike": map[string]any{"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("ec2"), Resource: jsii.String("vpc-flow-log"), ResourceName: jsii.String("*"),
			})},
		})
	return vpc
}

// appImage is the prebuilt image named in context, or else the backend's
// Dockerfile as an image asset: synth only hashes the folder, and `cdk
// deploy` builds and pushes the image, for the task's linux/amd64.
func appImage(svc *Service) awsecs.ContainerImage {
	if svc.AppImage != "" {
		return registryImage(svc.AppImage)
	}
	return awsecs.ContainerImage_FromAsset(jsii.String(backendDir), &awsecs.AssetImageProps{
		Platform: awsecrassets.Platform_LINUX_AMD64(),
	})
}

// registryImage is the image at ref, or nil (the construct's default) for "".
func registryImage(ref string) awsecs.ContainerImage {
	if ref == "" {
		return nil
	}
	return awsecs.ContainerImage_FromRegistry(&ref, nil)
}

// refuseToDeploy, given what a stage still needs from the team, makes a
// plain `cdk deploy` of the stack stop at CloudFormation's first step, before
// any resource changes, with that message (as aws-cdk-lib's
// bootstrap-version rule does); `cruddur deployable` stops it before that.
func refuseToDeploy(stack awscdk.Stack, notDeployable error) {
	if notDeployable == nil {
		return
	}
	awscdk.NewCfnRule(stack, jsii.String("StageIsFilledIn"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionEquals(jsii.String("filled in"), jsii.String("not filled in")),
			AssertDescription: jsii.String(notDeployable.Error()),
		}},
	})
}

func output(scope constructs.Construct, id string, value *string, description string) {
	awscdk.NewCfnOutput(scope, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// retentionDays are the retention periods CloudWatch Logs accepts, by days.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS,
	5: awslogs.RetentionDays_FIVE_DAYS, 7: awslogs.RetentionDays_ONE_WEEK,
	14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS,
	120: awslogs.RetentionDays_FOUR_MONTHS, 150: awslogs.RetentionDays_FIVE_MONTHS,
	180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1096: awslogs.RetentionDays_THREE_YEARS,
	1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS,
	3288: awslogs.RetentionDays_NINE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
}

func retentionChoices() string {
	days := slices.Sorted(maps.Keys(retentionDays))
	parts := make([]string, len(days))
	for i, d := range days {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ", ")
}

// keptExceptOnCreate makes every resource of the stack that is kept on
// delete (DeletionPolicy Retain: the log groups, the key, the bucket,
// whichever construct made them) CloudFormation's RetainExceptOnCreate:
// kept on update and delete, but deleted when a failed first create rolls
// back, so a first deploy that fails leaves nothing behind.
type keptExceptOnCreate struct{}

// Visit implements awscdk.IAspect.
func (*keptExceptOnCreate) Visit(node constructs.IConstruct) {
	if r, ok := node.(awscdk.CfnResource); ok && r.CfnOptions().DeletionPolicy() == awscdk.CfnDeletionPolicy_RETAIN {
		r.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE, nil)
	}
}
