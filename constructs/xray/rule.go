package xray

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsxray"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// SamplingRuleProps are the fields of an X-Ray sampling rule, named as the
// X-Ray API names them. Every field is optional: a nil field takes the value
// of the seed's aws/json/xray.json, given with each field below.
type SamplingRuleProps struct {
	// RuleName names the rule, 1..32 characters.
	// Default: "Cruddur".
	RuleName *string
	// Priority orders the rules, lowest first; 1..9999. The built-in default
	// rule has 10000, so every custom rule is tried before it.
	// Default: 9000.
	Priority *float64
	// FixedRate is the share of requests traced after the reservoir is
	// used up, 0..1.
	// Default: 0.1.
	FixedRate *float64
	// ReservoirSize is how many requests a second are traced before FixedRate
	// applies, a whole number >= 0.
	// Default: 5.
	ReservoirSize *float64
	// ServiceName matches the segment name, with * and ? wildcards; at most
	// 64 characters.
	// Default: "Cruddur", the name the backend gives its segments.
	ServiceName *string
	// ServiceType matches the segment's origin (AWS::ECS::Container, ...);
	// at most 64 characters.
	// Default: "*".
	ServiceType *string
	// Host matches the request's Host header; at most 64 characters.
	// Default: "*".
	Host *string
	// HTTPMethod matches the request's method; at most 10 characters.
	// Default: "*".
	HTTPMethod *string
	// URLPath matches the request's path; at most 128 characters.
	// Default: "*".
	URLPath *string
	// ResourceARN matches the ARN of the resource that serves the request;
	// at most 500 characters. The X-Ray SDKs only apply rules whose
	// ResourceARN is "*".
	// Default: "*".
	ResourceARN *string
	// Version of the rule format; X-Ray knows only 1, and it cannot be
	// changed after the rule is created.
	// Default: 1.
	Version *float64
	// Attributes match segment attributes; at most 5, keys and values
	// 1..32 characters. The X-Ray SDKs only apply rules without attributes.
	// Default: none.
	Attributes map[string]string
	// Tags are put on the rule; keys 1..128 characters and not starting with
	// "aws:", values at most 256, at most 50 tags.
	// Default: none.
	Tags map[string]string
}

// The seed's values (aws/json/xray.json), used for every field left nil.
const (
	defaultRuleName      = "Cruddur"
	defaultPriority      = 9000
	defaultFixedRate     = 0.1
	defaultReservoirSize = 5
	defaultWildcard      = "*"
	defaultVersion       = 1
)

// X-Ray's limits on a sampling rule (the X-Ray API reference, SamplingRule),
// and the tagging limits that every AWS resource shares.
const (
	maxRuleNameLen     = 32
	minPriority        = 1
	maxPriority        = 9999
	maxServiceTypeLen  = 64
	maxHostLen         = 64
	maxHTTPMethodLen   = 10
	maxURLPathLen      = 128
	maxResourceARNLen  = 500
	maxAttributes      = 5
	maxAttributeLen    = 32
	maxTags            = 50
	maxTagKeyLen       = 128
	maxTagValueLen     = 256
	supportedVersion   = 1
	reservedTagKeyHead = "aws:"
)

