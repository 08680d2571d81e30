package xray

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
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
		HTTPMethod: jsii.String("*"), URLPath: jsii.String("*"),
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
		{name: "fields left out stay nil, for the construct's defaults", json: `{"SamplingRule": {"RuleName": "r", "Priority": 100}}`,
			want: &SamplingRuleProps{RuleName: jsii.String("r"), Priority: jsii.Number(100.0)}},
		{name: "attributes and tags", json: `{"SamplingRule": {"Attributes": {"tier": "web"}}, "Tags": [{"Key": "team", "Value": "web"}]}`,
			want: &SamplingRuleProps{Attributes: map[string]string{"tier": "web"}, Tags: &[]*awscdk.CfnTag{{Key: jsii.String("team"), Value: jsii.String("web")}}}},
		{name: "Version 1", json: `{"SamplingRule": {"Version": 1}}`, want: &SamplingRuleProps{}},

		{name: "empty file", json: ``, wantErr: "not valid JSON: unexpected EOF"},
		{name: "trailing comma", json: `{"SamplingRule": {"Priority": 9000,}}`,
			wantErr: `not valid JSON: invalid character ',' at start of value within "/SamplingRule" after offset 34`},
		{name: "two values", json: `{"SamplingRule": {}} {}`, wantErr: "not valid JSON: invalid character '{' after top-level value after offset 21"},
		{name: "byte-order mark", json: "\xef\xbb\xbf{\"SamplingRule\": {}}", wantErr: "starts with a UTF-8 byte-order mark; expected JSON without one"},
		{name: "invalid UTF-8", json: "{\"SamplingRule\": {\"RuleName\": \"Cr\xffddur\"}}", wantErr: `not valid JSON: invalid UTF-8 within "/SamplingRule/RuleName" after offset 33`},
		{name: "no SamplingRule", json: `{"Tags": []}`, wantErr: `SamplingRule: missing; expected {"SamplingRule": {...}} as aws xray create-sampling-rule --cli-input-json takes it`},
		{name: "unknown top-level field", json: `{"SamplingRule": {}, "Rule": {}}`,
			wantErr: "Rule: unknown field; expected the fields of aws xray create-sampling-rule --cli-input-json, spelled as it spells them (names are case-sensitive)"},
		{name: "wrong case", json: `{"SamplingRule": {"priority": 1}}`,
			wantErr: "SamplingRule.priority: unknown field; expected the fields of aws xray create-sampling-rule --cli-input-json, spelled as it spells them (names are case-sensitive)"},
		{name: "a field named with a newline", json: "{\"\\n\": 1}",
			wantErr: `"\n": unknown field; expected the fields of aws xray create-sampling-rule --cli-input-json, spelled as it spells them (names are case-sensitive)`},
		{name: "a field named with a dot", json: `{"SamplingRule": {"Fixed.Rate": 1}}`,
			wantErr: `SamplingRule."Fixed.Rate": unknown field; expected the fields of aws xray create-sampling-rule --cli-input-json, spelled as it spells them (names are case-sensitive)`},
		{name: "a list over lines", json: "[\n]", wantErr: `the file: JSON list []; expected an object`},
		{name: "duplicate field", json: `{"SamplingRule": {"Priority": 1, "Priority": 2}}`, wantErr: `not valid JSON: duplicate object member name "Priority" within "/SamplingRule"`},
		{name: "number as string", json: `{"SamplingRule": {"FixedRate": "0.1"}}`, wantErr: `SamplingRule.FixedRate: JSON string "0.1"; expected a number`},
		{name: "string as number", json: `{"SamplingRule": {"ServiceName": 7}}`, wantErr: `SamplingRule.ServiceName: JSON number 7; expected a string`},
		{name: "ReservoirSize beyond Integer", json: `{"SamplingRule": {"ReservoirSize": 1e20}}`,
			wantErr: `SamplingRule.ReservoirSize: JSON number 1e20; expected a whole number from -2147483648 to 2147483647 (the X-Ray API's Integer)`},
		{name: "Priority not whole", json: `{"SamplingRule": {"Priority": 1.5}}`,
			wantErr: `SamplingRule.Priority: JSON number 1.5; expected a whole number from -2147483648 to 2147483647 (the X-Ray API's Integer)`},
		{name: "attribute not a string", json: `{"SamplingRule": {"Attributes": {"a": 1}}}`, wantErr: `SamplingRule.Attributes.a: JSON number 1; expected a string`},
		{name: "Version 2", json: `{"SamplingRule": {"Version": 2}}`, wantErr: "SamplingRule.Version: 2 is not a rule version; expected 1, the only one X-Ray knows"},
		{name: "tag without value", json: `{"SamplingRule": {}, "Tags": [{"Key": "a"}]}`, wantErr: "Tags[0]: expected both Key and Value"},
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

// TestLoadSamplingRuleFileIsBounded: only a regular file under the cap is
// read; anything else is refused at once, and every error names the file.
func TestLoadSamplingRuleFileIsBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := write("big.json", []byte(`{"SamplingRule": {}, "x": "`+strings.Repeat("a", MaxRuleFileBytes)+`"}`))
	bad := write("bad.json", []byte(`{"SamplingRule": {"FixedRate": "high"}}`))
	cases := map[string]string{
		bad:                        bad + `: SamplingRule.FixedRate: JSON string "high"; expected a number`,
		big:                        big + ": has 65565 bytes; expected at most 65536",
		fifo:                       fifo + ": is a named pipe; expected a regular file",
		dir:                        dir + ": is a directory; expected a regular file",
		"/dev/zero":                "/dev/zero: is a device; expected a regular file",
		filepath.Join(dir, "nope"): "open " + filepath.Join(dir, "nope") + ": no such file or directory",
	}
	for path, want := range cases {
		_, err := LoadSamplingRuleFile(path)
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("LoadSamplingRuleFile(%s) = %v; want an error ending %q", path, err, want)
		}
	}
}

func TestValidateServiceName(t *testing.T) {
	cases := []struct{ name, in, wantErr string }{
		{"seed name", "Cruddur", ""},
		{"every allowed symbol", "a_b.c:d/e%f&g#h=i+j-k@l m", ""},
		{"unicode letters", "Crüddür", ""},
		{"64 chars", strings.Repeat("s", 64), ""},
		{"65 chars", strings.Repeat("s", 65), `"` + strings.Repeat("s", 65) + `" has 65 characters; expected 1..64`},
		{"empty", "", `"" has 0 characters; expected 1..64`},
		{"double quote", `back"end`, `"back\"end" contains '"'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"backslash", `back\end`, `"back\\end" contains '\\'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"leading space", " Cruddur", `" Cruddur" starts or ends with white space; expected a name without it`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, ValidateServiceName(tc.in), tc.wantErr)
			filter, err := ServiceFilter(tc.in)
			if (err == nil) != (tc.wantErr == "") || (err == nil && filter != `service("`+tc.in+`")`) {
				t.Errorf("ServiceFilter(%q) = %q, %v", tc.in, filter, err)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error; want %q", want)
	case want != "" && err.Error() != want:
		t.Fatalf("error:\n got %q\nwant %q", err.Error(), want)
	}
}
