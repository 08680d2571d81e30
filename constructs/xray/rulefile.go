package xray

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxRuleFileBytes bounds a rule file. The largest rule X-Ray takes, every
// field at its limit with 5 attributes and 50 tags, is about 20 KB.
const MaxRuleFileBytes = 64 << 10

// ruleFile is the JSON that `aws xray create-sampling-rule --cli-input-json`
// takes, with the X-Ray API's types: Integer fields are int32, so a value
// such as 1e20 or 2.5 is refused while decoding.
type ruleFile struct {
	SamplingRule *struct {
		RuleName      *string           `json:"RuleName"`
		Priority      *int32            `json:"Priority"`
		FixedRate     *float64          `json:"FixedRate"`
		ReservoirSize *int32            `json:"ReservoirSize"`
		ServiceName   *string           `json:"ServiceName"`
		ServiceType   *string           `json:"ServiceType"`
		Host          *string           `json:"Host"`
		HTTPMethod    *string           `json:"HTTPMethod"`
		URLPath       *string           `json:"URLPath"`
		ResourceARN   *string           `json:"ResourceARN"`
		Version       *int32            `json:"Version"`
		Attributes    map[string]string `json:"Attributes"`
	} `json:"SamplingRule"`
	Tags []struct {
		Key   *string `json:"Key"`
		Value *string `json:"Value"`
	} `json:"Tags"`
}

// LoadSamplingRuleFile reads a sampling rule from a file in the shape
// `aws xray create-sampling-rule --cli-input-json file://PATH` takes:
//
//	{"SamplingRule": {"RuleName": "orders", "Priority": 9000, ...},
//	 "Tags": [{"Key": "team", "Value": "web"}]}
//
// The file must be a regular file of at most MaxRuleFileBytes of UTF-8 JSON.
// Field names are case-sensitive, as the CLI's are; an unknown or repeated
// field, or a value of the wrong type, is an error that names the file and
// the field. Fields left out take the SamplingRuleProps defaults.
func LoadSamplingRuleFile(path string) (*SamplingRuleProps, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, err := ParseSamplingRule(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// readBounded reads a regular file of at most MaxRuleFileBytes. It opens
// without blocking, so that a FIFO cannot hang it, and checks what it opened.
func readBounded(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("is a %s; expected a regular file", fileKind(info.Mode()))
	}
	if info.Size() > MaxRuleFileBytes {
		return nil, fmt.Errorf("has %d bytes; expected at most %d", info.Size(), MaxRuleFileBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxRuleFileBytes+1))
	if err == nil && len(data) > MaxRuleFileBytes {
		err = fmt.Errorf("grew past %d bytes while read; expected at most %d", MaxRuleFileBytes, MaxRuleFileBytes)
	}
	return data, err
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// ParseSamplingRule reads a rule in the shape LoadSamplingRuleFile takes; its
// errors name the field but no file.
func ParseSamplingRule(data []byte) (*SamplingRuleProps, error) {
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, errors.New("starts with a UTF-8 byte-order mark; expected JSON without one")
	}
	var f ruleFile
	if err := json.Unmarshal(data, &f, json.RejectUnknownMembers(true)); err != nil {
		return nil, decodeError(data, err)
	}
	r := f.SamplingRule
	if r == nil {
		return nil, errors.New(`SamplingRule: missing; expected {"SamplingRule": {...}} as aws xray create-sampling-rule --cli-input-json takes it`)
	}
	if r.Version != nil && *r.Version != 1 {
		return nil, fmt.Errorf("SamplingRule.Version: %d is not a rule version; expected 1, the only one X-Ray knows", *r.Version)
	}
	p := &SamplingRuleProps{
		RuleName: r.RuleName, Priority: number(r.Priority), FixedRate: r.FixedRate,
		ReservoirSize: number(r.ReservoirSize), ServiceName: r.ServiceName, ServiceType: r.ServiceType,
		Host: r.Host, HTTPMethod: r.HTTPMethod, URLPath: r.URLPath, ResourceARN: r.ResourceARN,
		Attributes: r.Attributes,
	}
	if len(f.Tags) > 0 {
		tags := make([]*awscdk.CfnTag, len(f.Tags))
		for i, t := range f.Tags {
			if t.Key == nil || t.Value == nil {
				return nil, fmt.Errorf("Tags[%d]: expected both Key and Value", i)
			}
			tags[i] = &awscdk.CfnTag{Key: t.Key, Value: t.Value}
		}
		p.Tags = &tags
	}
	// X-Ray's own limits, as NewSamplingRule checks them, named in the
	// file's shape.
	if err := checkRule(p); err != nil {
		if strings.HasPrefix(err.Error(), "Tags") {
			return nil, err
		}
		return nil, fmt.Errorf("SamplingRule.%w", err)
	}
	return p, nil
}

func number(v *int32) *float64 {
	if v == nil {
		return nil
	}
	f := float64(*v)
	return &f
}

// dottedPath writes a JSON pointer as a dotted path (SamplingRule.Priority),
// each name that is not a plain one quoted: a key is the file's, and may
// hold a newline, a dot or a thousand characters.
func dottedPath(pointer jsontext.Pointer) string {
	if len(pointer) == 0 {
		return "the file" // its top level
	}
	var names []string
	for name := range pointer.Tokens() {
		if !plainName.MatchString(name) {
			name = Quote(name)
		}
		names = append(names, name)
	}
	return strings.Join(names, ".")
}

// plainName is a field name that needs no quotes in a dotted path.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// decodeError says what the decoder refused, with the field as a dotted path
// (SamplingRule.Priority) rather than a JSON pointer.
func decodeError(data []byte, err error) error {
	var se *json.SemanticError
	if !errors.As(err, &se) {
		// A syntax error: jsontext says where, as a byte offset.
		return fmt.Errorf("not valid JSON: %s", strings.TrimPrefix(err.Error(), "jsontext: "))
	}
	field := dottedPath(se.JSONPointer)
	if errors.Is(se.Err, json.ErrUnknownName) {
		return fmt.Errorf("%s: unknown field; expected the fields of aws xray create-sampling-rule --cli-input-json, spelled as it spells them (names are case-sensitive)", field)
	}
	got := "JSON " + kindName(se.JSONKind)
	value := se.JSONValue
	if len(value) == 0 && se.ByteOffset >= 0 && se.ByteOffset < int64(len(data)) {
		value, _ = jsontext.NewDecoder(bytes.NewReader(data[se.ByteOffset:])).ReadValue()
	}
	// As one line: the file's whitespace goes (a JSON string holds none
	// unescaped).
	if value = value.Clone(); value.Compact() == nil && len(value) > 0 && len(value) <= 40 {
		got += " " + string(value)
	}
	return fmt.Errorf("%s: %s; expected %s", field, got, goTypeName(se.GoType))
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "list"
	case 't', 'f':
		return "boolean"
	}
	return "value"
}

func goTypeName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int32:
		return "a whole number from -2147483648 to 2147483647 (the X-Ray API's Integer)"
	case reflect.Float64:
		return "a number"
	case reflect.Map:
		return "an object of string values"
	case reflect.Slice:
		return `a list of {"Key": ..., "Value": ...}`
	}
	return "an object"
}
