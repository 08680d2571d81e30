package stack

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsxray"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/xray"
)

// What an on-call engineer acts on: X-Ray groups of the service's faults and
// slow requests, alarms on them and on the load balancer, one topic they all
// notify (and X-Ray Insights, through EventBridge), and one dashboard.

// alarmPeriod is the window every alarm counts over.
const alarmPeriod = 5 * 60

// noTracesPeriods is how many alarm periods of requests without traces
// raise the no-traces alarm: X-Ray publishes ApproximateTraceCount once a
// minute, so a quiet quarter of an hour is not a late metric.
const noTracesPeriods = 3

// alarmTopic is the one topic every alarm and Insights notification of the
// stack's services goes to, encrypted with the stack's key.
func alarmTopic(stack awscdk.Stack, cfg *Config, key awskms.IKey) awssns.Topic {
	topic := awssns.NewTopic(stack, jsii.String("Alarms"), &awssns.TopicProps{
		DisplayName: jsii.String(cfg.ServiceName + " alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	if cfg.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(&cfg.AlarmEmail, nil))
	}
	// A topic policy replaces SNS's default one, so CloudWatch alarms may
	// publish only when it says so: this account's alarms, as the AWS
	// knowledge center's "Why didn't I receive an SNS notification for my
	// CloudWatch alarm trigger" gives it.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsOfThisAccount"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{
			"ArnLike": map[string]any{"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("cloudwatch"), Resource: jsii.String("alarm"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			})},
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		},
	}))
	return topic
}

// alarms adds a service's groups of faults and slow requests, its alarms on
// them and on its load balancer, and its dashboard widgets.
func (p *platform) alarms(scope constructs.Construct, svc *Service, main *xray.Group, service awsecs.FargateService, lb elbv2.ApplicationLoadBalancer) {
	faults, slow := faultAndSlowGroups(scope, svc)
	notify := awscloudwatchactions.NewSnsAction(p.topic)
	alarm := func(id, what string, metric awscloudwatch.IMetric, threshold float64, periods float64) {
		a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(what),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(notify)
		a.AddOkAction(notify)
	}
	traces := func(group *xray.Group, label string) awscloudwatch.Metric {
		return group.MetricApproximateTraceCount(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Seconds(jsii.Number(alarmPeriod)), Label: jsii.String(label)})
	}
	alarm("FaultTracesAlarm", fmt.Sprintf("%s: %d or more sampled traces with a fault in 5 minutes (X-Ray group %s)", svc.ServiceName, svc.FaultTracesThreshold, *faults.GroupName()),
		traces(faults, "faults"), float64(svc.FaultTracesThreshold), 1)
	alarm("SlowTracesAlarm", fmt.Sprintf("%s: %d or more sampled traces slower than %gs in 5 minutes (X-Ray group %s)", svc.ServiceName, svc.SlowTracesThreshold, svc.SlowRequestSeconds, *slow.GroupName()),
		traces(slow, "slow"), float64(svc.SlowTracesThreshold), 1)

	period := awscdk.Duration_Seconds(jsii.Number(alarmPeriod))
	widgets := []awscloudwatch.IWidget{awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("Traced requests (sampled)"), Width: jsii.Number(8),
		Left: &[]awscloudwatch.IMetric{traces(main, "all"), traces(faults, "faults"), traces(slow, "slow")},
	})}
	if lb != nil {
		errors := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("FILL(target, 0) + FILL(lb, 0)"), Label: jsii.String("5xx"), Period: period,
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"target": lb.Metrics().HttpCodeTarget(elbv2.HttpCodeTarget_TARGET_5XX_COUNT, &awscloudwatch.MetricOptions{Period: period}),
				"lb":     lb.Metrics().HttpCodeElb(elbv2.HttpCodeElb_ELB_5XX_COUNT, &awscloudwatch.MetricOptions{Period: period}),
			},
		})
		latency := lb.Metrics().TargetResponseTime(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: period, Label: jsii.String("p99")})
		alarm("ServerErrorsAlarm", fmt.Sprintf("%s: %d or more 5xx responses in 5 minutes, from the tasks or the load balancer", svc.ServiceName, svc.ServerErrorsThreshold),
			errors, float64(svc.ServerErrorsThreshold), 1)
		alarm("LatencyAlarm", fmt.Sprintf("%s: p99 response time of %gs or more for 15 minutes", svc.ServiceName, svc.LatencyP99Seconds),
			latency, svc.LatencyP99Seconds, 3)
		// Tracing that stops while the service serves (a collector that
		// exits, aws/aws-xray-daemon#101, a lost permission): requests
		// through the load balancer, and no trace in the service's group.
		// Health checks are neither requests here nor traced.
		missing := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf("IF(FILL(requests, 0) >= %d AND FILL(traces, 0) == 0, 1, 0)", svc.NoTracesRequestsThreshold)),
			Label:      jsii.String("requests without traces"), Period: period,
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"requests": lb.Metrics().RequestCount(&awscloudwatch.MetricOptions{Period: period}),
				"traces":   traces(main, "traces"),
			},
		})
		alarm("NoTracesAlarm", fmt.Sprintf("%s: %d or more requests in each 5 minutes for 15 minutes and no trace in X-Ray group %s: tracing has stopped: is the tracing sidecar running, and may it call X-Ray?", svc.ServiceName, svc.NoTracesRequestsThreshold, *main.GroupName()),
			missing, 1, noTracesPeriods)
		widgets = append(widgets,
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("Load balancer: requests and 5xx"), Width: jsii.Number(8),
				Left: &[]awscloudwatch.IMetric{lb.Metrics().RequestCount(&awscloudwatch.MetricOptions{Period: period}), errors},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("Response time (s)"), Width: jsii.Number(8),
				Left: &[]awscloudwatch.IMetric{lb.Metrics().TargetResponseTime(&awscloudwatch.MetricOptions{Statistic: jsii.String("p50"), Period: period, Label: jsii.String("p50")}), latency},
			}))
	}
	widgets = append(widgets, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("Service: CPU and memory (%)"), Width: jsii.Number(8),
		Left: &[]awscloudwatch.IMetric{service.MetricCpuUtilization(&awscloudwatch.MetricOptions{Period: period}), service.MetricMemoryUtilization(&awscloudwatch.MetricOptions{Period: period})},
	}))
	p.widgets = append(p.widgets, widgets...)

	if svc.InsightsNotificationsEnabled {
		insightsToTopic(scope, main, p.topic)
	}
}

