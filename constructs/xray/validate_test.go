package xray

import (
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// noToken stands in for the jsii token check: plain Go values are never
// tokens, and these tests need no Node process.
func noToken(any) bool { return false }

func TestSamplingRuleLimits(t *testing.T) {
	long := func(n int) *string { return jsii.String(strings.Repeat("a", n)) }
	num := jsii.Number[float64]
	cases := []struct {
		name    string
		props   SamplingRuleProps
		wantErr string // "" when the props are valid
	}{
		{"defaults", SamplingRuleProps{}, ""},
		{"seed values", SamplingRuleProps{RuleName: jsii.String("Cruddur"), Priority: num(9000), FixedRate: num(0.1), ReservoirSize: num(5), Version: num(1)}, ""},

		{"RuleName 1 char", SamplingRuleProps{RuleName: long(1)}, ""},
		{"RuleName 32 chars", SamplingRuleProps{RuleName: long(32)}, ""},
		{"RuleName 32 runes, 64 bytes", SamplingRuleProps{RuleName: jsii.String(strings.Repeat("é", 32))}, ""},
		{"RuleName empty", SamplingRuleProps{RuleName: long(0)}, `RuleName: "" has 0 characters; expected 1..32`},
		{"RuleName 33 chars", SamplingRuleProps{RuleName: long(33)}, "RuleName: " + `"` + strings.Repeat("a", 33) + `" has 33 characters; expected 1..32`},

		{"Priority 1", SamplingRuleProps{Priority: num(1)}, ""},
		{"Priority 9999", SamplingRuleProps{Priority: num(9999)}, ""},
		{"Priority 0", SamplingRuleProps{Priority: num(0)}, "Priority: 0 is outside 1..9999"},
		{"Priority 10000", SamplingRuleProps{Priority: num(10000)}, "Priority: 10000 is outside 1..9999"},
		{"Priority fraction", SamplingRuleProps{Priority: num(1.5)}, "Priority: 1.5 is not a whole number; expected 1..9999"},

		{"FixedRate 0", SamplingRuleProps{FixedRate: num(0)}, ""},
		{"FixedRate 1", SamplingRuleProps{FixedRate: num(1)}, ""},
		{"FixedRate below 0", SamplingRuleProps{FixedRate: num(-0.01)}, "FixedRate: -0.01 is outside 0..1"},
		{"FixedRate above 1", SamplingRuleProps{FixedRate: num(1.5)}, "FixedRate: 1.5 is outside 0..1"},

		{"ReservoirSize 0", SamplingRuleProps{ReservoirSize: num(0)}, ""},
		{"ReservoirSize large", SamplingRuleProps{ReservoirSize: num(1e6)}, ""},
		{"ReservoirSize -1", SamplingRuleProps{ReservoirSize: num(-1)}, "ReservoirSize: -1 is outside >= 0"},
		{"ReservoirSize fraction", SamplingRuleProps{ReservoirSize: num(2.5)}, "ReservoirSize: 2.5 is not a whole number; expected >= 0"},

		{"ServiceName 64", SamplingRuleProps{ServiceName: long(64)}, ""},
		{"ServiceName 65", SamplingRuleProps{ServiceName: long(65)}, "ServiceName: \"" + strings.Repeat("a", 65) + `" has 65 characters; expected 0..64`},
		{"ServiceType 64", SamplingRuleProps{ServiceType: long(64)}, ""},
		{"ServiceType 65", SamplingRuleProps{ServiceType: long(65)}, "ServiceType: \"" + strings.Repeat("a", 65) + `" has 65 characters; expected 0..64`},
		{"Host 64", SamplingRuleProps{Host: long(64)}, ""},
		{"Host 65", SamplingRuleProps{Host: long(65)}, "Host: \"" + strings.Repeat("a", 65) + `" has 65 characters; expected 0..64`},
		{"HTTPMethod 10", SamplingRuleProps{HTTPMethod: long(10)}, ""},
		{"HTTPMethod 11", SamplingRuleProps{HTTPMethod: long(11)}, `HTTPMethod: "aaaaaaaaaaa" has 11 characters; expected 0..10`},
		{"URLPath 128", SamplingRuleProps{URLPath: long(128)}, ""},
		{"URLPath 129", SamplingRuleProps{URLPath: long(129)}, "URLPath: \"" + strings.Repeat("a", 129) + `" has 129 characters; expected 0..128`},
		{"ResourceARN 500", SamplingRuleProps{ResourceARN: long(500)}, ""},
		{"ResourceARN 501", SamplingRuleProps{ResourceARN: long(501)}, "ResourceARN: \"" + strings.Repeat("a", 501) + `" has 501 characters; expected 0..500`},

		{"Version 1", SamplingRuleProps{Version: num(1)}, ""},
		{"Version 2", SamplingRuleProps{Version: num(2)}, "Version: 2 is not supported; expected 1, the only version X-Ray knows"},

		{"5 attributes", SamplingRuleProps{Attributes: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}}, ""},
		{"6 attributes", SamplingRuleProps{Attributes: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}}, "Attributes: has 6 entries; expected at most 5"},
		{"attribute key 32", SamplingRuleProps{Attributes: map[string]string{strings.Repeat("k", 32): "v"}}, ""},
		{"attribute key 33", SamplingRuleProps{Attributes: map[string]string{strings.Repeat("k", 33): "v"}}, `Attributes["` + strings.Repeat("k", 33) + `"]: the key has 33 characters; expected 1..32`},
		{"attribute key empty", SamplingRuleProps{Attributes: map[string]string{"": "v"}}, `Attributes[""]: the key has 0 characters; expected 1..32`},
		{"attribute value 32", SamplingRuleProps{Attributes: map[string]string{"k": strings.Repeat("v", 32)}}, ""},
		{"attribute value 33", SamplingRuleProps{Attributes: map[string]string{"k": strings.Repeat("v", 33)}}, `Attributes["k"]: the value "` + strings.Repeat("v", 33) + `" has 33 characters; expected 1..32`},
		{"attribute value empty", SamplingRuleProps{Attributes: map[string]string{"k": ""}}, `Attributes["k"]: the value "" has 0 characters; expected 1..32`},

		{"tag key 128", SamplingRuleProps{Tags: map[string]string{strings.Repeat("k", 128): ""}}, ""},
		{"tag key 129", SamplingRuleProps{Tags: map[string]string{strings.Repeat("k", 129): ""}}, `Tags["` + strings.Repeat("k", 129) + `"]: the key has 129 characters; expected 1..128`},
		{"tag key aws:", SamplingRuleProps{Tags: map[string]string{"aws:owner": "x"}}, `Tags["aws:owner"]: the key starts with "aws:", which AWS reserves for itself; expected another key`},
		{"tag value 256", SamplingRuleProps{Tags: map[string]string{"k": strings.Repeat("v", 256)}}, ""},
		{"tag value 257", SamplingRuleProps{Tags: map[string]string{"k": strings.Repeat("v", 257)}}, `Tags["k"]: the value has 257 characters; expected at most 256`},

		{"two problems at once", SamplingRuleProps{Priority: num(0), FixedRate: num(2)}, "Priority: 0 is outside 1..9999; FixedRate: 2 is outside 0..1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.props.validate(noToken)
			checkErr(t, err, tc.wantErr)
		})
	}
}

