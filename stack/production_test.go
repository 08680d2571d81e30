package stack

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/stack/stages"
)

func TestProductionAddsWAFTheKeyAndProtection(t *testing.T) {
	prod := tmpl("Production")
	check(t, "AWS WAF on the load balancer: a rate limit per address, AWS's managed rule groups, logged", func() {
		prod.HasResourceProperties(jsii.String("AWS::WAFv2::WebACL"), map[string]any{
			"Scope": "REGIONAL", "DefaultAction": map[string]any{"Allow": map[string]any{}},
			"Rules": []any{
				assertions.Match_ObjectLike(&map[string]any{"Name": "RatePerAddress", "Action": map[string]any{"Block": map[string]any{}},
					"Statement": map[string]any{"RateBasedStatement": map[string]any{"Limit": requestsPerIPPer5Min, "AggregateKeyType": "IP"}}}),
				assertions.Match_ObjectLike(&map[string]any{"Name": "AWSManagedRulesAmazonIpReputationList"}),
				assertions.Match_ObjectLike(&map[string]any{"Name": "AWSManagedRulesCommonRuleSet"}),
				assertions.Match_ObjectLike(&map[string]any{"Name": "AWSManagedRulesKnownBadInputsRuleSet"}),
			},
		})
		prod.HasResourceProperties(jsii.String("AWS::WAFv2::WebACLAssociation"), map[string]any{
			"ResourceArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^LoadBalancer"))},
		})
		// Named after the required prefix, the stack and the stack's own
		// id, so a group a destroyed stack kept cannot collide with the next.
		prod.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"LogGroupName": map[string]any{"Fn::Join": []any{"", []any{
			"aws-waf-logs-Production-", map[string]any{"Fn::Select": []any{2, map[string]any{"Fn::Split": []any{"/", map[string]any{"Ref": "AWS::StackId"}}}}},
		}}}})
		prod.ResourceCountIs(jsii.String("AWS::WAFv2::LoggingConfiguration"), jsii.Number(1))
	})
	check(t, "a key of its own for the logs, rotated, usable by CloudWatch Logs for this account's log groups", func() {
		prod.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
			"EnableKeyRotation": true,
			"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Action": "kms:CreateGrant"}),
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Allow", "Condition": map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": assertions.Match_AnyValue()}}}),
			})},
		})
	})
	check(t, "two NAT gateways; deletion protection; HTTPS with a redirect from HTTP", func() {
		prod.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(2))
		prod.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deletion_protection.enabled", "Value": "true"}}),
		})
		prod.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 443, "Protocol": "HTTPS"})
		prod.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 80, "DefaultActions": []any{assertions.Match_ObjectLike(&map[string]any{"Type": "redirect"})}})
	})
	groups := resources(t, "Production", "AWS::Logs::LogGroup")
	if len(groups) != 4 {
		t.Errorf("%d log groups, want 4 (app, sidecar, flow log, WAF)", len(groups))
	}
	for id, g := range groups {
		if g["RetentionInDays"] != 365.0 || g["KmsKeyId"] == nil {
			t.Errorf("%s keeps logs %v days, key %v; want 365 and the stack's key", id, g["RetentionInDays"], g["KmsKeyId"])
		}
	}
	for _, id := range []string{"Default", "ADOT"} {
		if len(resources(t, id, "AWS::WAFv2::WebACL")) != 0 {
			t.Errorf("%s: development has a web ACL", id)
		}
		for _, key := range resources(t, id, "AWS::KMS::Key") {
			if policy, _ := json.Marshal(key["KeyPolicy"]); strings.Contains(string(policy), "aws:logs:arn") {
				t.Errorf("%s: development's key is for log groups too", id)
			}
		}
	}
}

