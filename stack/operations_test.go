package stack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// alarms returns a variant's alarms by description, with their metric.
func alarms(t *testing.T, id string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, a := range resources(t, id, "AWS::CloudWatch::Alarm") {
		out[a["AlarmDescription"].(string)] = a
	}
	return out
}

// TestEveryAlarmNotifiesTheTopicWhenItFiresAndClears: on the groups' ApproximateTraceCount and on the load
// balancer's 5xx and p99 response time, thresholds from context, every one
// notifying the one topic when it fires and when it clears.
func TestEveryAlarmNotifiesTheTopicWhenItFiresAndClears(t *testing.T) {
	for id, want := range map[string][]string{
		"Default": {
			"Cruddur: 10 or more 5xx responses in 5 minutes, from the tasks or the load balancer",
			"Cruddur: 10 or more sampled traces slower than 1s in 5 minutes (X-Ray group Cruddur-slow)",
			"Cruddur: 20 or more requests in each 5 minutes for 15 minutes and no trace in X-Ray group Cruddur: tracing has stopped: is the tracing sidecar running, and may it call X-Ray?",
			"Cruddur: 5 or more sampled traces with a fault in 5 minutes (X-Ray group Cruddur-faults)",
			"Cruddur: p99 response time of 1s or more for 15 minutes",
		},
		"Operations": {
			"Cruddur: 10 or more 5xx responses in 5 minutes, from the tasks or the load balancer",
			"Cruddur: 10 or more sampled traces slower than 0.5s in 5 minutes (X-Ray group Cruddur-slow)",
			"Cruddur: 200 or more requests in each 5 minutes for 15 minutes and no trace in X-Ray group Cruddur: tracing has stopped: is the tracing sidecar running, and may it call X-Ray?",
			"Cruddur: 3 or more sampled traces with a fault in 5 minutes (X-Ray group Cruddur-faults)",
			"Cruddur: p99 response time of 2s or more for 15 minutes",
		},
		"NoLoadBalancer": {
			"Cruddur: 10 or more sampled traces slower than 1s in 5 minutes (X-Ray group Cruddur-slow)",
			"Cruddur: 5 or more sampled traces with a fault in 5 minutes (X-Ray group Cruddur-faults)",
		},
	} {
		got := alarms(t, id)
		var names []string
		for name, a := range got {
			names = append(names, name)
			topic := []any{map[string]any{"Ref": "Alarms04B5A0BF"}}
			if fmt.Sprint(a["AlarmActions"]) != fmt.Sprint(topic) || fmt.Sprint(a["OKActions"]) != fmt.Sprint(topic) {
				t.Errorf("%s: %q notifies %v / %v", id, name, a["AlarmActions"], a["OKActions"])
			}
		}
		sort.Strings(names)
		if strings.Join(names, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: alarms\n%s\nwant\n%s", id, strings.Join(names, "\n"), strings.Join(want, "\n"))
		}
	}
	check(t, "the fault alarm counts the faults group's traces", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Metrics": []any{assertions.Match_ObjectLike(&map[string]any{"MetricStat": map[string]any{
				"Metric": map[string]any{"Namespace": "AWS/X-Ray", "MetricName": "ApproximateTraceCount", "Dimensions": []any{map[string]any{"Name": "GroupName", "Value": "Cruddur-faults"}}},
				"Period": 300, "Stat": "Sum",
			}})},
			"Threshold": 5, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
		})
	})
	check(t, "the latency alarm reads the target response time's p99", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Metrics": []any{assertions.Match_ObjectLike(&map[string]any{"MetricStat": assertions.Match_ObjectLike(&map[string]any{
				"Metric": assertions.Match_ObjectLike(&map[string]any{"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime"}), "Stat": "p99",
			})})},
			"EvaluationPeriods": 3, "Threshold": 1,
		})
	})
	check(t, "the no-traces alarm: 20 requests or more and no trace in the service's group, 3 periods running", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Metrics": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Expression": "IF(FILL(requests, 0) >= 20 AND FILL(traces, 0) == 0, 1, 0)"}),
				assertions.Match_ObjectLike(&map[string]any{"Id": "requests", "MetricStat": assertions.Match_ObjectLike(&map[string]any{
					"Metric": assertions.Match_ObjectLike(&map[string]any{"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount"}), "Stat": "Sum", "Period": 300})}),
				assertions.Match_ObjectLike(&map[string]any{"Id": "traces", "MetricStat": assertions.Match_ObjectLike(&map[string]any{
					"Metric": map[string]any{"Namespace": "AWS/X-Ray", "MetricName": "ApproximateTraceCount", "Dimensions": []any{map[string]any{"Name": "GroupName", "Value": "Cruddur"}}}, "Stat": "Sum", "Period": 300})}),
			}),
			"Threshold": 1, "EvaluationPeriods": noTracesPeriods, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
		})
	})
	check(t, "the 5xx alarm adds the tasks' and the load balancer's", func() {
		for _, m := range []any{
			assertions.Match_ObjectLike(&map[string]any{"Expression": "FILL(target, 0) + FILL(lb, 0)"}),
			assertions.Match_ObjectLike(&map[string]any{"Id": "target", "MetricStat": assertions.Match_ObjectLike(&map[string]any{"Metric": assertions.Match_ObjectLike(&map[string]any{"MetricName": "HTTPCode_Target_5XX_Count"})})}),
			assertions.Match_ObjectLike(&map[string]any{"Id": "lb", "MetricStat": assertions.Match_ObjectLike(&map[string]any{"Metric": assertions.Match_ObjectLike(&map[string]any{"MetricName": "HTTPCode_ELB_5XX_Count"})})}),
		} {
			tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{"Metrics": assertions.Match_ArrayWith(&[]any{m})})
		}
	})
}

