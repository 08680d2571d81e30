package xray

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestLoadSeedFile(t *testing.T) {
	p, err := LoadSamplingRuleFile("../../aws/json/xray.json")
	if err != nil {
		t.Fatal(err)
	}
	want := &SamplingRuleProps{
		RuleName: jsii.String("Cruddur"), ResourceARN: jsii.String("*"),
		Priority: jsii.Number(9000.0), FixedRate: jsii.Number(0.1), ReservoirSize: jsii.Number(5.0),
		ServiceName: jsii.String("Cruddur"), ServiceType: jsii.String("*"), Host: jsii.String("*"),
		HTTPMethod: jsii.String("*"), URLPath: jsii.String("*"), Version: jsii.Number(1.0),
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("loaded %+v\nwant %+v", p, want)
	}
}

func TestParseSamplingRule(t *testing.T) {
	cases := []struct {
		name, json string
		want       *SamplingRuleProps
		wantErr    string
	}{
		{name: "only some fields", json: `{"SamplingRule": {"Priority": 100}}`,
			want: &SamplingRuleProps{Priority: jsii.Number(100.0)}},
		{name: "empty rule takes every default", json: `{"SamplingRule": {}}`, want: &SamplingRuleProps{}},
		{name: "attributes and tags", json: `{"SamplingRule": {"Attributes": {"tier": "web"}}, "Tags": [{"Key": "team", "Value": "cruddur"}]}`,
			want: &SamplingRuleProps{Attributes: map[string]string{"tier": "web"}, Tags: map[string]string{"team": "cruddur"}}},

		{name: "empty file", json: ``, wantErr: "not valid JSON: the file ends too soon"},
		{name: "broken JSON", json: "{\n  \"SamplingRule\": {\n    \"Priority\": 9000,\n  }\n}",
			wantErr: "not valid JSON at line 4, column 3: invalid character '}' looking for beginning of object key string"},
		{name: "cut short", json: `{"SamplingRule": {"Priority": 9000`, wantErr: "not valid JSON: the file ends too soon"},
		{name: "not an object", json: `[1, 2]`, wantErr: "[1, 2] is a list; expected an object"},
		{name: "two objects", json: `{"SamplingRule": {}} {}`, wantErr: "not valid JSON at line 1, column 22: invalid character '{' after top-level value"},
		{name: "no SamplingRule", json: `{"Tags": []}`, wantErr: `SamplingRule: missing; expected {"SamplingRule": {...}} as aws xray create-sampling-rule --cli-input-json takes it`},
		{name: "unknown top-level field", json: `{"SamplingRule": {}, "Rule": {}}`, wantErr: "Rule: unknown field; expected SamplingRule or Tags"},
		{name: "unknown rule field", json: `{"SamplingRule": {"Prioity": 1}}`,
			wantErr: "SamplingRule.Prioity: unknown field; expected one of Attributes, FixedRate, HTTPMethod, Host, Priority, ReservoirSize, ResourceARN, RuleName, ServiceName, ServiceType, URLPath, Version (names are case-sensitive)"},
		{name: "wrong case", json: `{"SamplingRule": {"priority": 1}}`,
			wantErr: "SamplingRule.priority: unknown field; expected one of Attributes, FixedRate, HTTPMethod, Host, Priority, ReservoirSize, ResourceARN, RuleName, ServiceName, ServiceType, URLPath, Version (names are case-sensitive)"},
		{name: "RuleARN", json: `{"SamplingRule": {"RuleARN": "arn:aws:xray:us-east-1:1:sampling-rule/x"}}`,
			wantErr: "SamplingRule.RuleARN: AWS assigns the ARN when it creates the rule; remove it"},
		{name: "duplicate field", json: `{"SamplingRule": {"Priority": 1, "Priority": 2}}`, wantErr: `SamplingRule: "Priority" appears twice; expected each field once`},
		{name: "rule not an object", json: `{"SamplingRule": "Cruddur"}`, wantErr: `SamplingRule: "Cruddur" is a string; expected an object`},
		{name: "number as string", json: `{"SamplingRule": {"FixedRate": "0.1"}}`, wantErr: `SamplingRule.FixedRate: "0.1" is a string; expected a number`},
		{name: "string as number", json: `{"SamplingRule": {"ServiceName": 7}}`, wantErr: `SamplingRule.ServiceName: 7 is a number; expected a string`},
		{name: "null", json: `{"SamplingRule": {"Priority": null}}`, wantErr: `SamplingRule.Priority: null; expected a number`},
		{name: "boolean", json: `{"SamplingRule": {"Version": true}}`, wantErr: `SamplingRule.Version: true is a boolean; expected a number`},
		{name: "attribute not a string", json: `{"SamplingRule": {"Attributes": {"a": 1}}}`, wantErr: `SamplingRule.Attributes: {"a": 1} is an object; expected an object of string values`},
		{name: "tags not a list", json: `{"SamplingRule": {}, "Tags": {"Key": "a"}}`, wantErr: `Tags: {"Key": "a"} is an object; expected a list of {"Key": ..., "Value": ...}`},
		{name: "tag without value", json: `{"SamplingRule": {}, "Tags": [{"Key": "a"}]}`, wantErr: `Tags[0]: expected both Key and Value`},
		{name: "tag unknown field", json: `{"SamplingRule": {}, "Tags": [{"Key": "a", "Value": "b", "X": "c"}]}`, wantErr: `Tags[0].X: unknown field; expected Key and Value`},
		{name: "duplicate tag", json: `{"SamplingRule": {}, "Tags": [{"Key": "a", "Value": "b"}, {"Key": "a", "Value": "c"}]}`, wantErr: `Tags[1].Key: "a" appears twice; expected each key once`},

		{name: "Priority 0", json: `{"SamplingRule": {"Priority": 0}}`, wantErr: "SamplingRule.Priority: 0 is outside 1..9999"},
		{name: "FixedRate 1.5", json: `{"SamplingRule": {"FixedRate": 1.5}}`, wantErr: "SamplingRule.FixedRate: 1.5 is outside 0..1"},
		{name: "ReservoirSize -1", json: `{"SamplingRule": {"ReservoirSize": -1}}`, wantErr: "SamplingRule.ReservoirSize: -1 is outside >= 0"},
		{name: "Version 2", json: `{"SamplingRule": {"Version": 2}}`, wantErr: "SamplingRule.Version: 2 is not supported; expected 1, the only version X-Ray knows"},
		{name: "RuleName too long", json: `{"SamplingRule": {"RuleName": "abcdefghijabcdefghijabcdefghijabc"}}`,
			wantErr: `SamplingRule.RuleName: "abcdefghijabcdefghijabcdefghijabc" has 33 characters; expected 1..32`},
		{name: "HTTPMethod too long", json: `{"SamplingRule": {"HTTPMethod": "GETPOSTPUTX"}}`,
			wantErr: `SamplingRule.HTTPMethod: "GETPOSTPUTX" has 11 characters; expected 0..10`},
		{name: "bad tag key", json: `{"SamplingRule": {}, "Tags": [{"Key": "aws:x", "Value": "b"}]}`,
			wantErr: `Tags["aws:x"]: the key starts with "aws:", which AWS reserves for itself; expected another key`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSamplingRule([]byte(tc.json))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parsed %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestLoadSamplingRuleFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "xray.json")
	if err := os.WriteFile(bad, []byte(`{"SamplingRule": {"FixedRate": 1.5}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSamplingRuleFile(bad)
	checkErr(t, err, bad+": SamplingRule.FixedRate: 1.5 is outside 0..1")

	missing := filepath.Join(dir, "nope.json")
	_, err = LoadSamplingRuleFile(missing)
	checkErr(t, err, "sampling rule file: open "+missing+": no such file or directory")
}
