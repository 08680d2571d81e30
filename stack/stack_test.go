package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/stack/stages"
)

// The stack's configurations under test, by stack id: each is a stack of one
// app, synthesized once (a synth costs seconds, an assertion milliseconds).
// aws-cdk-lib's validator and cdk-nag run in the app's own tests.
var variants = map[string]map[string]any{
	"Default":         nil,
	"Daemon":          {KeyCollector: collectorXRayDaemon}, // whatever the default collector is
	"ADOT":            {KeyCollector: "adot"},
	"ADOTFixedRate":   {KeyCollector: "adot", KeySamplingRuleFile: "fixed-rate.json"},
	"CloudWatchAgent": {KeyCollector: collectorCloudWatchAgent, KeySamplingRuleFile: "fixed-rate.json"},
	"Orders":          {KeyServiceName: "orders", keyInsightsEnabled: "true", keyInsightsNotifications: true, KeySamplingRuleFile: "orders.json"},
	"NoLoadBalancer":  {keyLoadBalancer: "false"},
	"ServiceOptions":  {keyCertificateArn: certificateArn, keyDeletionProtection: true, keyEcsExec: "true", keyDesiredCount: 3.0, KeyTaskMemoryMiB: "1024"},
	"ExistingVpc":     {keyVpcID: "vpc-0123456789abcdef0", keyAccount: "111122223333", keyRegion: "eu-west-1"},
	"Production":      {stageKey: "production", keyCertificateArn: certificateArn},
	"Paused":          {keyDesiredCount: 0.0},
	"Operations": {keyInsightsEnabled: true, keyAlarmEmail: "oncall@example.com", keyTransactionSearch: "true", keyTransactionSearchPct: "5",
		keySlowRequestSeconds: "0.5", keyFaultTracesThreshold: 3.0, keyLatencyP99Seconds: 2.0, keyNoTracesRequests: "200"},
}

// ruleFiles are the rule files variants name, written to a temporary folder.
var ruleFiles = map[string]string{
	// The seed's rule but for FixedRate.
	"fixed-rate.json": `{"SamplingRule": {"RuleName": "Cruddur", "ResourceARN": "*", "Priority": 9000, "FixedRate": 0.25, "ReservoirSize": 5, "ServiceName": "Cruddur", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1}}`,
	// Only what has no default, and tags.
	"orders.json": `{"SamplingRule": {"RuleName": "orders", "Priority": 10}, "Tags": [{"Key": "team", "Value": "web"}]}`,
}

const certificateArn = "arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"

// lookedUpVpc is what a VPC lookup in 111122223333, eu-west-1 found, in the
// shape the CLI caches in cdk.context.json.
var lookedUpVpc = map[string]any{
	"vpc-provider:account=111122223333:filter.vpc-id=vpc-0123456789abcdef0:region=eu-west-1:returnAsymmetricSubnets=true": map[string]any{
		"vpcId": "vpc-0123456789abcdef0", "vpcCidrBlock": "10.20.0.0/16", "ownerAccountId": "111122223333", "availabilityZones": []any{},
		"subnetGroups": []any{subnetGroup("Public", "Public", 0), subnetGroup("Private", "Private", 2)},
	},
}

func subnetGroup(name, kind string, first int) map[string]any {
	var subnets []any
	for i, az := range []string{"eu-west-1a", "eu-west-1b"} {
		n := first + i
		subnets = append(subnets, map[string]any{
			"subnetId": fmt.Sprintf("subnet-0%016x", n+1), "cidr": fmt.Sprintf("10.20.%d.0/24", n),
			"availabilityZone": az, "routeTableId": fmt.Sprintf("rtb-0%016x", n+1),
		})
	}
	return map[string]any{"name": name, "type": kind, "subnets": subnets}
}

// synthesized holds each variant's template, as JSON and for assertions: its
// platform and its first service (firstService); whole is all of it.
var synthesized = map[string]struct {
	json, whole []byte
	tmpl        assertions.Template
}{}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		defer jsii.Close()
		if err := synthesizeVariants(); err != nil {
			fmt.Fprintln(os.Stderr, "synthesizing the variants:", err)
			return 1
		}
		return m.Run()
	}())
}

