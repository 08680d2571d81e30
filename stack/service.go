package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracing"
	"github.com/cruddur/tracing/constructs/xray"
)

// addService adds one traced service to the platform, in scope (the stack
// itself for the first; another service in a construct of its own): its
// X-Ray group and sampling rules, the task with its tracing sidecar, the
// Fargate service behind its own load balancer (and, where the posture is
// HTTPSOnly, AWS WAF), its alarms and its dashboard widgets.
func (p *platform) addService(scope constructs.Construct, svc *Service) {
	group := xrayGroupAndRules(scope, svc)
	task, sidecar, appLogs := p.task(scope, svc)
	service, lb := newService(scope, p, svc, task)
	// No task starts before its collector may call X-Ray (the service's
	// own resource: its scaling needs no wait).
	service.Node().DefaultChild().Node().AddDependency(sidecar.Policy())
	p.alarms(scope, svc, group, service, lb)
	if p.cfg.Stage.Posture.HTTPSOnly {
		webACL(scope, lb, p.logs)
	}
	if p.cfg.Stage.Posture.NIST {
		serviceExemptions(scope, svc)
	}
	taskSuppressions(task, svc)

	stack := p.stack
	output(scope, "AppLogGroupName", appLogs.LogGroupName(), "The backend's logs")
	output(scope, "CollectorLogGroupName", sidecar.LogGroup().LogGroupName(), "The "+sidecar.CollectorName()+"'s logs")
	output(scope, "XRayGroupName", group.GroupName(), "The X-Ray group that collects the service's traces")
	output(scope, "XRayTracesUrl", jsii.String(fmt.Sprintf(
		"https://%[1]s.console.aws.amazon.com/cloudwatch/home?region=%[1]s#xray:traces/query", *stack.Region())),
		"X-Ray traces in the CloudWatch console: choose the group named in XRayGroupName")
}

// xrayGroupAndRules defines the service's X-Ray group and its sampling
// rules, and returns the group.
func xrayGroupAndRules(scope constructs.Construct, svc *Service) *xray.Group {
	filter := svc.GroupFilterExpression
	if filter == "" {
		filter = svc.ServiceFilter
	}
	// Insights is left out of the template unless switched on.
	var insights, notifications *bool
	if svc.InsightsEnabled || svc.InsightsNotificationsEnabled {
		insights, notifications = jsii.Bool(svc.InsightsEnabled), jsii.Bool(svc.InsightsNotificationsEnabled)
	}
	group := xray.NewGroup(scope, "Group", &xray.GroupProps{
		GroupName: &svc.GroupName, FilterExpression: &filter,
		InsightsEnabled: insights, NotificationsEnabled: notifications,
	})
	rule := xray.NewSamplingRule(scope, "SamplingRule", svc.SamplingRule)
	// What a team may have made by hand (the seed's create-group and
	// create-sampling-rule) carries an explicit DeletionPolicy, which
	// CloudFormation requires of a resource `cdk import` adopts
	// (tools/importseed); Delete is what it did without one.
	importable := []constructs.IConstruct{group, rule}
	for _, props := range svc.SamplingRules {
		importable = append(importable, xray.NewSamplingRule(scope, "SamplingRule-"+*props.RuleName, props))
	}
	for _, c := range importable {
		c.Node().DefaultChild().(awscdk.CfnResource).ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	}
	return group
}

