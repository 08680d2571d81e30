// Package service runs a traced task as a Fargate service that stays up
// through deploys, in private subnets, optionally behind an Application Load
// Balancer, with security groups that allow only what tracing and serving
// need.
package service

import (
	"fmt"
	"math"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/regioninfo"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/constructs/tracedtask"
	"github.com/cruddur/tracing/internal/stackvalues"
)

// HealthCheckPath is where the load balancer asks the backend whether it is up.
const HealthCheckPath = "/api/health-check"

// Defaults, documented on TracedServiceProps.
const (
	defaultDesiredCount     = 2
	defaultAccessLogDays    = 90
	deregistrationDelaySecs = 30
	healthCheckGraceSecs    = 60
	httpsPort, httpPort     = 443, 80
	accessLogPrefix         = "alb"
	minHealthyPercent       = 100
	maxHealthyPercent       = 200
	healthCheckIntervalSecs = 15
	healthyThresholdCount   = 2
	unhealthyThresholdCount = 3
	healthCheckTimeoutSecs  = 5
	minDesiredCount         = 1
	maxDesiredCount         = 100
)

// TracedServiceProps configure a TracedService.
type TracedServiceProps struct {
	// Task is the traced task the service runs. Required.
	Task *tracedtask.TracedTask
	// Vpc is where the service runs: tasks in its private subnets with
	// egress, the load balancer in its public subnets. Required.
	Vpc awsec2.IVpc
	// DesiredCount is how many tasks run, 1..100; two spread the service
	// over two Availability Zones.
	// Default: 2.
	DesiredCount *float64
	// EnableExecuteCommand turns on ECS Exec (a shell in a running container,
	// with the IAM and logging it brings); the backend's image has no shell.
	// Default: false.
	EnableExecuteCommand *bool
	// LoadBalancer puts an internet-facing Application Load Balancer in
	// front of the service.
	// Default: true.
	LoadBalancer *bool
	// CertificateArn, an ACM certificate in the stack's region, turns on
	// HTTPS on 443 and redirects HTTP to it.
	// Default: HTTP on port 80 only.
	CertificateArn *string
	// DeletionProtection keeps the load balancer from being deleted.
	// Default: false.
	DeletionProtection *bool
}

// TracedService is a Fargate service running a TracedTask, with its cluster
// and, optionally, a load balancer.
type TracedService struct {
	constructs.Construct
	cluster awsecs.Cluster
	service awsecs.FargateService
	alb     elbv2.ApplicationLoadBalancer
	url     *string
	stack   awscdk.Stack // the stack the service is in
}