func synthesizeVariants() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	dir, err := os.MkdirTemp("", "stack-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for name, content := range ruleFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	// The app's working directory is the repository's root, as under the CLI.
	if err := os.Chdir(".."); err != nil {
		return err
	}
	defer os.Chdir("stack")
	// As the CLI sets it: every resource names its construct path, which
	// firstService reads.
	appContext := maps.Clone(lookedUpVpc)
	appContext["aws:cdk:enable-path-metadata"] = true
	app := awscdk.NewApp(&awscdk.AppProps{
		Context: &appContext, Outdir: jsii.String(filepath.Join(dir, "cdk.out")),
		BuiltinCloudFormationValidation: jsii.Bool(false),
	})
	for id, overrides := range variants {
		ctx := map[string]any{}
		for k, v := range overrides {
			if s, ok := v.(string); ok && ruleFiles[s] != "" {
				v = filepath.Join(dir, s)
			}
			ctx[k] = v
		}
		cfg, err := load(ctx, noEnv)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		New(app, id, PropsFor(cfg))
	}
	// The app's own stages, as its stacks: pinned where stages.go pins
	// them, else in one account and region.
	ids := slices.Collect(maps.Keys(variants))
	for _, stage := range stages.All {
		ctx := map[string]any{}
		if stage.Account == "" && stage.Region == "" {
			ctx = map[string]any{keyAccount: "111122223333", keyRegion: "eu-west-1"}
		}
		cfg, err := LoadConfig(stage, ctx, noEnv)
		if err != nil {
			return fmt.Errorf("stage %s: %w", stage.Name, err)
		}
		New(app, stage.StackName, PropsFor(cfg))
		ids = append(ids, stage.StackName)
	}
	app.Synth(nil)
	for _, id := range ids {
		data, err := os.ReadFile(filepath.Join(dir, "cdk.out", id+".template.json"))
		if err != nil {
			return err
		}
		first, err := firstService(data)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		synthesized[id] = struct {
			json, whole []byte
			tmpl        assertions.Template
		}{first, data, assertions.Template_FromString(jsii.String(string(first)), nil)}
	}
	return nil
}

func tmpl(id string) assertions.Template { return synthesized[id].tmpl }

// firstService is a template without the resources of its stack's further
// services: what the tests read of each stack is its platform and the
// service at its root, so that another service (another addService, in a
// construct of its own) leaves them true. That service is the same code
// again; the app's goldens, its validator and cdk-nag read it whole. A
// service's scope is where its X-Ray group is (<scope>/Group/Resource in
// aws:cdk:path, which every resource carries).
func firstService(template []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(template, &doc); err != nil {
		return nil, err
	}
	path := func(r any) string {
		meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
		p, _ := meta["aws:cdk:path"].(string)
		return p
	}
	resources, _ := doc["Resources"].(map[string]any)
	var others []string
	for id, r := range resources {
		if path(r) == "" {
			return nil, fmt.Errorf("resource %s has no aws:cdk:path", id)
		}
		if scope, ok := strings.CutSuffix(path(r), "/Group/Resource"); ok && strings.Contains(scope, "/") {
			others = append(others, scope+"/")
		}
	}
	if len(others) == 0 {
		return template, nil
	}
	for id, r := range resources {
		if p := path(r); slices.ContainsFunc(others, func(o string) bool { return strings.HasPrefix(p, o) }) {
			delete(resources, id)
		}
	}
	return json.Marshal(doc)
}

// check runs assertions, which panic inside jsii on failure, and reports the
// failure as a test error naming what was checked.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// cfnResource is the part of a template's resource these tests read.
type cfnResource struct {
	Type           string
	Properties     map[string]any
	DeletionPolicy string
}

