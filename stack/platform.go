package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// platform is what every traced service of a stack shares: the stack's key,
// how its log groups keep logs, the network and the cluster, the alarm topic
// every alarm notifies, and the dashboard each service adds its widgets to.
type platform struct {
	stack   awscdk.Stack
	cfg     *Config
	key     awskms.Key
	vpc     awsec2.IVpc
	cluster awsecs.Cluster
	topic   awssns.Topic
	widgets []awscloudwatch.IWidget
}

// newPlatform defines the shared part of the stack.
func newPlatform(stack awscdk.Stack, cfg *Config) *platform {
	p := &platform{stack: stack, cfg: cfg}
	p.key = stackKey(stack, cfg.Stage.Posture.EncryptedLogs)
	p.vpc = network(stack, cfg, p.logs)
	p.cluster = awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 p.vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	p.topic = alarmTopic(stack, cfg, p.key)
	return p
}

// logs is a log group in scope that keeps its logs as the configuration
// says, encrypted with the stack's key where the posture asks; name is CloudWatch's
// (nil: CloudFormation's).
func (p *platform) logs(scope constructs.Construct, id string, name *string) awslogs.LogGroup {
	var key awskms.IKey
	if p.cfg.Stage.Posture.EncryptedLogs {
		key = p.key
	}
	return awslogs.NewLogGroup(scope, &id, &awslogs.LogGroupProps{
		LogGroupName: name, Retention: retentionDays[p.cfg.LogRetentionDays], EncryptionKey: key,
	})
}

// finish adds what covers every service, once they are all added: the
// dashboard of their widgets, the stack's outputs, Transaction Search when
// asked for, and the exemptions that stand on the shared resources where the
// NIST pack runs.
func (p *platform) finish() {
	dashboard := awscloudwatch.NewDashboard(p.stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		Widgets: &[]*[]awscloudwatch.IWidget{&p.widgets},
	})
	output(p.stack, "DashboardUrl", jsii.String(fmt.Sprintf("https://%[1]s.console.aws.amazon.com/cloudwatch/home?region=%[1]s#dashboards/dashboard/%[2]s", *p.stack.Region(), *dashboard.DashboardName())),
		"The service's CloudWatch dashboard")
	output(p.stack, "AlarmTopicArn", p.topic.TopicArn(), "The SNS topic every alarm and Insights notification goes to")
	if p.cfg.TransactionSearch {
		transactionSearch(p.stack, p.cfg.TransactionSearchIndexingPercent)
	}
	if p.cfg.Stage.Posture.NIST {
		platformExemptions(p.stack, p.cfg)
	}
}
