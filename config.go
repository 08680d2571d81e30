package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"

	"github.com/cruddur/tracing/constructs/tracedtask"
	"github.com/cruddur/tracing/constructs/xray"
)

// contextPrefix starts every context key this app reads, so that a mistyped
// key is caught instead of silently falling back to its default.
const contextPrefix = "cruddur:"

// The context keys, with their defaults in cdk.json.
const (
	keyServiceName           = contextPrefix + "serviceName"
	keyGroupName             = contextPrefix + "groupName"
	keyGroupFilterExpression = contextPrefix + "groupFilterExpression"
	keyInsightsEnabled       = contextPrefix + "insightsEnabled"
	keyInsightsNotifications = contextPrefix + "insightsNotificationsEnabled"
	keySamplingRuleFile      = contextPrefix + "samplingRuleFile"
	keyAccount               = contextPrefix + "account"
	keyRegion                = contextPrefix + "region"
	keyAppImage              = contextPrefix + "appImage"
	keyAppPort               = contextPrefix + "appPort"
	keyTaskCPU               = contextPrefix + "taskCpu"
	keyTaskMemoryMiB         = contextPrefix + "taskMemoryMiB"
	keyDaemonImage           = contextPrefix + "daemonImage"
	keyLogRetentionDays      = contextPrefix + "logRetentionDays"
	keyVpcID                 = contextPrefix + "vpcId"
	keyNatGateways           = contextPrefix + "natGateways"
	keyDesiredCount          = contextPrefix + "desiredCount"
	keyEcsExec               = contextPrefix + "ecsExec"
	keyLoadBalancer          = contextPrefix + "loadBalancer"
	keyCertificateArn        = contextPrefix + "certificateArn"
	keyDeletionProtection    = contextPrefix + "deletionProtection"
	keyCollector             = contextPrefix + "collector"
	keyCollectorImage        = contextPrefix + "collectorImage"
)

// BackendDir holds the backend's Dockerfile: the app image's default source.
const BackendDir = "backend"

// Config is everything the stack is built from, read from CDK context and
// checked before any construct exists.
type Config struct {
	// ServiceName is the one name that the group's filter, the sampling
	// rule's ServiceName and the backend's segments share.
	ServiceName string
	// GroupName names the X-Ray group.
	GroupName string
	// GroupFilterExpression, when not empty, replaces service("ServiceName").
	GroupFilterExpression string
	// InsightsEnabled and InsightsNotificationsEnabled configure X-Ray
	// Insights on the group.
	InsightsEnabled, InsightsNotificationsEnabled bool
	// SamplingRuleFile is the path of the rule file, in the X-Ray CLI's
	// --cli-input-json shape.
	SamplingRuleFile string
	// SamplingRule is that file's content, with ServiceName filled in.
	SamplingRule *xray.SamplingRuleProps
	// Account and Region are the target environment; empty means
	// environment-agnostic.
	Account, Region string

	// AppImage is a prebuilt image for the app container; empty means the
	// image built from BackendDir as a CDK asset.
	AppImage string
	// AppPort is the port the backend serves on.
	AppPort int
	// TaskCPU and TaskMemoryMiB are the Fargate task size.
	TaskCPU, TaskMemoryMiB int
	// DaemonImage is the X-Ray daemon image, pinned by tag or digest.
	DaemonImage string
	// LogRetentionDays is how long the containers' logs are kept.
	LogRetentionDays int

	// VpcID names an existing VPC to run in; empty means a new one with
	// NatGateways NAT gateways.
	VpcID       string
	NatGateways int
	// DesiredCount is how many tasks the service runs.
	DesiredCount int
	// EcsExec turns on ECS Exec.
	EcsExec bool
	// LoadBalancer puts an Application Load Balancer in front of the
	// service; CertificateArn adds HTTPS; DeletionProtection protects it.
	LoadBalancer       bool
	CertificateArn     string
	DeletionProtection bool

	// Collector is the tracing sidecar; CollectorImage the ADOT image.
	Collector      tracedtask.Collector
	CollectorImage string
}