// faultAndSlowGroups are the X-Ray groups of a service's faults and of its
// requests slower than cfg.SlowRequestSeconds.
func faultAndSlowGroups(scope constructs.Construct, svc *Service) (faults, slow *xray.Group) {
	faults = xray.NewGroup(scope, "FaultsGroup", &xray.GroupProps{
		GroupName:        jsii.String(svc.GroupName + faultsSuffix),
		FilterExpression: jsii.String(svc.ServiceFilter + " { fault = true }"),
	})
	slow = xray.NewGroup(scope, "SlowGroup", &xray.GroupProps{
		GroupName:        jsii.String(svc.GroupName + slowSuffix),
		FilterExpression: jsii.String(svc.ServiceFilter + " AND responsetime > " + strconv.FormatFloat(svc.SlowRequestSeconds, 'g', -1, 64)),
	})
	return faults, slow
}

// insightsToTopic sends the group's X-Ray Insights events to the topic.
func insightsToTopic(scope constructs.Construct, main *xray.Group, topic awssns.ITopic) {
	// Insights events for this group, from EventBridge's default bus
	// (AWS service events there cost nothing), to the same topic.
	awsevents.NewRule(scope, jsii.String("InsightsNotifications"), &awsevents.RuleProps{
		Description: jsii.String("X-Ray Insights on " + *main.GroupName() + " to the alarm topic"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.xray"),
			DetailType: jsii.Strings("AWS X-Ray Insight Update"),
			Detail:     &map[string]any{"GroupName": []any{*main.GroupName()}},
		},
		Targets: &[]awsevents.IRuleTarget{&ruleToTopic{topic: topic}},
	})
}

// ruleToTopic is an EventBridge target that publishes to the alarm topic,
// allowed for that one rule only: aws-cdk-lib's own SNS target allows every
// EventBridge rule of every account (events.amazonaws.com, no condition).
type ruleToTopic struct{ topic awssns.ITopic }

// Bind allows the rule, by its ARN, to publish to the topic.
func (t *ruleToTopic) Bind(rule interfacesawsevents.IRuleRef, _ *string) *awsevents.RuleTargetConfig {
	t.topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EventBridgeRuleOfThisStack"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{t.topic.TopicArn()},
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": rule.RuleRef().RuleArn}},
	}))
	return &awsevents.RuleTargetConfig{Arn: t.topic.TopicArn()}
}

// transactionSearch turns on X-Ray's Transaction Search for the account and
// region: spans go to CloudWatch Logs (aws/spans), indexingPercent of them
// indexed as trace summaries. X-Ray may write there only for this account.
// aws-cdk-lib's logs.ResourcePolicy renders the statements as a policy
// document, tokens and conditions as CloudFormation expects.
func transactionSearch(stack awscdk.Stack, indexingPercent int) {
	arn := func(group string) *string {
		return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("logs"), Resource: jsii.String("log-group"), ResourceName: jsii.String(group + ":*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	}
	policy := awslogs.NewResourcePolicy(stack, jsii.String("TransactionSearchLogsPolicy"), &awslogs.ResourcePolicyProps{
		ResourcePolicyName: jsii.String(*stack.StackName() + "-transaction-search"),
		PolicyStatements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("TransactionSearchXRayAccess"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("xray.amazonaws.com"), nil)},
			Actions:    jsii.Strings("logs:PutLogEvents"),
			Resources:  &[]*string{arn("aws/spans"), arn("/aws/application-signals/data")},
			Conditions: &map[string]any{
				"ArnLike":      map[string]any{"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("xray"), Resource: jsii.String("*")})},
				"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
			},
		})},
	})
	config := awsxray.NewCfnTransactionSearchConfig(stack, jsii.String("TransactionSearch"), &awsxray.CfnTransactionSearchConfigProps{
		IndexingPercentage: jsii.Number(indexingPercent),
	})
	config.Node().AddDependency(policy)
}
