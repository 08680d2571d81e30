package xray

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/cruddur/tracing/internal/quote"
)

// X-Ray's limits that aws-cdk-lib's validator does not check, each once:
// the reserved group name, the filter expression's shape, a rule's
// Attributes, reserved tag keys, and control characters anywhere.

// reservedGroupName is the group X-Ray keeps for itself.
const reservedGroupName = "Default"

// maxAttributes is how many Attributes a rule may match (the X-Ray API's
// SamplingRule.Attributes), each key and value 1..maxAttributeLen.
const (
	maxAttributes   = 5
	maxAttributeLen = 32
)

// filterFunctions are the functions of X-Ray's filter expressions (the X-Ray
// developer guide, "Filter expressions": service(), edge(), id()).
var filterFunctions = map[string]bool{"service": true, "edge": true, "id": true}

// Quote shows a value in a message: quoted, and cut past quote.Max
// characters.
func Quote(v string) string { return quote.Value(v) }

// noControl refuses a value with control characters (a newline, NUL, \x01).
func noControl(field, v string) error {
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s: %s contains the control character %q; expected none", field, Quote(v), r)
		}
	}
	return nil
}

// CheckFilterExpression checks the shape of an X-Ray filter expression as
// far as the X-Ray developer guide documents it without knowing the
// account's annotations: balanced double quotes (with \" inside),
// parentheses and braces, and only X-Ray's functions called. It does not
// check keywords: annotation.<key> and the rootcause keywords are open
// sets, so a keyword list would refuse valid expressions.
func CheckFilterExpression(expr string) error {
	if err := noControl("FilterExpression", expr); err != nil {
		return err
	}
	bad := func(why string) error {
		return fmt.Errorf("FilterExpression: %s %s; expected an X-Ray filter expression such as service(\"orders\") { fault = true }", Quote(expr), why)
	}
	var open []rune
	inString := false
	r := []rune(expr)
	for i := 0; i < len(r); i++ {
		c := r[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '(', '{':
			if c == '(' {
				j := i
				for j > 0 && (unicode.IsLetter(r[j-1]) || unicode.IsDigit(r[j-1]) || r[j-1] == '_' || r[j-1] == '.') {
					j--
				}
				if name := string(r[j:i]); name != "" && !filterFunctions[strings.ToLower(name)] {
					return bad(fmt.Sprintf("calls %s(), which X-Ray does not have (its functions: service, edge, id)", name))
				}
			}
			open = append(open, c)
		case ')', '}':
			want := map[rune]rune{')': '(', '}': '{'}[c]
			if len(open) == 0 || open[len(open)-1] != want {
				return bad(fmt.Sprintf("closes %q with nothing open to match it", c))
			}
			open = open[:len(open)-1]
		}
	}
	switch {
	case inString:
		return bad("leaves a double quote open")
	case len(open) > 0:
		return bad(fmt.Sprintf("leaves %q open", open[len(open)-1]))
	}
	return nil
}

// CheckGroupName refuses a group name X-Ray would refuse beyond its length
// (which aws-cdk-lib's validator checks): its own group's, or one with
// control characters.
func CheckGroupName(name string) error {
	if err := noControl("GroupName", name); err != nil {
		return err
	}
	if name == reservedGroupName {
		return fmt.Errorf("GroupName: %q is the group X-Ray keeps for itself; expected another name", name)
	}
	return nil
}

// checkGroup refuses a group X-Ray would refuse.
func checkGroup(name, filter string) error {
	if err := CheckGroupName(name); err != nil {
		return err
	}
	return CheckFilterExpression(filter)
}

// checkRule refuses a rule X-Ray would refuse.
func checkRule(p *SamplingRuleProps) error {
	for _, f := range []struct {
		name  string
		value *string
	}{{"RuleName", p.RuleName}, {"ServiceName", p.ServiceName}, {"ServiceType", p.ServiceType}, {"Host", p.Host}, {"HTTPMethod", p.HTTPMethod}, {"URLPath", p.URLPath}, {"ResourceARN", p.ResourceARN}} {
		if f.value != nil {
			if err := noControl(f.name, *f.value); err != nil {
				return err
			}
		}
	}
	if n := len(p.Attributes); n > maxAttributes {
		return fmt.Errorf("Attributes: %d of them; expected at most %d (the X-Ray API's limit)", n, maxAttributes)
	}
	for k, v := range p.Attributes {
		for _, kv := range [][2]string{{"key", k}, {"value", v}} {
			if n := len([]rune(kv[1])); n < 1 || n > maxAttributeLen {
				return fmt.Errorf("Attributes: the %s %s has %d characters; expected 1..%d", kv[0], Quote(kv[1]), n, maxAttributeLen)
			}
			if err := noControl("Attributes", kv[1]); err != nil {
				return err
			}
		}
	}
	if p.Tags != nil {
		for i, t := range *p.Tags {
			if t.Key != nil && strings.HasPrefix(strings.ToLower(*t.Key), "aws:") {
				return fmt.Errorf("Tags[%d].Key: %s starts with aws:, which AWS keeps for its own tags; expected another key", i, Quote(*t.Key))
			}
			for _, s := range []*string{t.Key, t.Value} {
				if s != nil {
					if err := noControl(fmt.Sprintf("Tags[%d]", i), *s); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
