package xray

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// TestFilterExpressionsXRayTakesPass: expressions of every shape the X-Ray
// developer guide documents are taken, quotes and parentheses inside strings
// included.
func TestFilterExpressionsXRayTakesPass(t *testing.T) {
	for _, expr := range []string{
		`service("Cruddur")`,
		`service("Cruddur") { fault = true }`,
		`service("Cruddur") AND responsetime > 1`,
		`edge("api", "db") { error }`,
		`id(name: "orders", type: "AWS::ECS::Container")`,
		`annotation.user = "a(b\"c{"`,
		`http.url CONTAINS "/api" AND NOT http.status = 404`,
		`(fault OR error) AND duration >= 5`,
		`rootcause.fault.service { name = "db" }`,
		`service() { fault }`,
		`annotation.and = "or" AND annotation.x != 5 OR NOT ok`,
		`responsetime >= 1 AND duration <= 2 AND http.status != 200`,
		`service("a") OR (service("b") AND error)`,
	} {
		if err := CheckFilterExpression(expr); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
}

// TestFilterExpressionsXRayRefusesFail: unbalanced quotes, parentheses and
// braces, functions X-Ray lacks and control characters, each named.
func TestFilterExpressionsXRayRefusesFail(t *testing.T) {
	for expr, want := range map[string]string{
		`service("x"`:                  `leaves '(' open`,
		`service("x)`:                  `leaves a double quote open`,
		`service("x") { fault = true`:  `leaves '{' open`,
		`service("x") }`:               `closes '}' with nothing open to match it`,
		`service("x"})`:                `closes '}' with nothing open`,
		`servce("x")`:                  `calls servce(), which X-Ray does not have`,
		"service(\"x\")\n":             `contains the control character '\n'`,
		strings.Repeat("(", 300) + "x": `"... (301 characters) leaves '(' open`,
		`AND OR = = !!`:                `has "!!", which is no comparison`,
		`fault = = true`:               `has two comparisons in a row (= =)`,
		`AND fault`:                    `has AND without an expression on each side`,
		`fault OR`:                     `has OR without an expression on each side`,
		`fault and or error`:           `has AND without an expression on each side`,
		`(OR fault)`:                   `has OR without an expression on each side`,
		`()`:                           `has an empty ( ) that calls no function`,
		`fault AND ()`:                 `has an empty ( ) that calls no function`,
	} {
		if err := CheckFilterExpression(expr); err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "(") > 240 {
			t.Errorf("%.40q: %v; want an error with %q, the value shortened", expr, err, want)
		}
	}
}