// physicalNames lists, for a template, each account-wide name it gives a
// resource, as "type property=value", with the stack's own name resolved.
func physicalNames(t *testing.T, stackName string, template []byte) []string {
	t.Helper()
	var out []string
	for id, r := range templateResources(t, template) {
		if slices.Contains(accountSingletons, r.Type) {
			out = append(out, r.Type+" (one per account and region)")
		}
		for key := range r.Properties {
			if (strings.HasSuffix(key, "Name") || key == "Family") && !slices.Contains(accountNames[r.Type], key) && !slices.Contains(scopedNames[r.Type], key) {
				t.Errorf("%s: %s %s.%s names it: add the property to accountNames or scopedNames", stackName, r.Type, id, key)
			}
		}
		for _, path := range accountNames[r.Type] {
			var v any = r.Properties
			for _, field := range strings.Split(path, ".") {
				m, _ := v.(map[string]any)
				v = m[field]
			}
			if v == nil {
				continue // CloudFormation generates one from the stack's name
			}
			raw, _ := json.Marshal(v)
			value := strings.ReplaceAll(string(raw), `{"Ref":"AWS::StackName"}`, strconvQuote(stackName))
			out = append(out, r.Type+" "+path+"="+value)
		}
	}
	return out
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestStagesSideBySideRepeatNoName: every stage of the app, synthesized into
// one account and region, gives no resource a name another stage gives, so
// both deploy there side by side; production keeps the seed's X-Ray names.
func TestStagesSideBySideRepeatNoName(t *testing.T) {
	seen := map[string]string{} // name -> the stack that gave it
	for _, stage := range stages.All {
		for _, name := range physicalNames(t, stage.StackName, synthesized[stage.StackName].json) {
			if other, dup := seen[name]; dup {
				t.Errorf("stages %s and %s both name %s", other, stage.StackName, name)
			}
			seen[name] = stage.StackName
		}
	}
	for _, want := range []string{`AWS::XRay::Group GroupName="Cruddur"`, `AWS::XRay::SamplingRule SamplingRule.RuleName="Cruddur"`} {
		if seen[want] != stages.Production.StackName {
			t.Errorf("%s is given by %q; want the production stage's %s (the seed's names)", want, seen[want], stages.Production.StackName)
		}
	}
}

// TestAStageNotFilledInStopsAtCloudFormation: a stage the team has not
// filled in carries a CloudFormation rule that fails, with the deploy
// check's line, before any resource changes; a filled-in stage has none.
func TestAStageNotFilledInStopsAtCloudFormation(t *testing.T) {
	var doc struct{ Rules map[string]any }
	if err := json.Unmarshal(synthesized["Production"].json, &doc); err != nil {
		t.Fatal(err)
	}
	rule, _ := json.Marshal(doc.Rules["StageIsFilledIn"])
	want := `"AssertDescription":"stage production (stack Test) is not ready to deploy: fill in Account (the 12-digit AWS account id), Region (such as us-east-1), AlarmEmail (who the alarms notify) in stack/stages/stages.go"`
	if !strings.Contains(string(rule), want) || !strings.Contains(string(rule), `"Fn::Equals":["filled in","not filled in"]`) {
		t.Errorf("production without account, region and e-mail: rule %s; want an assertion that fails with %s", rule, want)
	}
	var filled struct{ Rules map[string]any }
	if err := json.Unmarshal(synthesized["ExistingVpc"].json, &filled); err != nil {
		t.Fatal(err)
	}
	if _, ok := filled.Rules["StageIsFilledIn"]; ok {
		t.Error("a development stage with its account and region still carries the rule")
	}
}

// TestNoKeptNameCollidesWithTheNextCreate: a named resource that outlives
// its stack (kept on delete) has a name the next create of the stack draws
// anew, from AWS::StackId, so a deploy after a destroy does not fail with
// "already exists" on what the last stack kept.
func TestNoKeptNameCollidesWithTheNextCreate(t *testing.T) {
	checked := 0
	for id, v := range synthesized {
		for lid, r := range templateResources(t, v.json) {
			for _, prop := range accountNames[r.Type] {
				name, named := r.Properties[prop]
				if !named || r.DeletionPolicy == "" || r.DeletionPolicy == "Delete" {
					continue
				}
				checked++
				if text, _ := json.Marshal(name); !strings.Contains(string(text), `{"Ref":"AWS::StackId"}`) {
					t.Errorf("%s: %s %s is kept on delete with the fixed %s %s; want a name drawn from AWS::StackId", id, r.Type, lid, prop, text)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no kept resource with a name: the WAF's log group should be one")
	}
}

// TestEveryKeptResourceIsKeptExceptOnCreate: in every variant and stage,
// whatever the stack keeps on delete (log groups, the key, the bucket, made
// by whichever construct) is RetainExceptOnCreate, so a first create that
// fails and rolls back leaves nothing behind; and each keeps something (its
// logs at least), so the check is not passed by keeping nothing.
func TestEveryKeptResourceIsKeptExceptOnCreate(t *testing.T) {
	for id, s := range synthesized {
		kept := 0
		for logicalID, r := range templateResources(t, s.json) {
			switch r.DeletionPolicy {
			case "", "Delete":
			case "RetainExceptOnCreate":
				kept++
			default:
				t.Errorf("%s: %s (%s) has DeletionPolicy %s; want RetainExceptOnCreate, so a failed first create does not leave it behind", id, logicalID, r.Type, r.DeletionPolicy)
			}
		}
		if kept == 0 {
			t.Errorf("%s keeps nothing on delete; want its log groups kept", id)
		}
	}
}

// TestWAFLogsKeepNoCredentials: production's WAF logs, kept a year, hold no
// caller's Authorization or Cookie value: both headers are redacted.
func TestWAFLogsKeepNoCredentials(t *testing.T) {
	check(t, "WAF's logging redacts authorization and cookie", func() {
		tmpl("Production").HasResourceProperties(jsii.String("AWS::WAFv2::LoggingConfiguration"), map[string]any{
			"RedactedFields": []any{
				map[string]any{"SingleHeader": map[string]any{"Name": "authorization"}},
				map[string]any{"SingleHeader": map[string]any{"Name": "cookie"}},
			},
		})
	})
}
