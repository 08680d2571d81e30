// Package xray defines AWS X-Ray's resources as constructs: a Group, a saved
// filter over traces, and a SamplingRule, which decides how many requests are
// traced. LoadSamplingRuleFile reads a rule from the file that
// `aws xray create-sampling-rule --cli-input-json` takes, so that a file a
// team already keeps stays the source of truth.
//
// The constructs check only what CloudFormation cannot: aws-cdk-lib's
// template validator already enforces X-Ray's length and range limits at
// synth.
package xray

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsxray"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// GroupProps configure a Group.
type GroupProps struct {
	// GroupName names the group, 1..32 characters. Required.
	GroupName *string
	// FilterExpression selects the group's traces, such as
	// ServiceFilter("orders"). Required.
	FilterExpression *string
	// InsightsEnabled turns on X-Ray Insights, which looks for anomalies in
	// the group's traces and is billed per trace it reads.
	// Default: false.
	InsightsEnabled *bool
	// NotificationsEnabled sends Insights events to Amazon EventBridge; it
	// needs InsightsEnabled.
	// Default: false.
	NotificationsEnabled *bool
}

// Group is an AWS::XRay::Group.
type Group struct {
	constructs.Construct
	resource awsxray.CfnGroup
	props    GroupProps
}

// NewGroup defines an X-Ray group. It panics on props X-Ray would refuse
// that the template validator cannot see.
func NewGroup(scope constructs.Construct, id string, props *GroupProps) *Group {
	if props == nil || props.GroupName == nil || props.FilterExpression == nil {
		panic(fmt.Errorf("xray.NewGroup %s: GroupName and FilterExpression are required", id))
	}
	if !*awscdk.Token_IsUnresolved(props.GroupName) && !*awscdk.Token_IsUnresolved(props.FilterExpression) {
		if err := checkGroup(*props.GroupName, *props.FilterExpression); err != nil {
			panic(fmt.Errorf("xray.NewGroup %s: %w", id, err))
		}
	}
	if err := CheckInsights(isTrue(props.InsightsEnabled), isTrue(props.NotificationsEnabled)); err != nil {
		panic(fmt.Errorf("xray.NewGroup %s: %w", id, err))
	}
	g := &Group{props: *props}
	constructs.NewConstruct_Override(g, scope, &id)
	var insights *awsxray.CfnGroup_InsightsConfigurationProperty
	if props.InsightsEnabled != nil || props.NotificationsEnabled != nil {
		insights = &awsxray.CfnGroup_InsightsConfigurationProperty{
			InsightsEnabled:      jsii.Bool(isTrue(props.InsightsEnabled)),
			NotificationsEnabled: jsii.Bool(isTrue(props.NotificationsEnabled)),
		}
	}
	g.resource = awsxray.NewCfnGroup(g, jsii.String("Resource"), &awsxray.CfnGroupProps{
		GroupName:             props.GroupName,
		FilterExpression:      props.FilterExpression,
		InsightsConfiguration: insights,
	})
	return g
}

// GroupArn is the group's ARN, known at deploy time.
func (g *Group) GroupArn() *string { return g.resource.AttrGroupArn() }

// GroupName is the group's name.
func (g *Group) GroupName() *string { return g.props.GroupName }

// MetricApproximateTraceCount is the number of traces X-Ray counted in the
// group (AWS/X-Ray ApproximateTraceCount, by GroupName), which X-Ray publishes
// once a minute from sampled traces only. Default: the sum over 5 minutes;
// opts override statistic, period, label and the rest.
func (g *Group) MetricApproximateTraceCount(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	props := &awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/X-Ray"), MetricName: jsii.String("ApproximateTraceCount"),
		DimensionsMap: &map[string]*string{"GroupName": g.GroupName()},
		Statistic:     jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(5)),
	}
	metric := awscloudwatch.NewMetric(props)
	if opts != nil {
		metric = metric.With(opts)
	}
	return metric
}

// FilterExpression is the filter that selects the group's traces.
func (g *Group) FilterExpression() *string { return g.props.FilterExpression }