var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	vpcIDPattern   = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)
	// An ACM certificate in any partition (aws, aws-cn, aws-us-gov).
	certificateArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:certificate/[0-9a-f-]{36}$`)
)

// LoadConfig reads the app's configuration from CDK context (cdk.json and
// `-c key=value`) and the environment the CDK CLI sets. Every error names the
// context key or file field, the bad value, and what is expected.
func LoadConfig(ctx map[string]any, getenv func(string) string) (*Config, error) {
	r := contextReader{ctx: ctx}
	c := &Config{
		ServiceName:                  r.str(keyServiceName, xray.DefaultServiceName),
		GroupName:                    r.str(keyGroupName, xray.DefaultServiceName),
		GroupFilterExpression:        r.str(keyGroupFilterExpression, ""),
		InsightsEnabled:              r.boolean(keyInsightsEnabled, false),
		InsightsNotificationsEnabled: r.boolean(keyInsightsNotifications, false),
		SamplingRuleFile:             r.str(keySamplingRuleFile, "aws/json/xray.json"),
		Account:                      r.str(keyAccount, ""),
		Region:                       r.str(keyRegion, ""),
		AppImage:                     r.str(keyAppImage, ""),
		AppPort:                      r.integer(keyAppPort, 4567, 1, 65535),
		TaskCPU:                      r.integer(keyTaskCPU, 256, 1, 1<<20),
		TaskMemoryMiB:                r.integer(keyTaskMemoryMiB, 512, 1, 1<<20),
		DaemonImage:                  r.str(keyDaemonImage, tracedtask.DefaultDaemonImage),
		LogRetentionDays:             r.integer(keyLogRetentionDays, 30, 1, 1<<20),
		VpcID:                        r.str(keyVpcID, ""),
		NatGateways:                  r.integer(keyNatGateways, 1, 1, 2),
		DesiredCount:                 r.integer(keyDesiredCount, 2, 1, 100),
		EcsExec:                      r.boolean(keyEcsExec, false),
		LoadBalancer:                 r.boolean(keyLoadBalancer, true),
		CertificateArn:               r.str(keyCertificateArn, ""),
		DeletionProtection:           r.boolean(keyDeletionProtection, false),
		Collector:                    tracedtask.Collector(r.str(keyCollector, string(tracedtask.CollectorXRayDaemon))),
		CollectorImage:               r.str(keyCollectorImage, tracedtask.DefaultCollectorImage),
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := unknownKeys(ctx, r.known); err != nil {
		return nil, err
	}
	if err := xray.ValidateServiceName(c.ServiceName); err != nil {
		return nil, fmt.Errorf("context %s: %w", keyServiceName, err)
	}
	if c.Account != "" && !accountPattern.MatchString(c.Account) {
		return nil, fmt.Errorf("context %s: %q is not an AWS account id; expected 12 digits", keyAccount, c.Account)
	}
	if c.Region != "" && !regionPattern.MatchString(c.Region) {
		return nil, fmt.Errorf("context %s: %q is not an AWS region; expected a name such as us-east-1", keyRegion, c.Region)
	}
	// The CLI always sets CDK_DEFAULT_REGION (us-east-1 when nothing is
	// configured) but CDK_DEFAULT_ACCOUNT only when it found credentials, so
	// the CLI's environment is taken only when both are there: a machine
	// without an AWS profile keeps the environment-agnostic template.
	if c.Account == "" && c.Region == "" && getenv("CDK_DEFAULT_ACCOUNT") != "" && getenv("CDK_DEFAULT_REGION") != "" {
		c.Account, c.Region = getenv("CDK_DEFAULT_ACCOUNT"), getenv("CDK_DEFAULT_REGION")
	}

	rule, err := xray.LoadSamplingRuleFile(c.SamplingRuleFile)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", keySamplingRuleFile, err)
	}
	switch {
	case rule.ServiceName == nil:
		rule.ServiceName = &c.ServiceName
	case !xray.MatchesWildcard(*rule.ServiceName, c.ServiceName):
		// A rule that cannot match the service's own segments never samples
		// them: the seed's group had this bug. A pattern such as "*" that
		// does match is an override on purpose.
		return nil, fmt.Errorf("%s: SamplingRule.ServiceName: %q does not match the service name %q (context %s), so the rule would never sample its traces; expected %q, a pattern that matches it, or no ServiceName to follow the context",
			c.SamplingRuleFile, *rule.ServiceName, c.ServiceName, keyServiceName, c.ServiceName)
	}
	c.SamplingRule = rule

	if c.AppImage != "" {
		if err := validateImage(c.AppImage); err != nil {
			return nil, fmt.Errorf("context %s: %w", keyAppImage, err)
		}
	}
	if err := validateImage(c.DaemonImage); err != nil {
		return nil, fmt.Errorf("context %s: %w", keyDaemonImage, err)
	}
	if c.Collector != tracedtask.CollectorXRayDaemon && c.Collector != tracedtask.CollectorADOT {
		return nil, fmt.Errorf("context %s: %q is not a collector; expected %q (the default) or %q", keyCollector, c.Collector, tracedtask.CollectorXRayDaemon, tracedtask.CollectorADOT)
	}
	if err := validateImage(c.CollectorImage); err != nil {
		return nil, fmt.Errorf("context %s: %w", keyCollectorImage, err)
	}
	if c.AppPort == tracedtask.DaemonPort || (c.Collector == tracedtask.CollectorADOT && (c.AppPort == tracedtask.OTLPGRPCPort || c.AppPort == tracedtask.OTLPHTTPPort)) {
		return nil, fmt.Errorf("context %s: %d is a port of the tracing sidecar in the same task; expected another port in 1..65535", keyAppPort, c.AppPort)
	}
	if err := tracedtask.ValidateTaskSize(c.TaskCPU, c.TaskMemoryMiB); err != nil {
		return nil, fmt.Errorf("context %s/%s: %w", keyTaskCPU, keyTaskMemoryMiB, err)
	}
	if _, err := tracedtask.RetentionFromDays(c.LogRetentionDays); err != nil {
		return nil, fmt.Errorf("context %s: %w", keyLogRetentionDays, err)
	}

	if c.VpcID != "" {
		if !vpcIDPattern.MatchString(c.VpcID) {
			return nil, fmt.Errorf("context %s: %q is not a VPC id; expected vpc- and 8 or 17 hexadecimal digits", keyVpcID, c.VpcID)
		}
		if c.Account == "" || c.Region == "" {
			return nil, fmt.Errorf("context %s: looking up %s needs the stack's account and region; expected %s and %s too (or AWS credentials for the CLI)", keyVpcID, c.VpcID, keyAccount, keyRegion)
		}
	}
	if c.CertificateArn != "" {
		if !c.LoadBalancer {
			return nil, fmt.Errorf("context %s: a certificate needs the load balancer; expected %s true or no certificate", keyCertificateArn, keyLoadBalancer)
		}
		if !certificateArnPattern.MatchString(c.CertificateArn) {
			return nil, fmt.Errorf("context %s: %q is not an ACM certificate ARN; expected arn:aws:acm:REGION:ACCOUNT:certificate/ID", keyCertificateArn, c.CertificateArn)
		}
	}

	if c.InsightsNotificationsEnabled && !c.InsightsEnabled {
		return nil, fmt.Errorf("context %s: true needs %s true; expected both true, or notifications false", keyInsightsNotifications, keyInsightsEnabled)
	}
	groupProps := c.GroupProps()
	if err := groupProps.Validate(); err != nil {
		return nil, fmt.Errorf("context %s: %w", keyGroupName, err)
	}
	return c, nil
}

// GroupProps are the X-Ray group's props that the configuration implies.
func (c *Config) GroupProps() *xray.GroupProps {
	p := &xray.GroupProps{
		GroupName:   &c.GroupName,
		ServiceName: &c.ServiceName,
	}
	if c.GroupFilterExpression != "" {
		p.FilterExpression = &c.GroupFilterExpression
	}
	if c.InsightsEnabled {
		p.InsightsEnabled = &c.InsightsEnabled
		p.NotificationsEnabled = &c.InsightsNotificationsEnabled
	}
	return p
}

// validateImage accepts a container image reference that names one image for
// good: with a tag other than "latest", or a digest, so that a deploy cannot
// change what runs without a change to the template.
func validateImage(image string) error {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Errorf("%q is not an image reference (%v); expected a name with a tag or digest, such as %s", image, err, tracedtask.DefaultDaemonImage)
	}
	_, digested := ref.(reference.Digested)
	tagged, isTagged := ref.(reference.Tagged)
	if !digested && (!isTagged || tagged.Tag() == "latest") {
		return fmt.Errorf("%q is not pinned; expected a tag other than latest, or a digest, such as %s", image, tracedtask.DefaultDaemonImage)
	}
	return nil
}

// contextReader reads typed values from CDK context, keeping the first error
// and the keys it was asked for.
type contextReader struct {
	ctx   map[string]any
	known []string
	err   error
}

func (r *contextReader) lookup(key string) (any, bool) {
	r.known = append(r.known, key)
	v, ok := r.ctx[key]
	return v, ok && v != nil
}

func (r *contextReader) fail(key string, v any, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("context %s: %s; expected %s", key, describe(v), want)
	}
}

func (r *contextReader) str(key, def string) string {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	s, isString := v.(string)
	if !isString {
		r.fail(key, v, "a string")
	}
	return s
}

func (r *contextReader) boolean(key string, def bool) bool {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	switch b := v.(type) {
	case bool:
		return b
	case string: // -c key=value always gives a string
		if b == "true" || b == "false" {
			return b == "true"
		}
	}
	r.fail(key, v, "true or false")
	return def
}

// integer reads a whole number in min..max, given as a JSON number in
// cdk.json or as a string by `-c key=value`.
func (r *contextReader) integer(key string, def, min, max int) int {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	want := fmt.Sprintf("a whole number in %d..%d", min, max)
	var n int
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			r.fail(key, v, want)
			return def
		}
		n = int(x)
	case string:
		var err error
		if n, err = strconv.Atoi(x); err != nil {
			r.fail(key, v, want)
			return def
		}
	default:
		r.fail(key, v, want)
		return def
	}
	if n < min || n > max {
		r.fail(key, v, want)
		return def
	}
	return n
}

// describe renders a context value as the user wrote it, with its JSON type
// where that is the problem.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprintf("%v (a %T)", x, x)
	}
}

// unknownKeys refuses context keys with this app's prefix that it does not
// read: most likely a typo that would otherwise be ignored.
func unknownKeys(ctx map[string]any, known []string) error {
	isKnown := map[string]bool{}
	for _, k := range known {
		isKnown[k] = true
	}
	var unknown []string
	for k := range ctx {
		if strings.HasPrefix(k, contextPrefix) && !isKnown[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	sort.Strings(known)
	return fmt.Errorf("context %s: unknown key; expected one of %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}