// NewTracedService defines the service. It panics on bad props, naming the
// field and what is expected.
func NewTracedService(scope constructs.Construct, id string, props *TracedServiceProps) *TracedService {
	if props == nil || props.Task == nil || props.Vpc == nil {
		panic(fmt.Errorf("service.NewTracedService %s: Task and Vpc are required", id))
	}
	p := *props
	desired := float64(defaultDesiredCount)
	if p.DesiredCount != nil {
		desired = *p.DesiredCount
	}
	if desired != math.Trunc(desired) || desired < minDesiredCount || desired > maxDesiredCount {
		panic(fmt.Errorf("service.NewTracedService %s: DesiredCount: %v is not usable; expected a whole number in %d..%d", id, desired, minDesiredCount, maxDesiredCount))
	}

	s := &TracedService{}
	constructs.NewConstruct_Override(s, scope, &id)
	s.stack = awscdk.Stack_Of(s)

	s.cluster = awsecs.NewCluster(s, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 p.Vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})

	// Tasks may send only HTTPS out (X-Ray, CloudWatch Logs, ECR and S3 for
	// the image) and take only what the load balancer forwards.
	sg := awsec2.NewSecurityGroup(s, jsii.String("TasksSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              p.Vpc,
		Description:      jsii.String("Traced service tasks: HTTPS out to AWS APIs, the app port from the load balancer"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(httpsPort)),
		jsii.String("HTTPS to X-Ray, CloudWatch Logs and ECR through the NAT gateway"), nil)

	withLB := p.LoadBalancer == nil || *p.LoadBalancer
	var grace awscdk.Duration
	if withLB {
		grace = stackvalues.Seconds(s.stack, healthCheckGraceSecs)
	}
	s.service = awsecs.NewFargateService(s, jsii.String("Resource"), &awsecs.FargateServiceProps{
		Cluster:        s.cluster,
		TaskDefinition: p.Task.TaskDefinition(),
		DesiredCount:   jsii.Number(desired),
		// Deploys start new tasks before stopping old ones, so the API
		// keeps its full capacity; a deploy that does not become healthy
		// rolls back by itself.
		MinHealthyPercent:    jsii.Number(minHealthyPercent),
		MaxHealthyPercent:    jsii.Number(maxHealthyPercent),
		CircuitBreaker:       &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		EnableExecuteCommand: jsii.Bool(p.EnableExecuteCommand != nil && *p.EnableExecuteCommand),
		PlatformVersion:      awsecs.FargatePlatformVersion_LATEST,
		AssignPublicIp:       jsii.Bool(false),
		VpcSubnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		SecurityGroups:       &[]awsec2.ISecurityGroup{sg},
		// Only a load balancer's health checks need a grace period.
		HealthCheckGracePeriod: grace,
	})

	if p.EnableExecuteCommand != nil && *p.EnableExecuteCommand {
		// aws-cdk-lib grants the task role the ssmmessages actions ECS Exec
		// needs, on "*".
		cdknag.NagSuppressions_AddResourceSuppressions(p.Task.TaskRole(), &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: &[]any{"Resource::*"},
			Reason:    jsii.String("ECS Exec, switched on in context, needs ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel and OpenDataChannel, which support no resource-level permissions."),
		}}, jsii.Bool(true))
	}
	if withLB {
		s.addLoadBalancer(p)
	}
	return s
}

func (s *TracedService) addLoadBalancer(p TracedServiceProps) {
	logs := awss3.NewBucket(s, jsii.String("AccessLogs"), &awss3.BucketProps{
		// ALB access logs can be written only with S3-managed keys.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: stackvalues.Constant(s.stack, "BLOCK_ALL", awss3.BlockPublicAccess_BLOCK_ALL),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration:                  stackvalues.Days(s.stack, defaultAccessLogDays),
			NoncurrentVersionExpiration: stackvalues.Days(s.stack, 1),
		}},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(logs, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This bucket holds the load balancer's access logs; logging its own accesses to another bucket would only move the question there."),
	}}, jsii.Bool(false))

	albSG := awsec2.NewSecurityGroup(s, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              p.Vpc,
		Description:      jsii.String("Traced service load balancer: HTTP(S) in from the internet, the app port out to the tasks"),
		AllowAllOutbound: jsii.Bool(false),
	})
	s.alb = elbv2.NewApplicationLoadBalancer(s, jsii.String("LoadBalancer"), &elbv2.ApplicationLoadBalancerProps{
		Vpc:                     p.Vpc,
		InternetFacing:          jsii.Bool(true),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		SecurityGroup:           albSG,
		DeletionProtection:      jsii.Bool(p.DeletionProtection != nil && *p.DeletionProtection),
		DropInvalidHeaderFields: jsii.Bool(true),
	})
	logAccessLogs(s.stack, s.alb, logs, accessLogPrefix)

	target := &elbv2.AddApplicationTargetsProps{
		Port:     jsii.Number(p.Task.AppPort()),
		Protocol: elbv2.ApplicationProtocol_HTTP,
		Targets: &[]elbv2.IApplicationLoadBalancerTarget{s.service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
			ContainerName: p.Task.AppContainer().ContainerName(),
			ContainerPort: jsii.Number(p.Task.AppPort()),
		})},
		HealthCheck: &elbv2.HealthCheck{
			Path:                    jsii.String(HealthCheckPath),
			HealthyHttpCodes:        jsii.String("200"),
			Interval:                stackvalues.Seconds(s.stack, healthCheckIntervalSecs),
			Timeout:                 stackvalues.Seconds(s.stack, healthCheckTimeoutSecs),
			HealthyThresholdCount:   jsii.Number(healthyThresholdCount),
			UnhealthyThresholdCount: jsii.Number(unhealthyThresholdCount),
		},
		// Old tasks finish their requests within ECS's 30 s stop timeout.
		DeregistrationDelay: stackvalues.Seconds(s.stack, deregistrationDelaySecs),
	}

	scheme := "http"
	if p.CertificateArn != nil {
		scheme = "https"
		https := s.alb.AddListener(jsii.String("Https"), &elbv2.BaseApplicationListenerProps{
			Port:         jsii.Number(httpsPort),
			Protocol:     elbv2.ApplicationProtocol_HTTPS,
			Certificates: &[]elbv2.IListenerCertificate{awscertificatemanager.Certificate_FromCertificateArn(s, jsii.String("Certificate"), p.CertificateArn)},
			SslPolicy:    elbv2.SslPolicy_RECOMMENDED_TLS,
			Open:         jsii.Bool(true),
		})
		https.AddTargets(jsii.String("App"), target)
		s.alb.AddRedirect(&elbv2.ApplicationLoadBalancerRedirectConfig{
			SourcePort: jsii.Number(httpPort), SourceProtocol: elbv2.ApplicationProtocol_HTTP,
			TargetPort: jsii.Number(httpsPort), TargetProtocol: elbv2.ApplicationProtocol_HTTPS,
		})
	} else {
		http := s.alb.AddListener(jsii.String("Http"), &elbv2.BaseApplicationListenerProps{
			Port:     jsii.Number(httpPort),
			Protocol: elbv2.ApplicationProtocol_HTTP,
			Open:     jsii.Bool(true),
		})
		http.AddTargets(jsii.String("App"), target)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(albSG, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-EC23"),
		Reason: jsii.String("The load balancer serves Cruddur's public API: ports 80 and 443 are open to the internet on purpose, and only those."),
	}}, jsii.Bool(false))
	s.url = jsii.String(scheme + "://" + *s.alb.LoadBalancerDnsName())
}

