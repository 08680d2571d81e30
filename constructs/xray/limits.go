package xray

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/cruddur/tracing/internal/quote"
)

// X-Ray's limits that aws-cdk-lib's validator does not check, each once:
// the reserved group name, the filter expression's shape, a rule's
// Attributes, its tags, and control and invisible characters anywhere.

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

// noControl refuses a value with control characters (a newline, NUL, \x01)
// or invisible format characters (Unicode's Cf: the bidirectional
// overrides, such as U+202E, and the zero-width ones, such as U+200B), which
// would make a name read as another in the console, a diff or a log.
func noControl(field, v string) error {
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s: %s contains the control character %q; expected none", field, Quote(v), r)
		}
		if unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("%s: %s contains the invisible character %U; expected none", field, Quote(v), r)
		}
	}
	return nil
}

// X-Ray's tag limits (the X-Ray API reference, "Tag" and "TagResource"):
// at most 50 per resource, keys unique, a key 1..128 characters and a
// value 0..256, both of Unicode letters, numbers and separators and
// + - = . _ : / @.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tagText says whether s is of the characters X-Ray takes in a tag.
func tagText(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Zs, r) && !strings.ContainsRune("+-=._:/@", r) {
			return false
		}
	}
	return true
}

// checkTags refuses tags X-Ray would refuse.
func checkTags(tags []*awscdk.CfnTag) error {
	if len(tags) > maxTags {
		return fmt.Errorf("Tags: %d of them; expected at most %d (X-Ray's limit per resource)", len(tags), maxTags)
	}
	seen := map[string]int{}
	for i, t := range tags {
		if t.Key == nil || t.Value == nil {
			continue
		}
		key, value := *t.Key, *t.Value
		if strings.HasPrefix(strings.ToLower(key), "aws:") {
			return fmt.Errorf("Tags[%d].Key: %s starts with aws:, which AWS keeps for its own tags; expected another key", i, Quote(key))
		}
		if j, dup := seen[key]; dup {
			return fmt.Errorf("Tags[%d].Key: %s is also Tags[%d]'s; expected each key once", i, Quote(key), j)
		}
		seen[key] = i
		if n := len([]rune(key)); n < 1 || n > maxTagKeyLen || !tagText(key) {
			return fmt.Errorf("Tags[%d].Key: %s is not a tag key X-Ray takes; expected 1..%d Unicode letters, numbers, spaces and + - = . _ : / @", i, Quote(key), maxTagKeyLen)
		}
		if n := len([]rune(value)); n > maxTagValueLen || !tagText(value) {
			return fmt.Errorf("Tags[%d].Value: %s is not a tag value X-Ray takes; expected 0..%d Unicode letters, numbers, spaces and + - = . _ : / @", i, Quote(value), maxTagValueLen)
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
	if why := misplacedOperator(r); why != "" {
		return bad(why)
	}
	return nil
}

// misplacedOperator says where, outside strings, an operator stands where
// X-Ray's grammar has none: '!' but in '!=', two comparisons in a row
// (= =), AND or OR without an expression on either side, or an empty ( )
// that calls no function. Empty when there is none. Open sets (keywords,
// annotation keys) are not judged.
func misplacedOperator(r []rune) string {
	type token struct{ kind, text string }
	var tokens []token
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
		case c == '"':
			j := i + 1
			for ; j < len(r) && r[j] != '"'; j++ {
				if r[j] == '\\' {
					j++
				}
			}
			tokens = append(tokens, token{"value", ""})
			i = j
		case strings.ContainsRune("=!<>", c):
			j := i
			for j < len(r) && strings.ContainsRune("=!<>", r[j]) {
				j++
			}
			op := string(r[i:j])
			if op != "=" && op != "!=" && op != "<" && op != ">" && op != "<=" && op != ">=" {
				return fmt.Sprintf("has %q, which is no comparison (=, !=, <, <=, >, >=)", op)
			}
			tokens = append(tokens, token{"compare", op})
			i = j - 1
		case strings.ContainsRune("({", c):
			tokens = append(tokens, token{"open", string(c)})
		case strings.ContainsRune(")}", c):
			tokens = append(tokens, token{"close", string(c)})
		case c == ',':
			tokens = append(tokens, token{"comma", ","})
		default:
			j := i
			for j < len(r) && !unicode.IsSpace(r[j]) && !strings.ContainsRune(`"=!<>(){},`, r[j]) {
				j++
			}
			word := string(r[i:j])
			kind := "value"
			if w := strings.ToUpper(word); w == "AND" || w == "OR" {
				kind = "bool"
			}
			tokens = append(tokens, token{kind, word})
			i = j - 1
		}
	}
	for i, t := range tokens {
		prev, next := token{"start", ""}, token{"end", ""}
		if i > 0 {
			prev = tokens[i-1]
		}
		if i+1 < len(tokens) {
			next = tokens[i+1]
		}
		switch t.kind {
		case "compare":
			if next.kind == "compare" {
				return fmt.Sprintf("has two comparisons in a row (%s %s)", t.text, next.text)
			}
		case "bool":
			if prev.kind == "start" || prev.kind == "open" || prev.kind == "bool" || prev.kind == "compare" ||
				next.kind == "end" || next.kind == "close" || next.kind == "bool" || next.kind == "compare" {
				return fmt.Sprintf("has %s without an expression on each side", strings.ToUpper(t.text))
			}
		case "open":
			if t.text == "(" && next.text == ")" && prev.kind != "value" {
				return "has an empty ( ) that calls no function"
			}
		}
	}
	return ""
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
		if err := checkTags(*p.Tags); err != nil {
			return err
		}
	}
	return nil
}
