package stack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestTheGroupFiltersOnTheServiceWithInsightsFromContext(t *testing.T) {
	check(t, "the group filters on the service's name, Insights off", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::XRay::Group"), jsii.Number(3)) // and the faults and slow groups
		tmpl("Default").HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"GroupName": "Cruddur", "FilterExpression": `service("Cruddur")`, "InsightsConfiguration": assertions.Match_Absent(),
		})
	})
	check(t, "Insights and notifications from context", func() {
		tmpl("Orders").HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"GroupName": "orders", "FilterExpression": `service("orders")`,
			"InsightsConfiguration": map[string]any{"InsightsEnabled": true, "NotificationsEnabled": true},
		})
	})
}

func TestSamplingRuleHasTheSeedsValues(t *testing.T) {
	check(t, "the seed's rule, beside the health-check rule", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::XRay::SamplingRule"), jsii.Number(2))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::XRay::SamplingRule"), map[string]any{
			"SamplingRule": assertions.Match_ObjectEquals(&map[string]any{
				"RuleName": "Cruddur", "ResourceARN": "*", "Priority": 9000, "FixedRate": 0.1, "ReservoirSize": 5,
				"ServiceName": "Cruddur", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
			}),
			"Tags": assertions.Match_Absent(),
		})
	})
}

// TestHealthChecksAreNeverSampled: the rule set has a rule for the path the
// load balancer and the container check, tried before the seed's, that
// records nothing.
func TestHealthChecksAreNeverSampled(t *testing.T) {
	var health, seed map[string]any
	for _, r := range resources(t, "Default", "AWS::XRay::SamplingRule") {
		rule := r["SamplingRule"].(map[string]any)
		switch rule["RuleName"] {
		case "Cruddur-health-check":
			health = rule
		case "Cruddur":
			seed = rule
		}
	}
	if health == nil || seed == nil {
		t.Fatal("no health-check rule beside the seed's")
	}
	if health["URLPath"] != healthCheckPath || health["FixedRate"] != 0.0 || health["ReservoirSize"] != 0.0 ||
		health["ServiceName"] != "Cruddur" || health["HTTPMethod"] != "*" || health["Priority"].(float64) >= seed["Priority"].(float64) {
		t.Fatalf("health-check rule %v, seed's %v", health, seed)
	}
}

// TestRuleFieldsLeftOutTakeDefaults: a rule file with only a name and a
// priority matches everything of the service at X-Ray's default rate.
func TestRuleFieldsLeftOutTakeDefaults(t *testing.T) {
	check(t, "orders.json's rule", func() {
		tmpl("Orders").HasResourceProperties(jsii.String("AWS::XRay::SamplingRule"), map[string]any{
			"SamplingRule": assertions.Match_ObjectEquals(&map[string]any{
				"RuleName": "orders", "ResourceARN": "*", "Priority": 10, "FixedRate": 0.05, "ReservoirSize": 1,
				"ServiceName": "orders", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
			}),
			"Tags": []any{map[string]any{"Key": "team", "Value": "web"}},
		})
	})
}

// TestGroupRuleAndSegmentsShareOneServiceName: the group's filter, the rule's ServiceName and the
// name the app's segments carry are one name (the seed's group filtered on
// backend-flask while its app named segments Cruddur, and matched nothing).
func TestGroupRuleAndSegmentsShareOneServiceName(t *testing.T) {
	for _, id := range []string{"Default", "Orders"} {
		var filter, ruleService string
		for logicalID, g := range resources(t, id, "AWS::XRay::Group") {
			if strings.HasPrefix(logicalID, "Group") { // the main group, not the faults or slow ones
				filter = g["FilterExpression"].(string)
			}
		}
		for _, r := range resources(t, id, "AWS::XRay::SamplingRule") {
			ruleService = r["SamplingRule"].(map[string]any)["ServiceName"].(string)
		}
		segments := containers(t, id)["app"].env("AWS_XRAY_TRACING_NAME")
		if ruleService == "" || filter != `service("`+ruleService+`")` || segments != ruleService {
			t.Errorf("%s: group filter %q, rule ServiceName %q, segment name %q", id, filter, ruleService, segments)
		}
	}
}

