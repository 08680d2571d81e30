// Command cruddur is the CDK app for Cruddur's tracing: it reads its
// configuration from CDK context, builds the stack from the constructs in
// ./constructs, and synthesizes it. Run it through the CDK CLI (`npx cdk
// synth`); see README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/constructs/service"
	"github.com/cruddur/tracing/constructs/tracedtask"
	"github.com/cruddur/tracing/constructs/xray"
)

// StackID names the stack, and so the template: cdk.out/Cruddur.template.json.
const StackID = "Cruddur"

// CruddurStackProps configure the Cruddur stack.
type CruddurStackProps struct {
	awscdk.StackProps
	// Config is the checked configuration; see LoadConfig.
	Config *Config
}

// NewCruddurStack defines the X-Ray group and sampling rule for one service,
// the Fargate task that runs the service with the X-Ray daemon beside it, and
// the Fargate service, network and load balancer that run that task.
func NewCruddurStack(scope constructs.Construct, id string, props *CruddurStackProps) awscdk.Stack {
	cfg := props.Config
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	group := xray.NewGroup(stack, "Group", cfg.GroupProps())
	xray.NewSamplingRule(stack, "SamplingRule", cfg.SamplingRule)

	retention, err := tracedtask.RetentionFromDays(cfg.LogRetentionDays)
	if err != nil {
		panic(err) // LoadConfig checked it
	}
	taskProps := &tracedtask.TracedTaskProps{
		AppImage:       appImage(cfg),
		AppPort:        jsii.Number(cfg.AppPort),
		ServiceName:    &cfg.ServiceName,
		Cpu:            jsii.Number(cfg.TaskCPU),
		MemoryLimitMiB: jsii.Number(cfg.TaskMemoryMiB),
		LogRetention:   retention,
		Collector:      cfg.Collector,
	}
	sidecarLogs := "The X-Ray daemon's logs"
	if cfg.Collector == tracedtask.CollectorADOT {
		taskProps.CollectorImage = awsecs.ContainerImage_FromRegistry(&cfg.CollectorImage, nil)
		taskProps.SampleRate = sampleRate(cfg.SamplingRule)
		sidecarLogs = "The ADOT collector's logs"
	} else {
		taskProps.DaemonImage = awsecs.ContainerImage_FromRegistry(&cfg.DaemonImage, nil)
	}
	task := tracedtask.NewTracedTask(stack, "Task", taskProps)

	svc := service.NewTracedService(stack, "Service", &service.TracedServiceProps{
		Task:                 task,
		Vpc:                  network(stack, cfg, retention),
		DesiredCount:         jsii.Number(cfg.DesiredCount),
		EnableExecuteCommand: jsii.Bool(cfg.EcsExec),
		LoadBalancer:         jsii.Bool(cfg.LoadBalancer),
		CertificateArn:       nonEmpty(cfg.CertificateArn),
		DeletionProtection:   jsii.Bool(cfg.DeletionProtection),
	})

	if url := svc.URL(); url != nil {
		output(stack, "ServiceUrl", url, "The backend's address, through the load balancer")
	}
	output(stack, "AppLogGroupName", task.AppLogGroup().LogGroupName(), "The backend's logs")
	output(stack, "DaemonLogGroupName", task.DaemonLogGroup().LogGroupName(), sidecarLogs)
	output(stack, "XRayGroupName", group.GroupName(), "The X-Ray group that collects the service's traces")
	output(stack, "XRayTracesUrl", jsii.String(fmt.Sprintf(
		"https://%[1]s.console.aws.amazon.com/cloudwatch/home?region=%[1]s#xray:traces/query", *stack.Region())),
		"X-Ray traces in the CloudWatch console: choose the group named in XRayGroupName")
	return stack
}

// network is the VPC the service runs in: the one named in context, looked
// up at synth (which needs the stack's account and region), or a new one
// across two Availability Zones with public subnets for the load balancer
// and private subnets with egress for the tasks. Its flow log records
// rejected traffic, which is what an investigation needs, at a fraction of
// the cost of all traffic.
func network(stack awscdk.Stack, cfg *Config, retention awslogs.RetentionDays) awsec2.IVpc {
	if cfg.VpcID != "" {
		return awsec2.Vpc_FromLookup(stack, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: &cfg.VpcID})
	}
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs: jsii.Number(2),
		// One NAT gateway by default: the tasks' only way out (to X-Ray,
		// CloudWatch Logs, ECR and ECR Public). Two survive the loss of an
		// Availability Zone at twice the hourly cost.
		NatGateways: jsii.Number(cfg.NatGateways),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("Private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(24)},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(true),
	})
	vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(awslogs.NewLogGroup(stack, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{
			Retention: retention,
		}), nil),
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
	})
	return vpc
}

