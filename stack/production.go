package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// What a production stage adds: a customer-managed key for its logs, AWS WAF
// in front of its load balancer, and the exemptions from AWS Control Tower's
// controls and cdk-nag's NIST 800-53 pack that stand, each on its one resource
// with its reason (docs/guardrails.md lists them).

// requestsPerIPPer5Min is the WAF rate-based rule's limit: an address that
// sends more in five minutes is blocked until it slows down.
const requestsPerIPPer5Min = 1000

// stackKey is the stack's key, rotated yearly: it encrypts the alarm topic,
// which CloudWatch alarms and EventBridge publish to, and in production every
// log group, which CloudWatch Logs in the stack's region may use it for.
func stackKey(stack awscdk.Stack, logs bool) awskms.Key {
	key := awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the alarm topic and, in production, the log groups of " + *stack.StackName()),
		EnableKeyRotation: jsii.Bool(true),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{
			awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		},
		Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources: jsii.Strings("*"),
		// Only through SNS, for this account's topics: SNS names the topic
		// in the encryption context of every key it asks for.
		Conditions: &map[string]any{"StringLike": map[string]any{
			"kms:EncryptionContext:aws:sns:topicArn": stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("sns"), Resource: jsii.String("*"), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME}),
		}},
	}), nil)
	// Grants only for AWS resources, made by AWS services (CT.KMS.PR.3).
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"BoolIfExists": map[string]any{"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
	}), nil)
	if !logs {
		return key
	}
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+*stack.Region()+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("logs"), Resource: jsii.String("log-group"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME}),
		}},
	}), nil)
	return key
}

// webACL puts AWS WAF in front of the load balancer: AWS's managed rule groups
// for common exploits, known bad inputs and addresses with a bad reputation,
// and a rate limit per address, with its decisions logged.
func webACL(scope constructs.Construct, lb elbv2.ApplicationLoadBalancer, logs func(constructs.Construct, string, *string) awslogs.LogGroup) {
	stack := awscdk.Stack_Of(scope)
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(name), SampledRequestsEnabled: jsii.Bool(true),
		}
	}
	rules := []any{&awswafv2.CfnWebACL_RuleProperty{
		Name: jsii.String("RatePerAddress"), Priority: jsii.Number(0),
		Action:           &awswafv2.CfnWebACL_RuleActionProperty{Block: map[string]any{}},
		Statement:        &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{Limit: jsii.Number(requestsPerIPPer5Min), AggregateKeyType: jsii.String("IP")}},
		VisibilityConfig: visibility("RatePerAddress"),
	}}
	for i, group := range []string{"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} {
		rules = append(rules, &awswafv2.CfnWebACL_RuleProperty{
			Name: jsii.String(group), Priority: jsii.Number(i + 1),
			OverrideAction:   &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
			Statement:        &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{VendorName: jsii.String("AWS"), Name: jsii.String(group)}},
			VisibilityConfig: visibility(group),
		})
	}
	acl := awswafv2.NewCfnWebACL(scope, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: map[string]any{}},
		VisibilityConfig: visibility("WebAcl"),
		Rules:            &rules,
	})
	awswafv2.NewCfnWebACLAssociation(scope, jsii.String("WebAclAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: lb.LoadBalancerArn(), WebAclArn: acl.AttrArn(),
	})
	// WAF logs only to log groups whose names start with aws-waf-logs-, so
	// CloudFormation cannot name it; the name ends in the stack's own id
	// (the last part of AWS::StackId), which each create of the stack
	// draws anew: the group a destroyed stack kept never collides with the
	// next create's. A service other than the stack's first adds its
	// construct's id.
	prefix := "aws-waf-logs-" + *stack.StackName() + "-"
	if !isStack(scope) {
		prefix += *scope.Node().Id() + "-"
	}
	wafLogs := logs(scope, "WebAclLogs", awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String(prefix),
		awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), stack.StackId(), nil)),
	}))
	// The logs keep a year: not the callers' credentials. WAF writes every
	// header it saw, and replaces a redacted one's value with REDACTED.
	var redacted []any
	for _, header := range redactedHeaders {
		// SingleHeader is plain JSON to aws-cdk-lib (its schema type is
		// "Json"), so it is written as CloudFormation spells it: the typed
		// SingleHeaderProperty would come out as {"name": ...}, which WAF
		// does not take.
		redacted = append(redacted, &awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{
			SingleHeader: map[string]any{"Name": header},
		})
	}
	awswafv2.NewCfnLoggingConfiguration(scope, jsii.String("WebAclLogging"), &awswafv2.CfnLoggingConfigurationProps{
		ResourceArn: acl.AttrArn(), LogDestinationConfigs: &[]any{wafLogs.LogGroupArn()},
		RedactedFields: redacted,
	})
}

// redactedHeaders are the request headers WAF's logs keep no value of: the
// caller's credentials.
var redactedHeaders = []string{"authorization", "cookie"}