func TestTheDaemonIsPinnedLoopbackOnlyAndHardened(t *testing.T) {
	check(t, "daemon: pinned image, loopback binds, local mode, region, bounded buffer, non-essential with restarts, hardened", func() {
		tmpl("Daemon").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Name": "xray-daemon", "Image": "public.ecr.aws/xray/aws-xray-daemon:3.6.6", "EntryPoint": []any{"/xray"},
				"Command": []any{"-b", "127.0.0.1:2000", "-t", "127.0.0.1:2000", "-o", "-n", map[string]any{"Ref": "AWS::Region"}, "-m", "64", "-l", "info"},
				"Cpu":     32, "MemoryReservation": 256, "Memory": 256,
				"PortMappings": []any{
					map[string]any{"ContainerPort": 2000, "Protocol": "udp", "Name": "xray-udp"},
					map[string]any{"ContainerPort": 2000, "Protocol": "tcp", "Name": "xray-tcp"},
				},
				"Essential": false, "RestartPolicy": map[string]any{"Enabled": true, "RestartAttemptPeriod": 60},
				"User": "10001", "ReadonlyRootFilesystem": true, "HealthCheck": assertions.Match_Absent(),
				"LogConfiguration": map[string]any{"LogDriver": "awslogs", "Options": assertions.Match_ObjectLike(&map[string]any{
					"awslogs-group": map[string]any{"Ref": "TaskDaemonLogs6640621F"}, "awslogs-stream-prefix": "xray-daemon",
				})},
			})}),
		})
	})
}

func TestTheADOTCollectorRunsTheAppInOpenTelemetryMode(t *testing.T) {
	c := containers(t, "ADOT")
	collector, ok := c["otel-collector"]
	if !ok || len(c) != 2 {
		t.Fatalf("containers %v; want app and otel-collector", c)
	}
	if collector.User != "10001" || collector.Essential {
		t.Errorf("collector user %q essential %v", collector.User, collector.Essential)
	}
	app := c["app"]
	want := map[string]string{
		"CRUDDUR_TRACING": "otel", "OTEL_SERVICE_NAME": "Cruddur", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_XRAY_TRACING_NAME": "Cruddur", "PORT": "4567",
	}
	for k, v := range want {
		if got := app.env(k); got != v {
			t.Errorf("app %s=%q, want %q", k, got, v)
		}
	}
	if len(app.DependsOn) != 1 || app.DependsOn[0].ContainerName != "otel-collector" {
		t.Errorf("app depends on %v", app.DependsOn)
	}
	// The configuration holds the region as a token, resolved at deploy.
	config := collector.env("AOT_CONFIG_CONTENT")
	for _, part := range []string{`"awsxray":{"endpoint":"127.0.0.1:2000","transport":"udp","proxy_server":{"endpoint":"127.0.0.1:2000","region":`, `"limit_mib":204`, `"receivers":["awsxray","otlp"]`} {
		if !strings.Contains(config, part) {
			t.Errorf("the collector's configuration lacks %s: %s", part, config)
		}
	}
}

// TestNoRateIsCopiedIntoTheTask: in OpenTelemetry mode the backend reads
// the X-Ray rules at run time, as in X-Ray mode; the rule file stays the only
// place a rate is written, whatever the rule's FixedRate.
func TestNoRateIsCopiedIntoTheTask(t *testing.T) {
	for _, id := range []string{"ADOT", "ADOTFixedRate", "CloudWatchAgent"} {
		app := containers(t, id)["app"]
		for _, name := range []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"} {
			if got := app.env(name); got != "" {
				t.Errorf("%s: the app's %s=%q", id, name, got)
			}
		}
		if app.env("AWS_XRAY_DAEMON_ADDRESS") != "127.0.0.1:2000" || app.env("CRUDDUR_TRACING") != "otel" {
			t.Errorf("%s: the app is not told where the collector's sampling proxy is: %+v", id, app.Environment)
		}
	}
}

// TestFaultAndSlowGroupsFilterOnTheOneServiceName: X-Ray groups of the service's faults and slow
// requests, their filters built from the one service name.
func TestFaultAndSlowGroupsFilterOnTheOneServiceName(t *testing.T) {
	want := map[string]map[string]string{
		"Default":    {"Cruddur": `service("Cruddur")`, "Cruddur-faults": `service("Cruddur") { fault = true }`, "Cruddur-slow": `service("Cruddur") AND responsetime > 1`},
		"Orders":     {"orders": `service("orders")`, "orders-faults": `service("orders") { fault = true }`, "orders-slow": `service("orders") AND responsetime > 1`},
		"Operations": {"Cruddur": `service("Cruddur")`, "Cruddur-faults": `service("Cruddur") { fault = true }`, "Cruddur-slow": `service("Cruddur") AND responsetime > 0.5`},
	}
	for id, groups := range want {
		got := map[string]string{}
		for _, g := range resources(t, id, "AWS::XRay::Group") {
			got[g["GroupName"].(string)] = g["FilterExpression"].(string)
		}
		if fmt.Sprint(got) != fmt.Sprint(groups) {
			t.Errorf("%s: groups %v, want %v", id, got, groups)
		}
	}
}