func TestGroupLimits(t *testing.T) {
	cases := []struct {
		name    string
		props   GroupProps
		wantErr string
	}{
		{"defaults", GroupProps{}, ""},
		{"GroupName 32", GroupProps{GroupName: jsii.String(strings.Repeat("g", 32))}, ""},
		{"GroupName 33", GroupProps{GroupName: jsii.String(strings.Repeat("g", 33))}, `GroupName: "` + strings.Repeat("g", 33) + `" has 33 characters; expected 1..32`},
		{"GroupName empty", GroupProps{GroupName: jsii.String("")}, `GroupName: "" has 0 characters; expected 1..32`},
		{"ServiceName with quote", GroupProps{ServiceName: jsii.String(`Cru"ddur`)}, `ServiceName: "Cru\"ddur" contains '"'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"ServiceName ignored under FilterExpression", GroupProps{ServiceName: jsii.String(`a"b`), FilterExpression: jsii.String(`service("x")`)}, ""},
		{"empty FilterExpression", GroupProps{FilterExpression: jsii.String("")}, `FilterExpression: "" is empty; expected an X-Ray filter expression such as service("Cruddur")`},
		{"Insights with notifications", GroupProps{InsightsEnabled: jsii.Bool(true), NotificationsEnabled: jsii.Bool(true)}, ""},
		{"notifications without Insights", GroupProps{NotificationsEnabled: jsii.Bool(true)}, "NotificationsEnabled: true needs InsightsEnabled true; expected InsightsEnabled true or NotificationsEnabled false"},
		{"tag with aws: key", GroupProps{Tags: map[string]string{"AWS:x": "y"}}, `Tags["AWS:x"]: the key starts with "aws:", which AWS reserves for itself; expected another key`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.props.validate(noToken), tc.wantErr)
		})
	}
}

func TestValidateServiceName(t *testing.T) {
	cases := []struct {
		name, in, wantErr string
	}{
		{"seed name", "Cruddur", ""},
		{"every allowed symbol", "a_b.c:d/e%f&g#h=i+j-k@l m", ""},
		{"unicode letters", "Crüddür", ""},
		{"64 chars", strings.Repeat("s", 64), ""},
		{"65 chars", strings.Repeat("s", 65), `"` + strings.Repeat("s", 65) + `" has 65 characters; expected 1..64`},
		{"empty", "", `"" has 0 characters; expected 1..64`},
		{"double quote", `back"end`, `"back\"end" contains '"'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"backslash", `back\end`, `"back\\end" contains '\\'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"parenthesis", `svc)`, `"svc)" contains ')'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"leading space", " Cruddur", `" Cruddur" starts or ends with white space; expected a name without it`},
		{"tab", "Crud\tdur", `"Crud\tdur" contains '\t'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, ValidateServiceName(tc.in), tc.wantErr)
		})
	}
}

func TestMatchesWildcard(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "Cruddur", true},
		{"*", "", true},
		{"Cruddur", "Cruddur", true},
		{"Cruddur", "cruddur", false},
		{"Crud*", "Cruddur", true},
		{"*dur", "Cruddur", true},
		{"C?uddur", "Cruddur", true},
		{"C?uddur", "Cuddur", false},
		{"C*r*r", "Cruddur", true},
		{"C*x", "Cruddur", false},
		{"backend-flask", "Cruddur", false},
		{"a/*", "a/b/c", true},
	}
	for _, tc := range cases {
		if got := MatchesWildcard(tc.pattern, tc.name); got != tc.want {
			t.Errorf("MatchesWildcard(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
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