// logAccessLogs sends the load balancer's access logs to bucket. aws-cdk-lib's
// LogAccessLogs needs a concrete region to pick the principal that writes
// them, so for an environment-agnostic stack the same three statements are
// written here with the region's Elastic Load Balancing account looked up at
// deploy time (aws-cdk-lib's own table of those accounts, as a CfnMapping).
// Regions opened since August 2022 are not in that table: deploy there with
// cruddur:region set, and aws-cdk-lib's own method takes over.
func logAccessLogs(stack awscdk.Stack, alb elbv2.ApplicationLoadBalancer, bucket awss3.Bucket, prefix string) {
	if !*awscdk.Token_IsUnresolved(stack.Region()) {
		alb.LogAccessLogs(bucket, &prefix)
		return
	}
	alb.SetAttribute(jsii.String("access_logs.s3.enabled"), jsii.String("true"))
	alb.SetAttribute(jsii.String("access_logs.s3.bucket"), bucket.BucketName())
	alb.SetAttribute(jsii.String("access_logs.s3.prefix"), &prefix)
	objects := bucket.ArnForObjects(jsii.String(prefix + "/AWSLogs/" + *stack.Account() + "/*"))
	elbAccount := stack.RegionalFact(stackvalues.Constant(stack, "ELBV2_ACCOUNT", regioninfo.FactName_ELBV2_ACCOUNT), nil)
	logDelivery := awsiam.NewServicePrincipal(jsii.String("delivery.logs.amazonaws.com"), nil)
	// The bucket's policy exists already: EnforceSSL put its TLS-only
	// statement there. Adding to its document is one jsii round trip for the
	// three statements; bucket.AddToResourcePolicy is one each, and jsii
	// fetches each call's result field by field.
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
	alb.Node().AddDependency(policy)
}

// Cluster is the ECS cluster the service runs in.
func (s *TracedService) Cluster() awsecs.Cluster { return s.cluster }

// Service is the Fargate service.
func (s *TracedService) Service() awsecs.FargateService { return s.service }

// LoadBalancer is the load balancer, or nil when it is switched off.
func (s *TracedService) LoadBalancer() elbv2.ApplicationLoadBalancer { return s.alb }

// URL is the service's address through the load balancer, or nil without one.
func (s *TracedService) URL() *string { return s.url }