func TestOneEncryptedTLSOnlyTopicEmailsOnlyWhenAsked(t *testing.T) {
	check(t, "one topic, encrypted with the stack's key, TLS only; e-mail only when asked", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::SNS::Topic"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": map[string]any{"Fn::GetAtt": []any{"Key961B73FD", "Arn"}}})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}})})},
		})
		tmpl("Default").ResourceCountIs(jsii.String("AWS::SNS::Subscription"), jsii.Number(0))
		tmpl("Operations").HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "oncall@example.com"})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": []any{"cloudwatch.amazonaws.com", "events.amazonaws.com"}}}),
		})}})
	})
}

// TestInsightsNotifyTheTopicOnlyWhenOn: Insights on the main group, its events routed through
// EventBridge to the topic; off by default, notifications following Insights.
func TestInsightsNotifyTheTopicOnlyWhenOn(t *testing.T) {
	check(t, "off by default", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::Events::Rule"), jsii.Number(0))
	})
	check(t, "with Insights: the group notifies, and an EventBridge rule sends its events to the topic", func() {
		tmpl("Operations").HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"GroupName": "Cruddur", "InsightsConfiguration": map[string]any{"InsightsEnabled": true, "NotificationsEnabled": true},
		})
		tmpl("Operations").HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"EventPattern": map[string]any{"source": []any{"aws.xray"}, "detail-type": []any{"AWS X-Ray Insight Update"}, "detail": map[string]any{"GroupName": []any{"Cruddur"}}},
			"Targets":      []any{assertions.Match_ObjectLike(&map[string]any{"Arn": map[string]any{"Ref": "Alarms04B5A0BF"}})},
		})
	})
}