// FieldError names a field that holds a value X-Ray would refuse, the value,
// and what is expected instead.
type FieldError struct {
	// Field is the field's name as the X-Ray API spells it, such as
	// "Priority" or "Attributes[team]".
	Field string
	// Problem says what is wrong with the value and what is expected, such
	// as "0 is outside 1..9999".
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// FieldErrors is every problem found in one set of props.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Validate checks every field against X-Ray's limits and returns
// FieldErrors naming each bad field, or nil. Values that are CDK tokens,
// resolved only at deploy time, are not checked.
func (p *SamplingRuleProps) Validate() error {
	return p.validate(isToken)
}

// isToken reports whether v is an unresolved CDK token, such as a
// CfnParameter's value, which only deploy time can check.
func isToken(v any) bool {
	return *awscdk.Token_IsUnresolved(v)
}

func (p *SamplingRuleProps) validate(token func(any) bool) error {
	var errs FieldErrors
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	str := func(field string, v *string, min, max int) {
		if v == nil || token(v) {
			return
		}
		if n := utf8.RuneCountInString(*v); n < min || n > max {
			bad(field, "%s has %d characters; expected %d..%d", strconv.Quote(*v), n, min, max)
		}
	}
	num := func(field string, v *float64, min, max float64, whole bool) {
		if v == nil || token(v) {
			return
		}
		x := *v
		switch {
		case math.IsNaN(x) || x < min || x > max:
			bad(field, "%s is outside %s", fmtNum(x), rangeText(min, max))
		case whole && x != math.Trunc(x):
			bad(field, "%s is not a whole number; expected %s", fmtNum(x), rangeText(min, max))
		}
	}

	str("RuleName", p.RuleName, 1, maxRuleNameLen)
	num("Priority", p.Priority, minPriority, maxPriority, true)
	num("FixedRate", p.FixedRate, 0, 1, false)
	num("ReservoirSize", p.ReservoirSize, 0, math.Inf(1), true)
	str("ServiceName", p.ServiceName, 0, maxServiceNameLen)
	str("ServiceType", p.ServiceType, 0, maxServiceTypeLen)
	str("Host", p.Host, 0, maxHostLen)
	str("HTTPMethod", p.HTTPMethod, 0, maxHTTPMethodLen)
	str("URLPath", p.URLPath, 0, maxURLPathLen)
	str("ResourceARN", p.ResourceARN, 0, maxResourceARNLen)
	if p.Version != nil && !token(p.Version) && *p.Version != supportedVersion {
		bad("Version", "%s is not supported; expected %d, the only version X-Ray knows", fmtNum(*p.Version), supportedVersion)
	}

	if len(p.Attributes) > maxAttributes {
		bad("Attributes", "has %d entries; expected at most %d", len(p.Attributes), maxAttributes)
	}
	for _, k := range sortedKeys(p.Attributes) {
		field := "Attributes[" + strconv.Quote(k) + "]"
		if n := utf8.RuneCountInString(k); n < 1 || n > maxAttributeLen {
			bad(field, "the key has %d characters; expected 1..%d", n, maxAttributeLen)
		}
		if n := utf8.RuneCountInString(p.Attributes[k]); n < 1 || n > maxAttributeLen {
			bad(field, "the value %s has %d characters; expected 1..%d", strconv.Quote(p.Attributes[k]), n, maxAttributeLen)
		}
	}
	if err := validateTags(p.Tags); err != nil {
		errs = append(errs, err...)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validateTags checks the limits AWS puts on every resource's tags.
func validateTags(tags map[string]string) FieldErrors {
	var errs FieldErrors
	if len(tags) > maxTags {
		errs = append(errs, &FieldError{"Tags", fmt.Sprintf("has %d tags; expected at most %d", len(tags), maxTags)})
	}
	for _, k := range sortedKeys(tags) {
		field := "Tags[" + strconv.Quote(k) + "]"
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyLen {
			errs = append(errs, &FieldError{field, fmt.Sprintf("the key has %d characters; expected 1..%d", n, maxTagKeyLen)})
		} else if strings.HasPrefix(strings.ToLower(k), reservedTagKeyHead) {
			errs = append(errs, &FieldError{field, fmt.Sprintf("the key starts with %q, which AWS reserves for itself; expected another key", reservedTagKeyHead)})
		}
		if n := utf8.RuneCountInString(tags[k]); n > maxTagValueLen {
			errs = append(errs, &FieldError{field, fmt.Sprintf("the value has %d characters; expected at most %d", n, maxTagValueLen)})
		}
	}
	return errs
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func rangeText(min, max float64) string {
	if math.IsInf(max, 1) {
		return ">= " + fmtNum(min)
	}
	return fmtNum(min) + ".." + fmtNum(max)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cfnTags renders tags sorted by key, so the template does not depend on Go's
// map order.
func cfnTags(tags map[string]string) *[]*awscdk.CfnTag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]*awscdk.CfnTag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, &awscdk.CfnTag{Key: jsii.String(k), Value: jsii.String(tags[k])})
	}
	return &out
}

// SamplingRule is an AWS::XRay::SamplingRule: which requests X-Ray traces.
type SamplingRule struct {
	constructs.Construct
	resource awsxray.CfnSamplingRule
	name     *string
}

// NewSamplingRule defines a sampling rule. It panics with FieldErrors when a
// field is outside X-Ray's limits, as CDK constructs do with bad props.
func NewSamplingRule(scope constructs.Construct, id string, props *SamplingRuleProps) *SamplingRule {
	p := SamplingRuleProps{}
	if props != nil {
		p = *props
	}
	if err := p.Validate(); err != nil {
		panic(fmt.Errorf("xray.NewSamplingRule %s: %w", id, err))
	}
	r := &SamplingRule{name: or(p.RuleName, defaultRuleName)}
	constructs.NewConstruct_Override(r, scope, &id)

	var attributes any
	if len(p.Attributes) > 0 {
		m := make(map[string]*string, len(p.Attributes))
		for k, v := range p.Attributes {
			m[k] = jsii.String(v)
		}
		attributes = m
	}
	r.resource = awsxray.NewCfnSamplingRule(r, jsii.String("Resource"), &awsxray.CfnSamplingRuleProps{
		SamplingRule: &awsxray.CfnSamplingRule_SamplingRuleProperty{
			RuleName:      r.name,
			Priority:      orNum(p.Priority, defaultPriority),
			FixedRate:     orNum(p.FixedRate, defaultFixedRate),
			ReservoirSize: orNum(p.ReservoirSize, defaultReservoirSize),
			ServiceName:   or(p.ServiceName, DefaultServiceName),
			ServiceType:   or(p.ServiceType, defaultWildcard),
			Host:          or(p.Host, defaultWildcard),
			HttpMethod:    or(p.HTTPMethod, defaultWildcard),
			UrlPath:       or(p.URLPath, defaultWildcard),
			ResourceArn:   or(p.ResourceARN, defaultWildcard),
			Version:       orNum(p.Version, defaultVersion),
			Attributes:    attributes,
		},
		Tags: cfnTags(p.Tags),
	})
	return r
}

// RuleArn is the rule's ARN, known at deploy time.
func (r *SamplingRule) RuleArn() *string { return r.resource.AttrRuleArn() }

// RuleName is the rule's name.
func (r *SamplingRule) RuleName() *string { return r.name }

// Resource is the underlying CloudFormation resource, for escape hatches.
func (r *SamplingRule) Resource() awsxray.CfnSamplingRule { return r.resource }

func or(v *string, def string) *string {
	if v != nil {
		return v
	}
	return jsii.String(def)
}

func orNum(v *float64, def float64) *float64 {
	if v != nil {
		return v
	}
	return jsii.Number(def)
}