// task defines the service's Fargate task: the backend's container and the
// tracing sidecar beside it, roles only this account's ECS may assume, and
// the cdk-nag findings on them that stand.
func (p *platform) task(scope constructs.Construct, svc *Service) (awsecs.FargateTaskDefinition, *tracing.Sidecar, awslogs.LogGroup) {
	task := awsecs.NewFargateTaskDefinition(scope, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(svc.TaskCPU),
		MemoryLimitMiB: jsii.Number(svc.TaskMemoryMiB),
		// The backend's image is built for linux/amd64 (see backend/).
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	appLogs := p.logs(task, "AppLogs", nil)
	appMemory := svc.TaskMemoryMiB - sidecarMiB
	app := task.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
		Image:        appImage(svc),
		Environment:  appEnvironment(svc),
		PortMappings: &[]*awsecs.PortMapping{{Name: jsii.String("http"), ContainerPort: jsii.Number(svc.AppPort), Protocol: awsecs.Protocol_TCP}},
		Essential:    jsii.Bool(true),
		// What the sidecar leaves of the task's memory, as a hard limit:
		// every Fargate size has at least 512 MiB, twice the sidecar's.
		MemoryLimitMiB: jsii.Number(appMemory),
		// The image has no shell or curl: the binary checks itself.
		HealthCheck: &awsecs.HealthCheck{
			Command: jsii.Strings("CMD", "/cruddur-backend", "-healthcheck"),
			// ECS's interval, timeout and retries (30 s, 5 s, 3), which
			// aws-cdk-lib writes when none is given; 10 s to start.
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(10)),
		},
		User: jsii.String(appUser),
		// The backend writes no files.
		ReadonlyRootFilesystem: jsii.Bool(true),
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     appLogs,
			StreamPrefix: jsii.String("app"),
		}),
	})
	sidecar := tracing.NewSidecar(scope, "Tracing", &tracing.SidecarProps{
		TaskDefinition: task,
		AppContainer:   app,
		ServiceName:    &svc.ServiceName,
		Collector:      collector(svc),
		MemoryLimitMiB: jsii.Number(sidecarMiB),
		// The log group's id predates the ADOT choice; ids are API.
		LogGroup: p.logs(task, "DaemonLogs", nil),
	})
	for _, kv := range goRuntimeEnvironment(appMemory) {
		app.AddEnvironment(jsii.String(kv[0]), jsii.String(kv[1]))
	}

	// Only ECS, for this account's tasks, may assume the task's roles: the
	// confused-deputy conditions the Amazon ECS Developer Guide gives for
	// the task role and the task execution role (aws:SourceAccount, and
	// aws:SourceArn of ECS in this account and region).
	for _, role := range []awsiam.IRole{task.TaskRole(), task.ExecutionRole()} {
		role.Node().DefaultChild().(awsiam.CfnRole).AddPropertyOverride(jsii.String("AssumeRolePolicyDocument.Statement.0.Condition"), map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": p.stack.Account()},
			"ArnLike":      map[string]any{"aws:SourceArn": p.stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ecs"), Resource: jsii.String("*")})},
		})
	}
	if svc.Collector == collectorCloudWatchAgent {
		exempt(task.Node().DefaultChild().(awscdk.CfnResource),
			"The CloudWatch agent's container runs as uid 0 with every Linux capability dropped and a read-only root filesystem: it must write its configuration into empty task volumes, which Fargate creates owned by root (mode 0755) when the image declares no VOLUME, as the agent's does not; the app's container runs as 65532.",
			"ecs_task_definition_nonroot_user_check")
	}
	return task, sidecar, appLogs
}

// taskSuppressions are the cdk-nag findings on the task that stand, each on
// one resource, with its reason.
func taskSuppressions(task awsecs.FargateTaskDefinition, svc *Service) {
	nagSuppress(task.ExecutionRole(), true, "AwsSolutions-IAM5", "ecr:GetAuthorizationToken, which pulling the app's image from ECR needs, supports no resource-level permissions; every other statement of this role names its repository or log group.", "Resource::*")
	nagSuppress(task, false, "AwsSolutions-ECS2", "The environments hold no secrets: loopback addresses, the service's name, the port, the tracing mode, the Go runtime's garbage-collector settings and the collector's configuration. In the task definition, every change to them shows in cdk diff.")
	if svc.EcsExec {
		nagSuppress(task.TaskRole(), true, "AwsSolutions-IAM5", "ECS Exec needs ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel and OpenDataChannel, which support no resource-level permissions.", "Resource::*")
	}
}