// SamplingRuleProps are a sampling rule's fields, named as the X-Ray API
// names them.
type SamplingRuleProps struct {
	// RuleName names the rule, 1..32 characters. Required.
	RuleName *string
	// Priority orders the rules, lowest first, 1..9999; X-Ray's built-in
	// default rule comes last. Required.
	Priority *float64
	// FixedRate is the share of requests traced once the reservoir is used
	// up, 0..1.
	// Default: 0.05, as X-Ray's default rule.
	FixedRate *float64
	// ReservoirSize is how many requests a second are traced before
	// FixedRate applies.
	// Default: 1, as X-Ray's default rule.
	ReservoirSize *float64
	// ServiceName, ServiceType, Host, HTTPMethod and URLPath match a
	// request's segment name, origin, Host header, method and path, with *
	// and ? wildcards.
	// Default: "*" each.
	ServiceName, ServiceType, Host, HTTPMethod, URLPath *string
	// ResourceARN matches the resource that serves the request. The X-Ray
	// SDKs apply only rules whose ResourceARN is "*".
	// Default: "*".
	ResourceARN *string
	// Attributes match segment attributes; the X-Ray SDKs apply only rules
	// without them.
	// Default: none.
	Attributes map[string]string
	// Tags are put on the rule.
	// Default: none.
	Tags *[]*awscdk.CfnTag
}

// The defaults of SamplingRuleProps.
const (
	defaultFixedRate     = 0.05
	defaultReservoirSize = 1
	wildcard             = "*"
)

// SamplingRule is an AWS::XRay::SamplingRule.
type SamplingRule struct {
	constructs.Construct
	resource  awsxray.CfnSamplingRule
	fixedRate *float64
}

// NewSamplingRule defines a sampling rule. It panics without RuleName or
// Priority.
func NewSamplingRule(scope constructs.Construct, id string, props *SamplingRuleProps) *SamplingRule {
	if props == nil || props.RuleName == nil || props.Priority == nil {
		panic(fmt.Errorf("xray.NewSamplingRule %s: RuleName and Priority are required", id))
	}
	p := props
	if err := checkRule(p); err != nil {
		panic(fmt.Errorf("xray.NewSamplingRule %s: %w", id, err))
	}
	r := &SamplingRule{fixedRate: orNumber(p.FixedRate, defaultFixedRate)}
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
			RuleName:      p.RuleName,
			Priority:      p.Priority,
			FixedRate:     r.fixedRate,
			ReservoirSize: orNumber(p.ReservoirSize, defaultReservoirSize),
			ServiceName:   orWildcard(p.ServiceName),
			ServiceType:   orWildcard(p.ServiceType),
			Host:          orWildcard(p.Host),
			HttpMethod:    orWildcard(p.HTTPMethod),
			UrlPath:       orWildcard(p.URLPath),
			ResourceArn:   orWildcard(p.ResourceARN),
			Version:       jsii.Number(1), // the only version X-Ray knows
			Attributes:    attributes,
		},
		Tags: p.Tags,
	})
	return r
}

// RuleArn is the rule's ARN, known at deploy time.
func (r *SamplingRule) RuleArn() *string { return r.resource.AttrRuleArn() }

// FixedRate is the rule's FixedRate, its default filled in: the ratio an
// OpenTelemetry SDK, which does not read X-Ray's rules, can sample at.
func (r *SamplingRule) FixedRate() *float64 { return r.fixedRate }

// ValidateServiceName reports whether name can be a segment name and the
// argument of ServiceFilter. X-Ray allows Unicode letters, numbers, spaces
// and _ . : / % & # = + \ - @ in segment names; the backslash is refused here
// too, because in a filter expression's string it escapes the next
// character. Length is the rule's limit (64), the smaller of the two.
func ValidateServiceName(name string) error {
	if n := len([]rune(name)); n < 1 || n > 64 {
		return fmt.Errorf("%s has %d characters; expected 1..64", Quote(name), n)
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%s starts or ends with white space; expected a name without it", Quote(name))
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !strings.ContainsRune(" _.:/%&#=+-@", r) {
			return fmt.Errorf("%s contains %q; expected letters, numbers, spaces and _ . : / %% & # = + - @", Quote(name), r)
		}
	}
	return nil
}

// ServiceFilter is the filter expression that selects the traces of the named
// service, or an error from ValidateServiceName.
func ServiceFilter(name string) (string, error) {
	if err := ValidateServiceName(name); err != nil {
		return "", err
	}
	return `service("` + name + `")`, nil
}

// CheckInsights refuses Insights notifications without Insights, which
// X-Ray would refuse; NewGroup checks its props with it.
func CheckInsights(insightsEnabled, notificationsEnabled bool) error {
	if notificationsEnabled && !insightsEnabled {
		return errors.New("NotificationsEnabled: true needs InsightsEnabled true; expected InsightsEnabled true or NotificationsEnabled false")
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func orNumber(v *float64, def float64) *float64 {
	if v != nil {
		return v
	}
	return jsii.Number(def)
}

func orWildcard(v *string) *string {
	if v != nil {
		return v
	}
	return jsii.String(wildcard)
}