// output declares a stack output, shown by cdk deploy.
func output(stack awscdk.Stack, id string, value *string, description string) {
	awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}

// sampleRate is the sampling rule's FixedRate, which an OpenTelemetry app
// applies itself (the X-Ray SDK fetches the whole rule from the daemon).
func sampleRate(rule *xray.SamplingRuleProps) *float64 {
	if rule.FixedRate != nil {
		return rule.FixedRate
	}
	return jsii.Number(0.1) // the rule's own default
}

// appImage is the prebuilt image named in context, or else the backend's
// Dockerfile as an image asset: synth only hashes the folder, and `cdk deploy`
// builds and pushes the image, for the task's linux/amd64 platform.
func appImage(cfg *Config) awsecs.ContainerImage {
	if cfg.AppImage != "" {
		return awsecs.ContainerImage_FromRegistry(&cfg.AppImage, nil)
	}
	return awsecs.ContainerImage_FromAsset(jsii.String(BackendDir), &awsecs.AssetImageProps{
		Platform: awsecrassets.Platform_LINUX_AMD64(),
	})
}

// NewApp builds the whole app: configuration from the app's context and the
// environment, then the stack. It returns the configuration errors a user
// can fix; a panic still means a bug.
func NewApp(props *awscdk.AppProps, getenv func(string) string) (awscdk.App, awscdk.Stack, error) {
	app := awscdk.NewApp(props)
	ctx, _ := app.Node().GetAllContext(nil).(map[string]any)
	cfg, err := LoadConfig(ctx, getenv)
	if err != nil {
		return nil, nil, err
	}
	// cdk-nag's AWS Solutions pack reviews every resource at synth; its
	// findings are errors and warnings on the construct tree, which the
	// CLI prints and the tests refuse.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return app, NewCruddurStack(app, StackID, StackPropsFor(cfg)), nil
}

// StackPropsFor are the stack's props for a configuration: its environment
// (agnostic unless an account or region is set) and description.
func StackPropsFor(cfg *Config) *CruddurStackProps {
	var env *awscdk.Environment
	if cfg.Account != "" || cfg.Region != "" {
		env = &awscdk.Environment{Account: nonEmpty(cfg.Account), Region: nonEmpty(cfg.Region)}
	}
	return &CruddurStackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("Cruddur tracing: the X-Ray group, sampling rule and traced Fargate service of " + cfg.ServiceName),
		},
		Config: cfg,
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func main() {
	err := run(nil, os.Getenv)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur:", err)
		os.Exit(1)
	}
}

// run synthesizes the app, turning a construct's panic on bad input into an
// error, so that a user sees one line instead of a Go stack trace. With nil
// props the app takes its context and output folder from the environment
// the CDK CLI sets (CDK_CONTEXT_JSON, CDK_OUTDIR).
func run(props *awscdk.AppProps, getenv func(string) string) (err error) {
	outdir := getenv("CDK_OUTDIR")
	if props != nil && props.Outdir != nil {
		outdir = *props.Outdir
	}
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
		if err != nil {
			// A failed synth must not leave an earlier run's assembly
			// behind, where a later step could take it for this run's.
			removeAssembly(outdir)
		}
	}()
	app, _, err := NewApp(props, getenv)
	if err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}

// removeAssembly deletes what a synth writes into a cloud assembly folder:
// the manifest that makes it an assembly, templates, asset manifests and
// staged assets. The CLI's own files there (locks, error.txt) stay.
func removeAssembly(outdir string) {
	if outdir == "" {
		return
	}
	for _, pattern := range []string{"manifest.json", "tree.json", "validation-report.json", "*.template.json", "*.assets.json", "*.metadata.json", "*NagReport*", "asset.*"} {
		matches, _ := filepath.Glob(filepath.Join(outdir, pattern))
		for _, m := range matches {
			os.RemoveAll(m)
		}
	}
}

// panicError keeps the first line of a panic's message: errors raised inside
// aws-cdk-lib carry a JavaScript stack trace after it.
func panicError(r any) error {
	msg := fmt.Sprint(r)
	if e, ok := r.(error); ok {
		msg = e.Error()
	}
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	return errors.New(msg)
}