// templateResources reads a template's resources, by logical id.
func templateResources(t *testing.T, template []byte) map[string]cfnResource {
	t.Helper()
	var doc struct{ Resources map[string]cfnResource }
	if err := json.Unmarshal(template, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Resources
}

// resources returns a variant's resources of one type, by logical id, of
// its platform and first service.
func resources(t *testing.T, id, resourceType string) map[string]map[string]any {
	t.Helper()
	return resourcesOf(t, synthesized[id].json, resourceType)
}

// allResources is resources of every service of the variant's stack.
func allResources(t *testing.T, id, resourceType string) map[string]map[string]any {
	t.Helper()
	return resourcesOf(t, synthesized[id].whole, resourceType)
}

func resourcesOf(t *testing.T, template []byte, resourceType string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for logicalID, r := range templateResources(t, template) {
		if r.Type == resourceType {
			out[logicalID] = r.Properties
		}
	}
	return out
}

// container is the part of an ECS container definition these tests read.
type container struct {
	Name, User  string
	Essential   bool
	Environment []struct {
		Name  string
		Value any // a string, or an intrinsic such as Fn::Join
	}
	DependsOn []struct{ Condition, ContainerName string }
	Secrets   []any
	Memory    int
}

// containers returns a variant's containers, by name.
func containers(t *testing.T, id string) map[string]container {
	t.Helper()
	out := map[string]container{}
	for _, task := range resources(t, id, "AWS::ECS::TaskDefinition") {
		raw, _ := json.Marshal(task["ContainerDefinitions"])
		var list []container
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			out[c.Name] = c
		}
	}
	return out
}

func (c container) env(name string) string {
	for _, e := range c.Environment {
		if e.Name == name {
			return fmt.Sprint(e.Value)
		}
	}
	return ""
}

// accountNames are, by resource type, the properties that name a resource
// uniquely within an account and region (or worldwide): two stages that
// repeat one cannot both be deployed there. "SamplingRule.RuleName" is a
// property's field.
var accountNames = map[string][]string{
	"AWS::XRay::Group":                          {"GroupName"},
	"AWS::XRay::SamplingRule":                   {"SamplingRule.RuleName"},
	"AWS::Logs::LogGroup":                       {"LogGroupName"},
	"AWS::Logs::ResourcePolicy":                 {"PolicyName"},
	"AWS::CloudWatch::Alarm":                    {"AlarmName"},
	"AWS::CloudWatch::Dashboard":                {"DashboardName"},
	"AWS::SNS::Topic":                           {"TopicName"},
	"AWS::WAFv2::WebACL":                        {"Name"},
	"AWS::ECS::Cluster":                         {"ClusterName"},
	"AWS::ECS::TaskDefinition":                  {"Family"},
	"AWS::IAM::Role":                            {"RoleName"},
	"AWS::S3::Bucket":                           {"BucketName"},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {"Name"},
	"AWS::ElasticLoadBalancingV2::TargetGroup":  {"Name"},
	"AWS::Events::Rule":                         {"Name"},
	"AWS::Lambda::Function":                     {"FunctionName"},
	"AWS::KMS::Alias":                           {"AliasName"},
}

// scopedNames name a resource only within its parent (a role's inline
// policy, a scalable target's policy, a topic's display name), or refer to
// another resource (a flow log's log group), so stages may repeat them.
var scopedNames = map[string][]string{
	"AWS::ApplicationAutoScaling::ScalingPolicy": {"PolicyName"},
	"AWS::EC2::FlowLog":                          {"LogGroupName"},
	"AWS::IAM::Policy":                           {"PolicyName"},
	"AWS::SNS::Topic":                            {"DisplayName"},
	"AWS::ECS::Service":                          {"ServiceName"},
}

// accountSingletons exist once per account and region, whatever their name.
var accountSingletons = []string{"AWS::XRay::TransactionSearchConfig"}

// policyProperties are, by resource type, the properties that hold a
// policy document.
var policyProperties = map[string]string{
	"AWS::IAM::Policy": "PolicyDocument", "AWS::IAM::Role": "AssumeRolePolicyDocument", "AWS::IAM::ManagedPolicy": "PolicyDocument",
	"AWS::KMS::Key": "KeyPolicy", "AWS::SNS::TopicPolicy": "PolicyDocument", "AWS::S3::BucketPolicy": "PolicyDocument",
	"AWS::Logs::ResourcePolicy": "PolicyDocument",
}