// TestTheConstructsRefuseWhatXRayRefuses: the reserved group name, more
// than five Attributes, an attribute too long, a reserved tag key, more
// than 50 tags, a key twice, a key or value X-Ray's character set lacks,
// and invisible characters (bidi overrides, zero-width) in names.
func TestTheConstructsRefuseWhatXRayRefuses(t *testing.T) {
	rule := func(change func(*SamplingRuleProps)) *SamplingRuleProps {
		p := &SamplingRuleProps{RuleName: jsii.String("r"), Priority: jsii.Number(1)}
		change(p)
		return p
	}
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"Default": {checkGroup("Default", `service("x")`), `GroupName: "Default" is the group X-Ray keeps for itself`},
		"six attributes": {checkRule(rule(func(p *SamplingRuleProps) {
			p.Attributes = map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}
		})), "Attributes: 6 of them; expected at most 5"},
		"a long value": {checkRule(rule(func(p *SamplingRuleProps) { p.Attributes = map[string]string{"a": strings.Repeat("v", 33)} })), "has 33 characters; expected 1..32"},
		"an aws: tag key": {checkRule(rule(func(p *SamplingRuleProps) {
			p.Tags = &[]*awscdk.CfnTag{{Key: jsii.String("AWS:x"), Value: jsii.String("y")}}
		})), `Tags[0].Key: "AWS:x" starts with aws:`},
		"51 tags": {checkRule(rule(func(p *SamplingRuleProps) { p.Tags = tags(51) })), "Tags: 51 of them; expected at most 50 (X-Ray's limit per resource)"},
		"a tag key twice": {checkRule(rule(func(p *SamplingRuleProps) {
			p.Tags = &[]*awscdk.CfnTag{{Key: jsii.String("team"), Value: jsii.String("a")}, {Key: jsii.String("team"), Value: jsii.String("b")}}
		})), `Tags[1].Key: "team" is also Tags[0]'s; expected each key once`},
		"a tag key of other characters": {checkRule(rule(func(p *SamplingRuleProps) {
			p.Tags = &[]*awscdk.CfnTag{{Key: jsii.String("te!am<script>"), Value: jsii.String("x")}}
		})), `Tags[0].Key: "te!am<script>" is not a tag key X-Ray takes; expected 1..128 Unicode letters, numbers, spaces and + - = . _ : / @`},
		"a tag value too long": {checkRule(rule(func(p *SamplingRuleProps) {
			p.Tags = &[]*awscdk.CfnTag{{Key: jsii.String("team"), Value: jsii.String(strings.Repeat("v", 257))}}
		})), `Tags[0].Value: "vvvv`},
		"a rule name with a bidi override": {checkRule(rule(func(p *SamplingRuleProps) { p.RuleName = jsii.String("Cru\u202eddur") })),
			`RuleName: "Cru\u202eddur" contains the invisible character U+202E; expected none`},
		"a group name with a zero-width space": {CheckGroupName("R\u200b"), `GroupName: "R\u200b" contains the invisible character U+200B; expected none`},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", name, tc.err, tc.want)
		}
	}
	for name, ok := range map[string]func(*SamplingRuleProps){
		"one attribute": func(p *SamplingRuleProps) { p.Attributes = map[string]string{"a": "1"} },
		"50 tags":       func(p *SamplingRuleProps) { p.Tags = tags(50) },
		"tags of every character X-Ray takes": func(p *SamplingRuleProps) {
			p.Tags = &[]*awscdk.CfnTag{{Key: jsii.String("Équipe 2 +-=._:/@"), Value: jsii.String("")}, {Key: jsii.String(strings.Repeat("k", 128)), Value: jsii.String(strings.Repeat("v", 256))}}
		},
	} {
		if err := checkRule(rule(ok)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// tags are n tags of distinct keys.
func tags(n int) *[]*awscdk.CfnTag {
	out := make([]*awscdk.CfnTag, n)
	for i := range out {
		out[i] = &awscdk.CfnTag{Key: jsii.String(fmt.Sprintf("k%d", i)), Value: jsii.String("v")}
	}
	return &out
}

// FuzzParseSamplingRule: whatever a rule file holds, the reader never
// panics, every error is one line, and a rule it accepts meets X-Ray's
// limits. The seeds are the shapes the reader's tests use.
func FuzzParseSamplingRule(f *testing.F) {
	for _, seed := range []string{
		`{"SamplingRule": {"RuleName": "Cruddur", "ResourceARN": "*", "Priority": 9000, "FixedRate": 0.1, "ReservoirSize": 5, "ServiceName": "Cruddur", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1}}`,
		`{"SamplingRule": {"RuleName": "orders", "Priority": 10}, "Tags": [{"Key": "team", "Value": "web"}]}`,
		`{"SamplingRule": {"Priority": 100, "FixedRate": 0, "ReservoirSize": 0, "URLPath": "/api/health-check"}}`,
		`{"SamplingRule": {"ReservoirSize": "5"}}`, `{"SamplingRule": {"RuleName": "r", "Priority": 1, "Attributes": {"a": "1"}}}`,
		`{"SamplingRule": {"Version": 2}}`, `{}`, `[]`, `{"SamplingRule": {"RuleName": "a", "RuleName": "b"}}`, "\xef\xbb\xbf{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseSamplingRule(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: a multi-line error %q", data, err)
			}
			return
		}
		if err := checkRule(p); err != nil {
			t.Errorf("%q accepted, yet %v", data, err)
		}
	})
}