// TestTransactionSearchIsOptIn: account-wide, so off unless asked; then
// the config with its indexing percentage, after the logs policy it needs.
func TestTransactionSearchIsOptIn(t *testing.T) {
	check(t, "off by default", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::XRay::TransactionSearchConfig"), jsii.Number(0))
		tmpl("Default").ResourceCountIs(jsii.String("AWS::Logs::ResourcePolicy"), jsii.Number(0))
	})
	check(t, "on: 5% indexed, X-Ray may write the spans log groups", func() {
		tmpl("Operations").HasResource(jsii.String("AWS::XRay::TransactionSearchConfig"), map[string]any{
			"Properties": map[string]any{"IndexingPercentage": 5},
			"DependsOn":  []any{assertions.Match_StringLikeRegexp(jsii.String("^TransactionSearchLogsPolicy"))},
		})
	})
	// The policy is JSON with the account and region in it, so a join:
	// read back as the document CloudWatch Logs will parse.
	policies := resources(t, "Operations", "AWS::Logs::ResourcePolicy")
	if len(policies) != 1 {
		t.Fatalf("%d logs resource policies, want 1", len(policies))
	}
	for id, p := range policies {
		doc := policyDocument(t, id, p["PolicyDocument"])
		want := `{"Statement":[{"Action":"logs:PutLogEvents","Condition":{"ArnLike":{"aws:SourceArn":"arn:${AWS::Partition}:xray:${AWS::Region}:${AWS::AccountId}:*"},"StringEquals":{"aws:SourceAccount":"${AWS::AccountId}"}},"Effect":"Allow","Principal":{"Service":"xray.amazonaws.com"},"Resource":["arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:aws/spans:*","arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/application-signals/data:*"],"Sid":"TransactionSearchXRayAccess"}],"Version":"2012-10-17"}`
		if got, _ := json.Marshal(doc); string(got) != want {
			t.Errorf("the logs resource policy:\n got %s\nwant %s", got, want)
		}
	}
}

// TestTheCloudWatchAgentIsPinnedReadOnlyWithWritableVolumes: the third collector, pinned, not root, read-only with
// writable volumes, and the app in OpenTelemetry mode at the rule's rate.
func TestTheCloudWatchAgentIsPinnedReadOnlyWithWritableVolumes(t *testing.T) {
	c := containers(t, "CloudWatchAgent")
	agent, ok := c["cloudwatch-agent"]
	if !ok || len(c) != 2 || agent.User != "0" || agent.Essential {
		t.Fatalf("containers %v", c)
	}
	for k, v := range map[string]string{"CRUDDUR_TRACING": "otel", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"} {
		if got := c["app"].env(k); got != v {
			t.Errorf("app %s=%q, want %q", k, got, v)
		}
	}
	check(t, "pinned image, read-only root, the agent's writable paths on task volumes", func() {
		tmpl("CloudWatchAgent").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Name": "cloudwatch-agent", "Image": "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300072.0b1766",
				"ReadonlyRootFilesystem": true, "Memory": 256,
				// uid 0 to write Fargate's root-owned empty volumes, and no
				// capability beyond that.
				"User": "0", "LinuxParameters": map[string]any{"Capabilities": map[string]any{"Drop": []any{"ALL"}}},
				"MountPoints": assertions.Match_ArrayWith(&[]any{map[string]any{"ContainerPath": "/opt/aws/amazon-cloudwatch-agent/etc", "ReadOnly": false, "SourceVolume": "cloudwatch-agent-0"}}),
			})}),
			"Volumes": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": "cloudwatch-agent-0"}}),
		})
	})
	check(t, "the task role may send traces, and nothing else", func() {
		tmpl("CloudWatchAgent").HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"PolicyName": assertions.Match_StringLikeRegexp(jsii.String("^TracingPolicy")),
			"PolicyDocument": map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
				"Action": []any{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"},
			})}},
		})
	})
}

// TestNoTaskStartsBeforeItsCollectorMayCallXRay: the service depends on the
// sidecar's policy.
func TestNoTaskStartsBeforeItsCollectorMayCallXRay(t *testing.T) {
	for _, id := range []string{"Default", "NoLoadBalancer", "CloudWatchAgent"} {
		check(t, id+": the service after TracingPolicy", func() {
			tmpl(id).HasResource(jsii.String("AWS::ECS::Service"), map[string]any{
				"DependsOn": assertions.Match_ArrayWith(&[]any{assertions.Match_StringLikeRegexp(jsii.String("^TracingPolicy"))}),
			})
		})
	}
}
