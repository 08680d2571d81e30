package xray

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsxray"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// X-Ray's limit on a group's name (the X-Ray API reference, CreateGroup).
const maxGroupNameLen = 32

// GroupProps configures a Group. Every field is optional.
type GroupProps struct {
	// GroupName names the group, 1..32 characters.
	// Default: "Cruddur".
	GroupName *string
	// ServiceName is the service whose traces the group collects; it sets
	// the filter expression service("<ServiceName>") and must pass
	// ValidateServiceName.
	// Default: "Cruddur", the name the backend gives its segments.
	ServiceName *string
	// FilterExpression replaces the filter built from ServiceName, for a
	// group that selects traces some other way.
	// Default: service("<ServiceName>").
	FilterExpression *string
	// InsightsEnabled turns on X-Ray Insights for the group, which detects
	// anomalies in its traces and is billed per trace it reads.
	// Default: false.
	InsightsEnabled *bool
	// NotificationsEnabled sends Insights events to Amazon EventBridge; it
	// needs InsightsEnabled.
	// Default: false.
	NotificationsEnabled *bool
	// Tags are put on the group, with the same limits as a rule's tags.
	// Default: none.
	Tags map[string]string
}

// Group is an AWS::XRay::Group: a saved filter that collects one service's
// traces, with its own service map and, optionally, Insights.
type Group struct {
	constructs.Construct
	resource awsxray.CfnGroup
	name     *string
	filter   *string
}

// NewGroup defines an X-Ray group. It panics with FieldErrors on props that
// X-Ray would refuse.
func NewGroup(scope constructs.Construct, id string, props *GroupProps) *Group {
	p := GroupProps{}
	if props != nil {
		p = *props
	}
	if err := p.validate(isToken); err != nil {
		panic(fmt.Errorf("xray.NewGroup %s: %w", id, err))
	}
	g := &Group{name: or(p.GroupName, DefaultServiceName), filter: p.FilterExpression}
	if g.filter == nil {
		g.filter = jsii.String(ServiceFilter(*or(p.ServiceName, DefaultServiceName)))
	}
	constructs.NewConstruct_Override(g, scope, &id)

	var insights *awsxray.CfnGroup_InsightsConfigurationProperty
	if p.InsightsEnabled != nil || p.NotificationsEnabled != nil {
		insights = &awsxray.CfnGroup_InsightsConfigurationProperty{
			InsightsEnabled:      boolOr(p.InsightsEnabled),
			NotificationsEnabled: boolOr(p.NotificationsEnabled),
		}
	}
	g.resource = awsxray.NewCfnGroup(g, jsii.String("Resource"), &awsxray.CfnGroupProps{
		GroupName:             g.name,
		FilterExpression:      g.filter,
		InsightsConfiguration: insights,
		Tags:                  cfnTags(p.Tags),
	})
	return g
}

// Validate checks the props against X-Ray's limits and returns FieldErrors
// naming each bad field, or nil. CDK tokens are not checked.
func (p *GroupProps) Validate() error {
	return p.validate(isToken)
}

func (p *GroupProps) validate(token func(any) bool) error {
	var errs FieldErrors
	if v := p.GroupName; v != nil && !token(v) {
		if n := utf8.RuneCountInString(*v); n < 1 || n > maxGroupNameLen {
			errs = append(errs, &FieldError{"GroupName", fmt.Sprintf("%s has %d characters; expected 1..%d", strconv.Quote(*v), n, maxGroupNameLen)})
		}
	}
	if v := p.ServiceName; v != nil && p.FilterExpression == nil && !token(v) {
		if err := ValidateServiceName(*v); err != nil {
			errs = append(errs, &FieldError{"ServiceName", err.Error()})
		}
	}
	if v := p.FilterExpression; v != nil && !token(v) && *v == "" {
		errs = append(errs, &FieldError{"FilterExpression", `"" is empty; expected an X-Ray filter expression such as service("Cruddur")`})
	}
	if p.NotificationsEnabled != nil && *p.NotificationsEnabled && (p.InsightsEnabled == nil || !*p.InsightsEnabled) {
		errs = append(errs, &FieldError{"NotificationsEnabled", "true needs InsightsEnabled true; expected InsightsEnabled true or NotificationsEnabled false"})
	}
	errs = append(errs, validateTags(p.Tags)...)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func boolOr(v *bool) *bool {
	if v == nil {
		return jsii.Bool(false)
	}
	return v
}

// GroupArn is the group's ARN, known at deploy time.
func (g *Group) GroupArn() *string { return g.resource.AttrGroupArn() }

// GroupName is the group's name.
func (g *Group) GroupName() *string { return g.name }

// FilterExpression is the filter that selects the group's traces.
func (g *Group) FilterExpression() *string { return g.filter }

// Resource is the underlying CloudFormation resource, for escape hatches.
func (g *Group) Resource() awsxray.CfnGroup { return g.resource }