// exempt records, on one resource, the Control Tower controls (cfn-guard rule
// names) it does not meet and why; cfn-guard skips them there.
func exempt(resource awscdk.CfnResource, reason string, rules ...string) {
	resource.AddMetadata(jsii.String("guard"), map[string]any{"SuppressedRules": rules, "Reason": reason})
}

// nagExempt suppresses cdk-nag rules on one construct and its children, each
// with the reason.
func nagExempt(c constructs.IConstruct, reason string, ids ...string) {
	for _, id := range ids {
		nagSuppress(c, true, id, reason)
	}
}

// nagSuppress suppresses one cdk-nag rule on c, with its reason: on c's
// children too when children is true, and, when appliesTo is given, for
// those findings only (such as "Resource::*").
func nagSuppress(c constructs.IConstruct, children bool, id, reason string, appliesTo ...any) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		s.AppliesTo = &appliesTo
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(children))
}

// isStack says whether scope is a stack itself.
func isStack(scope constructs.Construct) bool { return *awscdk.Stack_IsStack(scope) }

// platformExemptions records the Control Tower controls and cdk-nag NIST
// 800-53 rules that stand in production on the platform's resources.
func platformExemptions(stack awscdk.Stack, cfg *Config) {
	// CDK's own provider behind VPC's RestrictDefaultSecurityGroup: a
	// Lambda function that runs during deploys only, to remove the default
	// security group's rules.
	if provider, ok := stack.Node().TryFindChild(jsii.String("Custom::VpcRestrictDefaultSGCustomResourceProvider")).(constructs.IConstruct); ok {
		if handler, ok := provider.Node().TryFindChild(jsii.String("Handler")).(awscdk.CfnResource); ok {
			exempt(handler, "aws-cdk-lib's custom-resource provider that empties the VPC's default security group; it runs only while CloudFormation deploys and calls the EC2 API, so a VPC would add NAT traffic and nothing it needs",
				"lambda_inside_vpc_check")
		}
	}
	if cfg.VpcID == "" {
		for _, subnet := range []string{"PublicSubnet1", "PublicSubnet2"} {
			nagExempt(find(stack, "Vpc", subnet, "DefaultRoute"),
				"A public subnet's route to the internet gateway: only the internet-facing load balancer and the NAT gateways live there, and no address in it is assigned a public IP on launch.",
				"NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW")
		}
		nagExempt(find(stack, "Vpc", "FlowLog", "IAMRole", "DefaultPolicy"), grantReason, "NIST.800.53.R5-IAMNoInlinePolicy")
	}
}

// serviceExemptions records the Control Tower controls and cdk-nag NIST
// 800-53 rules that stand in production on a service's resources.
func serviceExemptions(scope constructs.Construct, svc *Service) {
	const bucketReason = "Holds the load balancer's access logs: Elastic Load Balancing writes them only with SSE-S3 keys; logging, notifying or replicating this bucket's own objects would only move the question to another bucket; its lifecycle deletes logs after 90 days, which object lock would prevent"
	bucket := find(scope, "AccessLogs")
	exempt(bucket.Node().DefaultChild().(awscdk.CfnResource), bucketReason,
		"s3_bucket_default_encryption_kms_check", "s3_bucket_logging_enabled_check", "s3_event_notifications_enabled_check", "s3_bucket_object_lock_enabled_check")
	nagExempt(bucket, bucketReason, "NIST.800.53.R5-S3DefaultEncryptionKMS", "NIST.800.53.R5-S3BucketLoggingEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")

	if svc.CertificateArn != "" {
		nagExempt(find(scope, "LoadBalancer", "PublicRedirectListener"),
			"This listener only redirects HTTP to HTTPS on 443, which has the ACM certificate; it serves nothing itself.",
			"NIST.800.53.R5-ELBv2ACMCertificateRequired")
	}
	// aws-cdk-lib's grants: each AWS::IAM::Policy is attached to the one
	// role it was written for and names its resources.
	for _, path := range [][]string{{"Task", "ExecutionRole", "DefaultPolicy"}, {"Tracing", "Policy"}} {
		nagExempt(find(scope, path...), grantReason, "NIST.800.53.R5-IAMNoInlinePolicy")
	}
}

// grantReason is why an inline policy aws-cdk-lib's grants write is kept.
const grantReason = "A least-privilege grant aws-cdk-lib writes for exactly one role, as an AWS::IAM::Policy attached to it; a customer-managed policy would be the same statements, reusable by roles that should not have them."

// find is the construct at path below root; it panics, naming the path, if
// aws-cdk-lib no longer puts it there.
func find(root constructs.IConstruct, path ...string) constructs.IConstruct {
	c := root
	for _, id := range path {
		next := c.Node().TryFindChild(jsii.String(id))
		if next == nil {
			panic(fmt.Errorf("stack: no construct %s below %s", id, *c.Node().Path()))
		}
		c = next
	}
	return c
}