func TestTheDashboardShowsTracesRequestsAndResources(t *testing.T) {
	for id, want := range map[string][]string{
		"Default":        {`"ApproximateTraceCount","GroupName","Cruddur-faults"`, `"RequestCount"`, `FILL(target, 0) + FILL(lb, 0)`, `"TargetResponseTime"`, `"CPUUtilization"`, `"MemoryUtilization"`},
		"NoLoadBalancer": {`"ApproximateTraceCount","GroupName","Cruddur-slow"`, `"CPUUtilization"`},
	} {
		boards := resources(t, id, "AWS::CloudWatch::Dashboard")
		if len(boards) != 1 {
			t.Fatalf("%s: %d dashboards", id, len(boards))
		}
		for _, b := range boards {
			body, _ := json.Marshal(b["DashboardBody"])
			for _, w := range want {
				if !strings.Contains(strings.ReplaceAll(string(body), `\"`, `"`), w) {
					t.Errorf("%s: the dashboard lacks %s", id, w)
				}
			}
		}
	}
	check(t, "its address and the X-Ray console's among the outputs", func() {
		tmpl("Default").HasOutput(jsii.String("DashboardUrl"), assertions.Match_AnyValue())
		tmpl("Default").HasOutput(jsii.String("XRayTracesUrl"), assertions.Match_AnyValue())
	})
}

// TestEveryPublisherMayPublishAndNoOneElse reads the alarm topic's policy and
// its key's policy together: every alarm's publisher (CloudWatch, for this
// account's alarms) and every EventBridge rule's (for that rule) may publish
// and use the key; no other service may do either.
func TestEveryPublisherMayPublishAndNoOneElse(t *testing.T) {
	for _, id := range []string{"Default", "Operations", "Production", "NoLoadBalancer"} {
		var allowed []string // "service action condition"
		for pid, p := range resources(t, id, "AWS::SNS::TopicPolicy") {
			for _, st := range policyDocument(t, pid, p["PolicyDocument"])["Statement"].([]any) {
				s := st.(map[string]any)
				if s["Effect"] != "Allow" {
					continue
				}
				cond, _ := json.Marshal(s["Condition"])
				principal, _ := json.Marshal(s["Principal"])
				allowed = append(allowed, string(principal)+" "+fmt.Sprint(s["Action"])+" "+string(cond))
			}
		}
		want := []string{`{"Service":"cloudwatch.amazonaws.com"} sns:Publish {"ArnLike":{"aws:SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":cloudwatch:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":alarm:*"]]}},"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}}`}
		// The topic is the platform's: every service's rule publishes.
		for rid := range allResources(t, id, "AWS::Events::Rule") {
			want = append(want, `{"Service":"events.amazonaws.com"} sns:Publish {"ArnEquals":{"aws:SourceArn":{"Fn::GetAtt":["`+rid+`","Arn"]}}}`)
		}
		sort.Strings(allowed)
		sort.Strings(want)
		if strings.Join(allowed, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: the topic allows\n%s\nwant\n%s", id, strings.Join(allowed, "\n"), strings.Join(want, "\n"))
		}
		if len(alarms(t, id)) == 0 {
			t.Errorf("%s: no alarms to publish", id)
		}
		// The key: the account's administrators, and exactly the two
		// publishers' services.
		for kid, k := range resources(t, id, "AWS::KMS::Key") {
			var services []string
			for _, st := range policyDocument(t, kid, k["KeyPolicy"])["Statement"].([]any) {
				s := st.(map[string]any)
				principal, _ := s["Principal"].(map[string]any)
				if s["Effect"] != "Allow" || principal["Service"] == nil {
					continue
				}
				raw, _ := json.Marshal(principal["Service"])
				actions, _ := json.Marshal(s["Action"])
				services = append(services, string(raw)+" "+string(actions))
			}
			wantKey := []string{`["cloudwatch.amazonaws.com","events.amazonaws.com"] ["kms:Decrypt","kms:GenerateDataKey*"]`}
			if id == "Production" {
				wantKey = append(wantKey, `{"Fn::Join":["",["logs.",{"Ref":"AWS::Region"},".amazonaws.com"]]} ["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"]`)
			}
			if strings.Join(services, "\n") != strings.Join(wantKey, "\n") {
				t.Errorf("%s: the key lets services\n%s\nwant\n%s", id, strings.Join(services, "\n"), strings.Join(wantKey, "\n"))
			}
		}
	}
}
