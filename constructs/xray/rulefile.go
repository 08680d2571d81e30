package xray

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ruleFields lists the keys of the file's "SamplingRule" object that this
// loader takes, with the JSON type each must have.
var ruleFields = map[string]string{
	"RuleName": "string", "Priority": "number", "FixedRate": "number",
	"ReservoirSize": "number", "ServiceName": "string", "ServiceType": "string",
	"Host": "string", "HTTPMethod": "string", "URLPath": "string",
	"ResourceARN": "string", "Version": "number", "Attributes": "object",
}

// notTaken lists keys the X-Ray CLI knows in "SamplingRule" but that this
// loader refuses, each with the reason, so that the error is not a puzzling
// "unknown field".
var notTaken = map[string]string{
	"RuleARN":           "AWS assigns the ARN when it creates the rule; remove it",
	"SamplingRateBoost": "not supported by this stack yet; remove it",
}

// LoadSamplingRuleFile reads a sampling rule from a file in the shape that
// `aws xray create-sampling-rule --cli-input-json file://PATH` takes:
//
//	{"SamplingRule": {"RuleName": "Cruddur", "Priority": 9000, ...},
//	 "Tags": [{"Key": "team", "Value": "cruddur"}]}
//
// Fields left out take the SamplingRuleProps defaults. An unknown or
// duplicated field, a value of the wrong JSON type, or a value outside X-Ray's
// limits is an error that names the file and the field, such as
// "aws/json/xray.json: SamplingRule.FixedRate: 1.5 is outside 0..1".
func LoadSamplingRuleFile(path string) (*SamplingRuleProps, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sampling rule file: %w", err)
	}
	p, err := ParseSamplingRule(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParseSamplingRule reads a sampling rule in the --cli-input-json shape that
// LoadSamplingRuleFile describes; its errors name the field but not a file.
func ParseSamplingRule(data []byte) (*SamplingRuleProps, error) {
	// Check the syntax of the whole file first: a syntax error found while
	// walking a nested value would carry an offset into that value only.
	var whole any
	if err := json.Unmarshal(data, &whole); err != nil {
		return nil, errors.New(syntaxProblem(data, err))
	}
	top, err := objectFields(data, "")
	if err != nil {
		return nil, err
	}
	p := &SamplingRuleProps{}
	sawRule := false
	for _, f := range top {
		switch f.key {
		case "SamplingRule":
			sawRule = true
			if err := parseRule(f.value, p); err != nil {
				return nil, err
			}
		case "Tags":
			if p.Tags, err = parseTags(f.value); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: unknown field; expected SamplingRule or Tags", f.key)
		}
	}
	if !sawRule {
		return nil, errors.New(`SamplingRule: missing; expected {"SamplingRule": {...}} as aws xray create-sampling-rule --cli-input-json takes it`)
	}
	if err := p.validate(func(any) bool { return false }); err != nil {
		var fes FieldErrors
		if errors.As(err, &fes) {
			for _, fe := range fes {
				if !strings.HasPrefix(fe.Field, "Tags") {
					fe.Field = "SamplingRule." + fe.Field
				}
			}
		}
		return nil, err
	}
	return p, nil
}

func parseRule(data []byte, p *SamplingRuleProps) error {
	fields, err := objectFields(data, "SamplingRule")
	if err != nil {
		return err
	}
	for _, f := range fields {
		path := "SamplingRule." + f.key
		if why, ok := notTaken[f.key]; ok {
			return fmt.Errorf("%s: %s", path, why)
		}
		want, ok := ruleFields[f.key]
		if !ok {
			return fmt.Errorf("%s: unknown field; expected one of %s (names are case-sensitive)", path, strings.Join(sortedKeys(ruleFields), ", "))
		}
		switch want {
		case "string":
			var s string
			if err := decodeAs(f.value, &s, path, "a string"); err != nil {
				return err
			}
			setString(p, f.key, &s)
		case "number":
			var n float64
			if err := decodeAs(f.value, &n, path, "a number"); err != nil {
				return err
			}
			setNumber(p, f.key, &n)
		case "object":
			attrs := map[string]string{}
			if err := decodeAs(f.value, &attrs, path, "an object of string values"); err != nil {
				return err
			}
			p.Attributes = attrs
		}
	}
	return nil
}

func setString(p *SamplingRuleProps, key string, v *string) {
	switch key {
	case "RuleName":
		p.RuleName = v
	case "ServiceName":
		p.ServiceName = v
	case "ServiceType":
		p.ServiceType = v
	case "Host":
		p.Host = v
	case "HTTPMethod":
		p.HTTPMethod = v
	case "URLPath":
		p.URLPath = v
	case "ResourceARN":
		p.ResourceARN = v
	}
}

func setNumber(p *SamplingRuleProps, key string, v *float64) {
	switch key {
	case "Priority":
		p.Priority = v
	case "FixedRate":
		p.FixedRate = v
	case "ReservoirSize":
		p.ReservoirSize = v
	case "Version":
		p.Version = v
	}
}

func parseTags(data []byte) (map[string]string, error) {
	var list []json.RawMessage
	if err := decodeAs(data, &list, "Tags", `a list of {"Key": ..., "Value": ...}`); err != nil {
		return nil, err
	}
	tags := make(map[string]string, len(list))
	for i, raw := range list {
		path := "Tags[" + strconv.Itoa(i) + "]"
		fields, err := objectFields(raw, path)
		if err != nil {
			return nil, err
		}
		var key, value *string
		for _, f := range fields {
			var s string
			if err := decodeAs(f.value, &s, path+"."+f.key, "a string"); err != nil {
				return nil, err
			}
			switch f.key {
			case "Key":
				key = &s
			case "Value":
				value = &s
			default:
				return nil, fmt.Errorf("%s.%s: unknown field; expected Key and Value", path, f.key)
			}
		}
		if key == nil || value == nil {
			return nil, fmt.Errorf("%s: expected both Key and Value", path)
		}
		if _, dup := tags[*key]; dup {
			return nil, fmt.Errorf("%s.Key: %s appears twice; expected each key once", path, strconv.Quote(*key))
		}
		tags[*key] = *value
	}
	return tags, nil
}

// field is one key of a JSON object with its raw value, in file order.
type field struct {
	key   string
	value json.RawMessage
}

// objectFields splits one valid JSON value, which must be an object, into its
// fields, refusing any key that appears twice (encoding/json would silently
// keep the last one).
func objectFields(data []byte, path string) ([]field, error) {
	where := func(msg string) error {
		if path == "" {
			return errors.New(msg)
		}
		return fmt.Errorf("%s: %s", path, msg)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, where(syntaxProblem(data, err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, where(fmt.Sprintf("%s is %s; expected an object", preview(data), jsonKind(data)))
	}
	var fields []field
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, where(syntaxProblem(data, err))
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, where(syntaxProblem(data, err))
		}
		if seen[key] {
			return nil, where(fmt.Sprintf("%s appears twice; expected each field once", strconv.Quote(key)))
		}
		seen[key] = true
		fields = append(fields, field{key, raw})
	}
	return fields, nil
}

// decodeAs decodes one JSON value into v, or says which JSON type it had.
func decodeAs(data []byte, v any, path, want string) error {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return fmt.Errorf("%s: null; expected %s", path, want)
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return fmt.Errorf("%s: %s is %s; expected %s", path, preview(trimmed), jsonKind(trimmed), want)
	}
	return nil
}

// syntaxProblem turns a decoder error into "not valid JSON at line L,
// column C: ...".
func syntaxProblem(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 && se.Offset <= int64(len(data)) &&
		se.Error() != "unexpected end of JSON input" {
		// Offset counts the bytes read up to and including the bad one.
		at := int(se.Offset) - 1
		line := 1 + bytes.Count(data[:at], []byte("\n"))
		col := at - bytes.LastIndexByte(data[:at], '\n')
		return fmt.Sprintf("not valid JSON at line %d, column %d: %s", line, col, se.Error())
	}
	if errors.As(err, &se) || err == io.EOF || err == io.ErrUnexpectedEOF {
		return "not valid JSON: the file ends too soon"
	}
	return "not valid JSON: " + err.Error()
}

func jsonKind(data []byte) string {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return "empty"
	}
	switch data[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// preview quotes at most 40 bytes of a JSON value for an error message.
func preview(data []byte) string {
	const max = 40
	s := string(bytes.TrimSpace(data))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
