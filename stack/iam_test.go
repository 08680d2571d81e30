package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// policyDocument reads a policy as the service will: an object, or JSON in
// a string or an Fn::Join (its intrinsics written as ${...}, which keeps
// the JSON valid where they sit inside its strings).
func policyDocument(t *testing.T, where string, v any) map[string]any {
	t.Helper()
	if m, ok := v.(map[string]any); ok {
		if join, ok := m["Fn::Join"].([]any); ok && len(join) == 2 {
			var text strings.Builder
			parts, _ := join[1].([]any)
			for _, part := range parts {
				switch p := part.(type) {
				case string:
					text.WriteString(p)
				case map[string]any:
					if ref, ok := p["Ref"].(string); ok {
						text.WriteString("${" + ref + "}")
					} else {
						raw, _ := json.Marshal(p)
						text.WriteString("${" + strings.ReplaceAll(string(raw), `"`, "'") + "}")
					}
				}
			}
			v = text.String()
		} else {
			return m
		}
	}
	text, ok := v.(string)
	if !ok {
		t.Fatalf("%s: a policy document of type %T", where, v)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("%s: the policy document is not JSON: %v\n%s", where, err, text)
	}
	return doc
}

// TestEveryPolicyDocumentIsWellFormed: every policy document of every
// variant and every golden template parses, holds no jsii marker (a Go map
// that jsii passed through as {"$jsii.map": ...}), and gives each condition
// key a string, a list of strings, or an intrinsic.
func TestEveryPolicyDocumentIsWellFormed(t *testing.T) {
	templates := map[string][]byte{}
	for id, v := range synthesized {
		templates[id] = v.json
	}
	goldens, _ := filepath.Glob("../testdata/*.template.json")
	if len(goldens) < 4 {
		t.Fatalf("goldens %v", goldens)
	}
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		templates[g] = data
	}
	isIntrinsic := func(v any) bool {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return false
		}
		for k := range m {
			return k == "Ref" || strings.HasPrefix(k, "Fn::")
		}
		return false
	}
	for name, data := range templates {
		for id, r := range templateResources(t, data) {
			prop, ok := policyProperties[r.Type]
			if !ok || r.Properties[prop] == nil {
				continue
			}
			where := name + ": " + id
			policy := policyDocument(t, where, r.Properties[prop])
			if raw, _ := json.Marshal(policy); strings.Contains(string(raw), "$jsii") {
				t.Errorf("%s: a jsii marker in the policy: %s", where, raw)
			}
			statements, _ := policy["Statement"].([]any)
			for _, st := range statements {
				conditions, _ := st.(map[string]any)["Condition"].(map[string]any)
				for op, keys := range conditions {
					for key, value := range keys.(map[string]any) {
						switch v := value.(type) {
						case string:
						case []any:
							for _, e := range v {
								if _, ok := e.(string); !ok && !isIntrinsic(e) {
									t.Errorf("%s: %s %s holds %v", where, op, key, e)
								}
							}
						default:
							if !isIntrinsic(v) {
								t.Errorf("%s: condition %s %s is %v, not a string", where, op, key, v)
							}
						}
					}
				}
			}
		}
	}
}

// TestOnlyThisAccountsServicesMayUseTheRolesAndKey: the task's roles trust
// ECS only for this account's tasks, and the alarm key's publishers may use
// it only through SNS for this account's topics (the confused-deputy
// conditions).
func TestOnlyThisAccountsServicesMayUseTheRolesAndKey(t *testing.T) {
	for _, id := range []string{"Default", "Production"} {
		ecsRoles := 0
		for rid, r := range resources(t, id, "AWS::IAM::Role") {
			doc, _ := json.Marshal(r["AssumeRolePolicyDocument"])
			if !strings.Contains(string(doc), "ecs-tasks.amazonaws.com") {
				continue
			}
			ecsRoles++
			for _, want := range []string{`"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}`, `"ArnLike":{"aws:SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ecs:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":*"]]}}`} {
				if !strings.Contains(string(doc), want) {
					t.Errorf("%s: role %s trusts ECS without %s: %s", id, rid, want, doc)
				}
			}
		}
		if ecsRoles != 2 {
			t.Errorf("%s: %d roles ECS assumes, want the task role and the execution role", id, ecsRoles)
		}
		for kid, k := range resources(t, id, "AWS::KMS::Key") {
			doc, _ := json.Marshal(k["KeyPolicy"])
			if !strings.Contains(string(doc), `"Condition":{"StringLike":{"kms:EncryptionContext:aws:sns:topicArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":sns:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":*"]]}}}`) {
				t.Errorf("%s: key %s lets CloudWatch and EventBridge use it beyond SNS for this account's topics: %s", id, kid, doc)
			}
		}
	}
}

// TestTheFlowLogRoleServesOnlyThisAccountsFlowLogs: VPC Flow Logs may assume
// the role only on behalf of this account's flow logs.
func TestTheFlowLogRoleServesOnlyThisAccountsFlowLogs(t *testing.T) {
	check(t, "the flow log role's trust has aws:SourceAccount and aws:SourceArn", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sts:AssumeRole", "Effect": "Allow",
				"Principal": map[string]any{"Service": "vpc-flow-logs.amazonaws.com"},
				"Condition": map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
					"ArnLike": map[string]any{"aws:SourceArn": map[string]any{"Fn::Join": []any{"", []any{
						"arn:", map[string]any{"Ref": "AWS::Partition"}, ":ec2:", map[string]any{"Ref": "AWS::Region"}, ":",
						map[string]any{"Ref": "AWS::AccountId"}, ":vpc-flow-log/*",
					}}}},
				},
			}}},
		})
	})
}
