package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
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

// synthesized holds each variant's template, as JSON and for assertions.
var synthesized = map[string]struct {
	json []byte
	tmpl assertions.Template
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
	app := awscdk.NewApp(&awscdk.AppProps{
		Context: &lookedUpVpc, Outdir: jsii.String(filepath.Join(dir, "cdk.out")),
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
		synthesized[id] = struct {
			json []byte
			tmpl assertions.Template
		}{data, assertions.Template_FromString(jsii.String(string(data)), nil)}
	}
	return nil
}

func tmpl(id string) assertions.Template { return synthesized[id].tmpl }

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

// resources returns a variant's resources of one type, by logical id.
func resources(t *testing.T, id, resourceType string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for logicalID, r := range templateResources(t, synthesized[id].json) {
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

func TestXRayGroup(t *testing.T) {
	check(t, "the group filters on the service's name, Insights off", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::XRay::Group"), jsii.Number(3)) // and the faults and slow groups
		tmpl("Default").HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"GroupName": "Cruddur", "FilterExpression": `service("Cruddur")`, "InsightsConfiguration": assertions.Match_Absent(),
		})
	})
	check(t, "Insights and notifications from context", func() {
		tmpl("Orders").HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"GroupName": "orders", "FilterExpression": `service("orders")`,
			"InsightsConfiguration": map[string]any{"InsightsEnabled": true, "NotificationsEnabled": true},
		})
	})
}

func TestSamplingRuleHasTheSeedsValues(t *testing.T) {
	check(t, "the seed's rule, beside the health-check rule", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::XRay::SamplingRule"), jsii.Number(2))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::XRay::SamplingRule"), map[string]any{
			"SamplingRule": assertions.Match_ObjectEquals(&map[string]any{
				"RuleName": "Cruddur", "ResourceARN": "*", "Priority": 9000, "FixedRate": 0.1, "ReservoirSize": 5,
				"ServiceName": "Cruddur", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
			}),
			"Tags": assertions.Match_Absent(),
		})
	})
}

// TestHealthChecksAreNeverSampled: the rule set has a rule for the path the
// load balancer and the container check, tried before the seed's, that
// records nothing.
func TestHealthChecksAreNeverSampled(t *testing.T) {
	var health, seed map[string]any
	for _, r := range resources(t, "Default", "AWS::XRay::SamplingRule") {
		rule := r["SamplingRule"].(map[string]any)
		switch rule["RuleName"] {
		case "Cruddur-health-check":
			health = rule
		case "Cruddur":
			seed = rule
		}
	}
	if health == nil || seed == nil {
		t.Fatal("no health-check rule beside the seed's")
	}
	if health["URLPath"] != healthCheckPath || health["FixedRate"] != 0.0 || health["ReservoirSize"] != 0.0 ||
		health["ServiceName"] != "Cruddur" || health["HTTPMethod"] != "*" || health["Priority"].(float64) >= seed["Priority"].(float64) {
		t.Fatalf("health-check rule %v, seed's %v", health, seed)
	}
}

// TestRuleFieldsLeftOutTakeDefaults: a rule file with only a name and a
// priority matches everything of the service at X-Ray's default rate.
func TestRuleFieldsLeftOutTakeDefaults(t *testing.T) {
	check(t, "orders.json's rule", func() {
		tmpl("Orders").HasResourceProperties(jsii.String("AWS::XRay::SamplingRule"), map[string]any{
			"SamplingRule": assertions.Match_ObjectEquals(&map[string]any{
				"RuleName": "orders", "ResourceARN": "*", "Priority": 10, "FixedRate": 0.05, "ReservoirSize": 1,
				"ServiceName": "orders", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
			}),
			"Tags": []any{map[string]any{"Key": "team", "Value": "web"}},
		})
	})
}

// TestOneServiceName: the group's filter, the rule's ServiceName and the
// name the app's segments carry are one name (the seed's group filtered on
// backend-flask while its app named segments Cruddur, and matched nothing).
func TestOneServiceName(t *testing.T) {
	for _, id := range []string{"Default", "Orders"} {
		var filter, ruleService string
		for logicalID, g := range resources(t, id, "AWS::XRay::Group") {
			if strings.HasPrefix(logicalID, "Group") { // the main group, not the faults or slow ones
				filter = g["FilterExpression"].(string)
			}
		}
		for _, r := range resources(t, id, "AWS::XRay::SamplingRule") {
			ruleService = r["SamplingRule"].(map[string]any)["ServiceName"].(string)
		}
		segments := containers(t, id)["app"].env("AWS_XRAY_TRACING_NAME")
		if ruleService == "" || filter != `service("`+ruleService+`")` || segments != ruleService {
			t.Errorf("%s: group filter %q, rule ServiceName %q, segment name %q", id, filter, ruleService, segments)
		}
	}
}

func TestStackIsEnvironmentAgnosticByDefault(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(synthesized["Default"].json, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["Parameters"].(map[string]any)["BootstrapVersion"]; !ok {
		t.Fatal("missing the BootstrapVersion parameter of the default synthesizer")
	}
	// Mappings list every region on purpose (looked up with AWS::Region at
	// deploy time); nothing else may name one.
	delete(doc, "Mappings")
	rest, _ := json.Marshal(doc)
	if m := regexp.MustCompile(`"[a-z]{2}-[a-z]+-[0-9]"`).Find(rest); m != nil {
		t.Fatalf("the default template names the region %s outside its mappings; it should use AWS::Region", m)
	}
}

// TestIDsAreKept: a new logical id replaces a deployed resource, so the
// X-Ray group and rule, the log groups and the task role keep theirs.
func TestIDsAreKept(t *testing.T) {
	want := map[string]string{
		"GroupC77FDACD": "AWS::XRay::Group", "SamplingRuleD4BE07E6": "AWS::XRay::SamplingRule",
		"TaskAppLogsBB4C71B5": "AWS::Logs::LogGroup", "TaskDaemonLogs6640621F": "AWS::Logs::LogGroup",
		"VpcFlowLogsE6FFDEF9": "AWS::Logs::LogGroup", "TaskTaskRoleE98524A1": "AWS::IAM::Role",
	}
	for id, typ := range want {
		if _, ok := resources(t, "Default", typ)[id]; !ok {
			t.Errorf("no %s %s", typ, id)
		}
	}
}

func TestTaskDefinition(t *testing.T) {
	check(t, "a Fargate task, 256 CPU units and 512 MiB, linux/amd64", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"Cpu": "256", "Memory": "512", "NetworkMode": "awsvpc", "RequiresCompatibilities": []any{"FARGATE"},
			"RuntimePlatform": map[string]any{"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
		})
	})
}

// TestTheAppHasWhatTheSidecarLeaves: in every variant and stage, whatever
// the collector and the task's size, the app container's hard memory limit
// is the task's memory less the sidecar's, as the sidecar sized itself.
func TestTheAppHasWhatTheSidecarLeaves(t *testing.T) {
	for id := range synthesized {
		var sizes []string
		for _, task := range resources(t, id, "AWS::ECS::TaskDefinition") {
			memory, _ := strconv.Atoi(fmt.Sprint(task["Memory"]))
			sum := 0
			for _, c := range containers(t, id) {
				sum += c.Memory
				sizes = append(sizes, fmt.Sprintf("%s %d MiB", c.Name, c.Memory))
			}
			if c := containers(t, id); len(c) != 2 || c["app"].Memory == 0 || sum != memory {
				t.Errorf("%s: a task of %d MiB, containers %v; want the app and its sidecar, summing to the task's", id, memory, sizes)
			}
		}
	}
}

// TestTheBackendsGCFitsItsContainer: in every variant the Go runtime
// collects less often than by default (GOGC over 100) and has a soft memory
// limit under the app container's hard one, with headroom for what is not
// Go heap (stacks, the binary, buffers the kernel counts), so that the
// runtime collects before the OOM killer would stop the container.
func TestTheBackendsGCFitsItsContainer(t *testing.T) {
	for id := range synthesized {
		app := containers(t, id)["app"]
		gogc, err := strconv.Atoi(app.env("GOGC"))
		if err != nil || gogc <= 100 {
			t.Errorf("%s: the app's GOGC=%q; want a whole number over Go's default of 100", id, app.env("GOGC"))
		}
		limit, err := strconv.Atoi(strings.TrimSuffix(app.env("GOMEMLIMIT"), "MiB"))
		if err != nil || !strings.HasSuffix(app.env("GOMEMLIMIT"), "MiB") || limit <= app.Memory/2 || limit > app.Memory*95/100 {
			t.Errorf("%s: the app's GOMEMLIMIT=%q in a container of %d MiB; want MiB, over half of it and at most 95%%", id, app.env("GOMEMLIMIT"), app.Memory)
		}
	}
}

func TestDaemonContainer(t *testing.T) {
	check(t, "daemon: pinned image, loopback binds, local mode, region, bounded buffer, non-essential with restarts, hardened", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Name": "xray-daemon", "Image": "public.ecr.aws/xray/aws-xray-daemon:3.6.6", "EntryPoint": []any{"/xray"},
				"Command": []any{"-b", "127.0.0.1:2000", "-t", "127.0.0.1:2000", "-o", "-n", map[string]any{"Ref": "AWS::Region"}, "-m", "64", "-l", "info"},
				"Cpu":     32, "MemoryReservation": 256, "Memory": 256,
				"PortMappings": []any{
					map[string]any{"ContainerPort": 2000, "Protocol": "udp", "Name": "xray-udp"},
					map[string]any{"ContainerPort": 2000, "Protocol": "tcp", "Name": "xray-tcp"},
				},
				"Essential": false, "RestartPolicy": map[string]any{"Enabled": true, "RestartAttemptPeriod": 60},
				"User": "10001", "ReadonlyRootFilesystem": true, "HealthCheck": assertions.Match_Absent(),
				"LogConfiguration": map[string]any{"LogDriver": "awslogs", "Options": assertions.Match_ObjectLike(&map[string]any{
					"awslogs-group": map[string]any{"Ref": "TaskDaemonLogs6640621F"}, "awslogs-stream-prefix": "xray-daemon",
				})},
			})}),
		})
	})
}

func TestAppContainer(t *testing.T) {
	check(t, "app: the backend's image asset, port, tracing environment, health check, after the daemon, hardened", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Name":         "app",
				"Image":        map[string]any{"Fn::Sub": assertions.Match_StringLikeRegexp(jsii.String(`cdk-hnb659fds-container-assets-.*:[0-9a-f]{64}$`))},
				"PortMappings": []any{map[string]any{"ContainerPort": 4567, "Protocol": "tcp", "Name": "http"}},
				"Environment": []any{
					map[string]any{"Name": "CRUDDUR_TRUSTED_PROXIES", "Value": "1"},
					map[string]any{"Name": "PORT", "Value": "4567"},
					map[string]any{"Name": "AWS_XRAY_DAEMON_ADDRESS", "Value": "127.0.0.1:2000"},
					map[string]any{"Name": "AWS_XRAY_TRACING_NAME", "Value": "Cruddur"},
					map[string]any{"Name": "GOGC", "Value": "400"},
					map[string]any{"Name": "GOMEMLIMIT", "Value": "230MiB"},
				},
				"Essential": true, "Memory": 256,
				"DependsOn":   []any{map[string]any{"ContainerName": "xray-daemon", "Condition": "START"}},
				"HealthCheck": assertions.Match_ObjectLike(&map[string]any{"Command": []any{"CMD", "/cruddur-backend", "-healthcheck"}}),
				"User":        "65532:65532", "ReadonlyRootFilesystem": true,
				"LogConfiguration": map[string]any{"LogDriver": "awslogs", "Options": assertions.Match_ObjectLike(&map[string]any{
					"awslogs-group": map[string]any{"Ref": "TaskAppLogsBB4C71B5"}, "awslogs-stream-prefix": "app",
				})},
			})}),
		})
	})
}

// TestAppUserIsTheImageUser: the task runs the backend as the user its
// image declares, never root.
func TestAppUserIsTheImageUser(t *testing.T) {
	dockerfile, err := os.ReadFile("../" + backendDir + "/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)\s*$`).FindAllSubmatch(dockerfile, -1)
	if len(users) == 0 {
		t.Fatal("backend/Dockerfile sets no USER")
	}
	imageUser := string(users[len(users)-1][1])
	if got := containers(t, "Default")["app"].User; got != imageUser || strings.HasPrefix(got, "0") || got == "root" {
		t.Fatalf("the app container runs as %q; the image's user is %q", got, imageUser)
	}
}

func TestLogGroupsHaveRetention(t *testing.T) {
	groups := resources(t, "Default", "AWS::Logs::LogGroup")
	if len(groups) != 3 {
		t.Fatalf("%d log groups, want 3 (app, sidecar, VPC flow log)", len(groups))
	}
	for id, g := range groups {
		if g["RetentionInDays"] != 30.0 {
			t.Errorf("%s keeps logs %v days, want 30", id, g["RetentionInDays"])
		}
	}
}

// TestTaskRoleMaySendTracesOnly: the task role's one grant is the five
// X-Ray actions the collector calls.
func TestTaskRoleMaySendTracesOnly(t *testing.T) {
	var grants []string
	for id, p := range resources(t, "Default", "AWS::IAM::Policy") {
		for _, role := range p["Roles"].([]any) {
			if role.(map[string]any)["Ref"] == "TaskTaskRoleE98524A1" {
				out, _ := json.Marshal(p["PolicyDocument"])
				grants = append(grants, id+" "+string(out))
			}
		}
	}
	want := `TracingPolicyC4C8F728 {"Statement":[{"Action":["xray:PutTraceSegments","xray:PutTelemetryRecords","xray:GetSamplingRules","xray:GetSamplingTargets","xray:GetSamplingStatisticSummaries"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}`
	if len(grants) != 1 || grants[0] != want {
		t.Fatalf("task role grants:\n%s\nwant exactly:\n%s", strings.Join(grants, "\n"), want)
	}
	if p := resources(t, "Default", "AWS::IAM::Role")["TaskTaskRoleE98524A1"]; p["Policies"] != nil || p["ManagedPolicyArns"] != nil {
		t.Fatalf("the task role has policies of its own: %v", p)
	}
}

// TestNoCredentialsInContainerEnvironments: no container of any variant gets
// AWS keys or secrets; the task role carries permissions.
func TestNoCredentialsInContainerEnvironments(t *testing.T) {
	for id := range variants {
		for name, c := range containers(t, id) {
			if len(c.Secrets) > 0 {
				t.Errorf("%s/%s has secrets", id, name)
			}
			for _, e := range c.Environment {
				if strings.HasPrefix(e.Name, "AWS_ACCESS_KEY") || strings.HasPrefix(e.Name, "AWS_SECRET") || e.Name == "AWS_SESSION_TOKEN" {
					t.Errorf("%s/%s sets %s", id, name, e.Name)
				}
			}
		}
	}
}

func TestClusterAndService(t *testing.T) {
	check(t, "Container Insights on the cluster", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
			"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
		})
	})
	check(t, "tasks in private subnets, no public IP, rolling deploys with rollback, a grace period for the load balancer", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LaunchType": "FARGATE", "PlatformVersion": "LATEST", "HealthCheckGracePeriodSeconds": 60,
			"DeploymentConfiguration": map[string]any{
				"MinimumHealthyPercent": 100, "MaximumPercent": 200,
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			},
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"AssignPublicIp": "DISABLED",
				"Subnets":        []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^VpcPrivateSubnet1"))}, map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^VpcPrivateSubnet2"))}},
			})},
			"EnableExecuteCommand": false,
		})
	})
}

func TestNetwork(t *testing.T) {
	check(t, "two AZs, one NAT gateway, a flow log of rejected traffic", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(4))
		tmpl("Default").ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), map[string]any{"TrafficType": "REJECT"})
	})
}

func TestLoadBalancer(t *testing.T) {
	// The edge frames requests: ambiguous framing (Content-Length and
	// Transfer-Encoding both) is refused there, in strictest mode, which
	// the backend therefore does not repeat.
	check(t, "internet-facing ALB with access logs, invalid headers dropped, ambiguous framing refused (strictest), deletion protection off by default", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"Scheme": "internet-facing", "Type": "application",
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Key": "deletion_protection.enabled", "Value": "false"},
				map[string]any{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
				map[string]any{"Key": "routing.http.desync_mitigation_mode", "Value": "strictest"},
				map[string]any{"Key": "access_logs.s3.enabled", "Value": "true"},
				map[string]any{"Key": "access_logs.s3.prefix", "Value": "alb"},
			}),
		})
	})
	check(t, "health check on /api/health-check; old tasks drain in 30 s", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
			"Protocol": "HTTP", "TargetType": "ip", "HealthCheckPath": healthCheckPath, "Matcher": map[string]any{"HttpCode": "200"},
			"HealthCheckIntervalSeconds": 15, "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3,
			"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}}),
		})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LoadBalancers": []any{map[string]any{"ContainerName": "app", "ContainerPort": 4567, "TargetGroupArn": assertions.Match_AnyValue()}},
		})
	})
	check(t, "HTTP listener on 80 without a certificate", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 80, "Protocol": "HTTP"})
	})
	check(t, "access log bucket: encrypted, private, TLS only, kept", func() {
		tmpl("Default").HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
					map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
				}},
				"PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
			}),
			"DeletionPolicy": "RetainExceptOnCreate",
		})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}),
				assertions.Match_ObjectLike(&map[string]any{"Action": "s3:PutObject", "Principal": map[string]any{"AWS": assertions.Match_AnyValue()}}),
			})},
		})
	})
}

// securityGroupRules lists every rule of every security group of a variant,
// inline or standalone, with groups named by logical id without its hash.
func securityGroupRules(t *testing.T, id string) string {
	t.Helper()
	name := func(v any) string {
		if m, ok := v.(map[string]any); ok {
			if a, ok := m["Fn::GetAtt"].([]any); ok {
				v = a[0]
			} else if r, ok := m["Ref"]; ok {
				v = r
			}
			return strings.TrimRight(fmt.Sprint(v), "0123456789ABCDEF")
		}
		return fmt.Sprint(v) // a CIDR
	}
	var rules []string
	add := func(group, dir string, p map[string]any) {
		peer := "?"
		for _, k := range []string{"CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId"} {
			if v, ok := p[k]; ok {
				peer = name(v)
			}
		}
		rules = append(rules, fmt.Sprintf("%s %s %v %v-%v %s", group, dir, p["IpProtocol"], p["FromPort"], p["ToPort"], peer))
	}
	for logicalID, p := range resources(t, id, "AWS::EC2::SecurityGroup") {
		for dir, key := range map[string]string{"in": "SecurityGroupIngress", "out": "SecurityGroupEgress"} {
			list, _ := p[key].([]any)
			for _, e := range list {
				add(strings.TrimRight(logicalID, "0123456789ABCDEF"), dir, e.(map[string]any))
			}
		}
	}
	for dir, typ := range map[string]string{"in": "AWS::EC2::SecurityGroupIngress", "out": "AWS::EC2::SecurityGroupEgress"} {
		for _, p := range resources(t, id, typ) {
			add(name(p["GroupId"]), dir, p)
		}
	}
	sort.Strings(rules)
	return strings.Join(rules, "\n")
}

// TestSecurityGroupRules wants exactly these rules and no others: the
// internet reaches the load balancer on its listener ports only, the load
// balancer the tasks on the app port only, and the tasks reach out on 443.
func TestSecurityGroupRules(t *testing.T) {
	cases := map[string][]string{
		"Default": {
			"LoadBalancerSecurityGroup in tcp 80-80 0.0.0.0/0",
			"LoadBalancerSecurityGroup out tcp 4567-4567 TasksSecurityGroup",
			"TasksSecurityGroup in tcp 4567-4567 LoadBalancerSecurityGroup",
			"TasksSecurityGroup out tcp 443-443 0.0.0.0/0",
		},
		"ServiceOptions": {
			"LoadBalancerSecurityGroup in tcp 443-443 0.0.0.0/0",
			"LoadBalancerSecurityGroup in tcp 80-80 0.0.0.0/0",
			"LoadBalancerSecurityGroup out tcp 4567-4567 TasksSecurityGroup",
			"TasksSecurityGroup in tcp 4567-4567 LoadBalancerSecurityGroup",
			"TasksSecurityGroup out tcp 443-443 0.0.0.0/0",
		},
		"NoLoadBalancer": {"TasksSecurityGroup out tcp 443-443 0.0.0.0/0"},
	}
	for id, want := range cases {
		if got := securityGroupRules(t, id); got != strings.Join(want, "\n") {
			t.Errorf("%s: security group rules:\n%s\nwant exactly:\n%s", id, got, strings.Join(want, "\n"))
		}
	}
}

// TestBothServicePathsRunTheTasksAlike: with a load balancer (ecs-patterns)
// or without (a plain FargateService), the service runs its tasks the same
// way: deployments, circuit breaker, ECS Exec, platform, launch type and
// network; only the load balancer's own properties differ.
func TestBothServicePathsRunTheTasksAlike(t *testing.T) {
	service := func(id string) map[string]any {
		found := resources(t, id, "AWS::ECS::Service")
		if len(found) != 1 {
			t.Fatalf("%s: %d services", id, len(found))
		}
		for _, props := range found {
			return props
		}
		return nil
	}
	behind, alone := service("Default"), service("NoLoadBalancer")
	for _, key := range []string{"LoadBalancers", "HealthCheckGracePeriodSeconds"} {
		if behind[key] == nil || alone[key] != nil {
			t.Errorf("%s: %v behind the load balancer, %v without; want it only behind one", key, behind[key], alone[key])
		}
		delete(behind, key)
	}
	delete(behind, "DesiredCount") // the scaler's, in both (TestTheScalerOwnsTheTaskCount)
	delete(alone, "DesiredCount")
	x, _ := json.Marshal(behind)
	y, _ := json.Marshal(alone)
	if !bytes.Equal(x, y) {
		t.Errorf("the service differs between the paths:\nbehind a load balancer %s\nwithout %s", x, y)
	}
}

func TestOutputs(t *testing.T) {
	check(t, "service URL, log groups named for what they hold, X-Ray group and console link", func() {
		tmpl("Default").HasOutput(jsii.String("ServiceServiceURL250C0FB6"), map[string]any{
			"Value": map[string]any{"Fn::Join": []any{"", []any{"http://", map[string]any{"Fn::GetAtt": []any{"LoadBalancerBE9EEC3A", "DNSName"}}}}},
		})
		tmpl("Default").HasOutput(jsii.String("AppLogGroupName"), map[string]any{"Value": map[string]any{"Ref": "TaskAppLogsBB4C71B5"}})
		tmpl("Default").HasOutput(jsii.String("CollectorLogGroupName"), map[string]any{"Value": map[string]any{"Ref": "TaskDaemonLogs6640621F"}, "Description": "The X-Ray daemon's logs"})
		tmpl("ADOT").HasOutput(jsii.String("CollectorLogGroupName"), map[string]any{"Value": map[string]any{"Ref": "TaskDaemonLogs6640621F"}, "Description": "The ADOT collector's logs"})
		tmpl("Default").HasOutput(jsii.String("XRayGroupName"), map[string]any{"Value": "Cruddur"})
		tmpl("Default").HasOutput(jsii.String("XRayTracesUrl"), assertions.Match_AnyValue())
	})
}

func TestWithoutLoadBalancer(t *testing.T) {
	check(t, "no load balancer, listener or grace period; the service still deploys safely", func() {
		tmpl("NoLoadBalancer").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), jsii.Number(0))
		tmpl("NoLoadBalancer").ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(0))
		tmpl("NoLoadBalancer").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"HealthCheckGracePeriodSeconds": assertions.Match_Absent(), "LoadBalancers": assertions.Match_Absent(),
			"DeploymentConfiguration": map[string]any{"MinimumHealthyPercent": 100, "MaximumPercent": 200,
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true}},
		})
	})
}

func TestWithCertificate(t *testing.T) {
	check(t, "HTTPS on 443 with the certificate and a recommended TLS policy; 80 redirects to it", func() {
		tmpl("ServiceOptions").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), jsii.Number(2))
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port": 443, "Protocol": "HTTPS", "Certificates": []any{map[string]any{"CertificateArn": certificateArn}},
			"SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
		})
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port": 80, "Protocol": "HTTP", "DefaultActions": []any{map[string]any{"Type": "redirect",
				"RedirectConfig": map[string]any{"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}}},
		})
	})
}

func TestDeletionProtectionExecAndCountFromContext(t *testing.T) {
	check(t, "deletion protection and ECS Exec (three tasks: TestTheScalerOwnsTheTaskCount)", func() {
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deletion_protection.enabled", "Value": "true"}}),
		})
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{"EnableExecuteCommand": true})
	})
}

func TestExistingVpc(t *testing.T) {
	check(t, "no VPC of its own; tasks in the looked-up private subnets", func() {
		tmpl("ExistingVpc").ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(0))
		tmpl("ExistingVpc").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"Subnets": []any{"subnet-00000000000000003", "subnet-00000000000000004"},
			})},
		})
	})
}

// TestTheBackendTrustsTheLoadBalancerOnly: with the load balancer in front,
// the backend takes the client's address from the entry it appended to
// X-Forwarded-For (CRUDDUR_TRUSTED_PROXIES=1); without one, from the peer.
func TestTheBackendTrustsTheLoadBalancerOnly(t *testing.T) {
	for id, want := range map[string]string{"Default": "1", "ADOT": "1", "Production": "1", "NoLoadBalancer": ""} {
		if got := containers(t, id)["app"].env("CRUDDUR_TRUSTED_PROXIES"); got != want {
			t.Errorf("%s: CRUDDUR_TRUSTED_PROXIES=%q; want %q", id, got, want)
		}
	}
}

func TestADOTCollector(t *testing.T) {
	c := containers(t, "ADOT")
	collector, ok := c["otel-collector"]
	if !ok || len(c) != 2 {
		t.Fatalf("containers %v; want app and otel-collector", c)
	}
	if collector.User != "10001" || collector.Essential {
		t.Errorf("collector user %q essential %v", collector.User, collector.Essential)
	}
	app := c["app"]
	want := map[string]string{
		"CRUDDUR_TRACING": "otel", "OTEL_SERVICE_NAME": "Cruddur", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_XRAY_TRACING_NAME": "Cruddur", "PORT": "4567",
	}
	for k, v := range want {
		if got := app.env(k); got != v {
			t.Errorf("app %s=%q, want %q", k, got, v)
		}
	}
	if len(app.DependsOn) != 1 || app.DependsOn[0].ContainerName != "otel-collector" {
		t.Errorf("app depends on %v", app.DependsOn)
	}
	// The configuration holds the region as a token, resolved at deploy.
	config := collector.env("AOT_CONFIG_CONTENT")
	for _, part := range []string{`"awsxray":{"endpoint":"127.0.0.1:2000","transport":"udp","proxy_server":{"endpoint":"127.0.0.1:2000","region":`, `"limit_mib":204`, `"receivers":["awsxray","otlp"]`} {
		if !strings.Contains(config, part) {
			t.Errorf("the collector's configuration lacks %s: %s", part, config)
		}
	}
}

// TestNoRateIsCopiedIntoTheTask: in OpenTelemetry mode the backend reads
// the X-Ray rules at run time, as in X-Ray mode; the rule file stays the only
// place a rate is written, whatever the rule's FixedRate.
func TestNoRateIsCopiedIntoTheTask(t *testing.T) {
	for _, id := range []string{"ADOT", "ADOTFixedRate", "CloudWatchAgent"} {
		app := containers(t, id)["app"]
		for _, name := range []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"} {
			if got := app.env(name); got != "" {
				t.Errorf("%s: the app's %s=%q", id, name, got)
			}
		}
		if app.env("AWS_XRAY_DAEMON_ADDRESS") != "127.0.0.1:2000" || app.env("CRUDDUR_TRACING") != "otel" {
			t.Errorf("%s: the app is not told where the collector's sampling proxy is: %+v", id, app.Environment)
		}
	}
}

func TestPublicSubnetsAssignNoPublicIPs(t *testing.T) {
	for _, id := range []string{"Default", "Production"} {
		subnets := resources(t, id, "AWS::EC2::Subnet")
		if len(subnets) != 4 {
			t.Fatalf("%s: %d subnets", id, len(subnets))
		}
		for name, p := range subnets {
			if p["MapPublicIpOnLaunch"] != false {
				t.Errorf("%s: %s assigns public IPs (%v)", id, name, p["MapPublicIpOnLaunch"])
			}
		}
	}
}

// TestTheScalerOwnsTheTaskCount: target tracking on CPU and on requests per
// task between cruddur:desiredCount and cruddur:maxCount, and no DesiredCount
// in the template for a deploy to reset.
func TestTheScalerOwnsTheTaskCount(t *testing.T) {
	cases := []struct {
		id       string
		min, max float64
		metrics  []string
	}{
		{"Default", 2, 10, []string{"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}},
		{"NoLoadBalancer", 2, 10, []string{"ECSServiceAverageCPUUtilization"}},
		{"ServiceOptions", 3, 10, []string{"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}},
		{"Paused", 0, 0, []string{"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}},
	}
	for _, tc := range cases {
		for _, svc := range resources(t, tc.id, "AWS::ECS::Service") {
			if _, set := svc["DesiredCount"]; set {
				t.Errorf("%s: the service sets DesiredCount %v, which a deploy would reset", tc.id, svc["DesiredCount"])
			}
		}
		targets := resources(t, tc.id, "AWS::ApplicationAutoScaling::ScalableTarget")
		if len(targets) != 1 {
			t.Fatalf("%s: %d scalable targets", tc.id, len(targets))
		}
		for _, target := range targets {
			if target["MinCapacity"] != tc.min || target["MaxCapacity"] != tc.max {
				t.Errorf("%s: scales %v..%v, want %v..%v", tc.id, target["MinCapacity"], target["MaxCapacity"], tc.min, tc.max)
			}
		}
		var metrics []string
		for _, policy := range resources(t, tc.id, "AWS::ApplicationAutoScaling::ScalingPolicy") {
			config := policy["TargetTrackingScalingPolicyConfiguration"].(map[string]any)
			spec := config["PredefinedMetricSpecification"].(map[string]any)
			metrics = append(metrics, fmt.Sprint(spec["PredefinedMetricType"]))
			want := map[string]float64{"ECSServiceAverageCPUUtilization": scaleCPUPercent, "ALBRequestCountPerTarget": scaleRequestsPerTask}[fmt.Sprint(spec["PredefinedMetricType"])]
			if config["TargetValue"] != want || config["ScaleInCooldown"] != float64(scaleInSeconds) || config["ScaleOutCooldown"] != float64(scaleOutSeconds) {
				t.Errorf("%s: %v", tc.id, config)
			}
		}
		sort.Strings(metrics)
		if strings.Join(metrics, ",") != strings.Join(tc.metrics, ",") {
			t.Errorf("%s: tracks %v, want %v", tc.id, metrics, tc.metrics)
		}
	}
}

func TestProductionStage(t *testing.T) {
	prod := tmpl("Production")
	check(t, "AWS WAF on the load balancer: a rate limit per address, AWS's managed rule groups, logged", func() {
		prod.HasResourceProperties(jsii.String("AWS::WAFv2::WebACL"), map[string]any{
			"Scope": "REGIONAL", "DefaultAction": map[string]any{"Allow": map[string]any{}},
			"Rules": []any{
				assertions.Match_ObjectLike(&map[string]any{"Name": "RatePerAddress", "Action": map[string]any{"Block": map[string]any{}},
					"Statement": map[string]any{"RateBasedStatement": map[string]any{"Limit": requestsPerIPPer5Min, "AggregateKeyType": "IP"}}}),
				assertions.Match_ObjectLike(&map[string]any{"Name": "AWSManagedRulesAmazonIpReputationList"}),
				assertions.Match_ObjectLike(&map[string]any{"Name": "AWSManagedRulesCommonRuleSet"}),
				assertions.Match_ObjectLike(&map[string]any{"Name": "AWSManagedRulesKnownBadInputsRuleSet"}),
			},
		})
		prod.HasResourceProperties(jsii.String("AWS::WAFv2::WebACLAssociation"), map[string]any{
			"ResourceArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^LoadBalancer"))},
		})
		// Named after the required prefix, the stack and the stack's own
		// id, so a group a destroyed stack kept cannot collide with the next.
		prod.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"LogGroupName": map[string]any{"Fn::Join": []any{"", []any{
			"aws-waf-logs-Production-", map[string]any{"Fn::Select": []any{2, map[string]any{"Fn::Split": []any{"/", map[string]any{"Ref": "AWS::StackId"}}}}},
		}}}})
		prod.ResourceCountIs(jsii.String("AWS::WAFv2::LoggingConfiguration"), jsii.Number(1))
	})
	check(t, "a key of its own for the logs, rotated, usable by CloudWatch Logs for this account's log groups", func() {
		prod.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
			"EnableKeyRotation": true,
			"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Action": "kms:CreateGrant"}),
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Allow", "Condition": map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": assertions.Match_AnyValue()}}}),
			})},
		})
	})
	check(t, "two NAT gateways; deletion protection; HTTPS with a redirect from HTTP", func() {
		prod.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(2))
		prod.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deletion_protection.enabled", "Value": "true"}}),
		})
		prod.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 443, "Protocol": "HTTPS"})
		prod.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 80, "DefaultActions": []any{assertions.Match_ObjectLike(&map[string]any{"Type": "redirect"})}})
	})
	groups := resources(t, "Production", "AWS::Logs::LogGroup")
	if len(groups) != 4 {
		t.Errorf("%d log groups, want 4 (app, sidecar, flow log, WAF)", len(groups))
	}
	for id, g := range groups {
		if g["RetentionInDays"] != 365.0 || g["KmsKeyId"] == nil {
			t.Errorf("%s keeps logs %v days, key %v; want 365 and the stack's key", id, g["RetentionInDays"], g["KmsKeyId"])
		}
	}
	for _, id := range []string{"Default", "ADOT"} {
		if len(resources(t, id, "AWS::WAFv2::WebACL")) != 0 {
			t.Errorf("%s: development has a web ACL", id)
		}
		for _, key := range resources(t, id, "AWS::KMS::Key") {
			if policy, _ := json.Marshal(key["KeyPolicy"]); strings.Contains(string(policy), "aws:logs:arn") {
				t.Errorf("%s: development's key is for log groups too", id)
			}
		}
	}
}

// TestFaultAndSlowGroups: X-Ray groups of the service's faults and slow
// requests, their filters built from the one service name.
func TestFaultAndSlowGroups(t *testing.T) {
	want := map[string]map[string]string{
		"Default":    {"Cruddur": `service("Cruddur")`, "Cruddur-faults": `service("Cruddur") { fault = true }`, "Cruddur-slow": `service("Cruddur") AND responsetime > 1`},
		"Orders":     {"orders": `service("orders")`, "orders-faults": `service("orders") { fault = true }`, "orders-slow": `service("orders") AND responsetime > 1`},
		"Operations": {"Cruddur": `service("Cruddur")`, "Cruddur-faults": `service("Cruddur") { fault = true }`, "Cruddur-slow": `service("Cruddur") AND responsetime > 0.5`},
	}
	for id, groups := range want {
		got := map[string]string{}
		for _, g := range resources(t, id, "AWS::XRay::Group") {
			got[g["GroupName"].(string)] = g["FilterExpression"].(string)
		}
		if fmt.Sprint(got) != fmt.Sprint(groups) {
			t.Errorf("%s: groups %v, want %v", id, got, groups)
		}
	}
}

// alarms returns a variant's alarms by description, with their metric.
func alarms(t *testing.T, id string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, a := range resources(t, id, "AWS::CloudWatch::Alarm") {
		out[a["AlarmDescription"].(string)] = a
	}
	return out
}

// TestAlarms: on the groups' ApproximateTraceCount and on the load
// balancer's 5xx and p99 response time, thresholds from context, every one
// notifying the one topic when it fires and when it clears.
func TestAlarms(t *testing.T) {
	for id, want := range map[string][]string{
		"Default": {
			"Cruddur: 10 or more 5xx responses in 5 minutes, from the tasks or the load balancer",
			"Cruddur: 10 or more sampled traces slower than 1s in 5 minutes (X-Ray group Cruddur-slow)",
			"Cruddur: 20 or more requests in each 5 minutes for 15 minutes and no trace in X-Ray group Cruddur: tracing has stopped: is the tracing sidecar running, and may it call X-Ray?",
			"Cruddur: 5 or more sampled traces with a fault in 5 minutes (X-Ray group Cruddur-faults)",
			"Cruddur: p99 response time of 1s or more for 15 minutes",
		},
		"Operations": {
			"Cruddur: 10 or more 5xx responses in 5 minutes, from the tasks or the load balancer",
			"Cruddur: 10 or more sampled traces slower than 0.5s in 5 minutes (X-Ray group Cruddur-slow)",
			"Cruddur: 200 or more requests in each 5 minutes for 15 minutes and no trace in X-Ray group Cruddur: tracing has stopped: is the tracing sidecar running, and may it call X-Ray?",
			"Cruddur: 3 or more sampled traces with a fault in 5 minutes (X-Ray group Cruddur-faults)",
			"Cruddur: p99 response time of 2s or more for 15 minutes",
		},
		"NoLoadBalancer": {
			"Cruddur: 10 or more sampled traces slower than 1s in 5 minutes (X-Ray group Cruddur-slow)",
			"Cruddur: 5 or more sampled traces with a fault in 5 minutes (X-Ray group Cruddur-faults)",
		},
	} {
		got := alarms(t, id)
		var names []string
		for name, a := range got {
			names = append(names, name)
			topic := []any{map[string]any{"Ref": "Alarms04B5A0BF"}}
			if fmt.Sprint(a["AlarmActions"]) != fmt.Sprint(topic) || fmt.Sprint(a["OKActions"]) != fmt.Sprint(topic) {
				t.Errorf("%s: %q notifies %v / %v", id, name, a["AlarmActions"], a["OKActions"])
			}
		}
		sort.Strings(names)
		if strings.Join(names, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: alarms\n%s\nwant\n%s", id, strings.Join(names, "\n"), strings.Join(want, "\n"))
		}
	}
	check(t, "the fault alarm counts the faults group's traces", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Metrics": []any{assertions.Match_ObjectLike(&map[string]any{"MetricStat": map[string]any{
				"Metric": map[string]any{"Namespace": "AWS/X-Ray", "MetricName": "ApproximateTraceCount", "Dimensions": []any{map[string]any{"Name": "GroupName", "Value": "Cruddur-faults"}}},
				"Period": 300, "Stat": "Sum",
			}})},
			"Threshold": 5, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
		})
	})
	check(t, "the latency alarm reads the target response time's p99", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Metrics": []any{assertions.Match_ObjectLike(&map[string]any{"MetricStat": assertions.Match_ObjectLike(&map[string]any{
				"Metric": assertions.Match_ObjectLike(&map[string]any{"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime"}), "Stat": "p99",
			})})},
			"EvaluationPeriods": 3, "Threshold": 1,
		})
	})
	check(t, "the no-traces alarm: 20 requests or more and no trace in the service's group, 3 periods running", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Metrics": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Expression": "IF(FILL(requests, 0) >= 20 AND FILL(traces, 0) == 0, 1, 0)"}),
				assertions.Match_ObjectLike(&map[string]any{"Id": "requests", "MetricStat": assertions.Match_ObjectLike(&map[string]any{
					"Metric": assertions.Match_ObjectLike(&map[string]any{"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount"}), "Stat": "Sum", "Period": 300})}),
				assertions.Match_ObjectLike(&map[string]any{"Id": "traces", "MetricStat": assertions.Match_ObjectLike(&map[string]any{
					"Metric": map[string]any{"Namespace": "AWS/X-Ray", "MetricName": "ApproximateTraceCount", "Dimensions": []any{map[string]any{"Name": "GroupName", "Value": "Cruddur"}}}, "Stat": "Sum", "Period": 300})}),
			}),
			"Threshold": 1, "EvaluationPeriods": noTracesPeriods, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
		})
	})
	check(t, "the 5xx alarm adds the tasks' and the load balancer's", func() {
		for _, m := range []any{
			assertions.Match_ObjectLike(&map[string]any{"Expression": "FILL(target, 0) + FILL(lb, 0)"}),
			assertions.Match_ObjectLike(&map[string]any{"Id": "target", "MetricStat": assertions.Match_ObjectLike(&map[string]any{"Metric": assertions.Match_ObjectLike(&map[string]any{"MetricName": "HTTPCode_Target_5XX_Count"})})}),
			assertions.Match_ObjectLike(&map[string]any{"Id": "lb", "MetricStat": assertions.Match_ObjectLike(&map[string]any{"Metric": assertions.Match_ObjectLike(&map[string]any{"MetricName": "HTTPCode_ELB_5XX_Count"})})}),
		} {
			tmpl("Default").HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{"Metrics": assertions.Match_ArrayWith(&[]any{m})})
		}
	})
}

func TestAlarmTopic(t *testing.T) {
	check(t, "one topic, encrypted with the stack's key, TLS only; e-mail only when asked", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::SNS::Topic"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": map[string]any{"Fn::GetAtt": []any{"Key961B73FD", "Arn"}}})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}})})},
		})
		tmpl("Default").ResourceCountIs(jsii.String("AWS::SNS::Subscription"), jsii.Number(0))
		tmpl("Operations").HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "oncall@example.com"})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": []any{"cloudwatch.amazonaws.com", "events.amazonaws.com"}}}),
		})}})
	})
}

// TestInsightsNotify: Insights on the main group, its events routed through
// EventBridge to the topic; off by default, notifications following Insights.
func TestInsightsNotify(t *testing.T) {
	check(t, "off by default", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::Events::Rule"), jsii.Number(0))
	})
	check(t, "with Insights: the group notifies, and an EventBridge rule sends its events to the topic", func() {
		tmpl("Operations").HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"GroupName": "Cruddur", "InsightsConfiguration": map[string]any{"InsightsEnabled": true, "NotificationsEnabled": true},
		})
		tmpl("Operations").HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"EventPattern": map[string]any{"source": []any{"aws.xray"}, "detail-type": []any{"AWS X-Ray Insight Update"}, "detail": map[string]any{"GroupName": []any{"Cruddur"}}},
			"Targets":      []any{assertions.Match_ObjectLike(&map[string]any{"Arn": map[string]any{"Ref": "Alarms04B5A0BF"}})},
		})
	})
}

func TestDashboard(t *testing.T) {
	for id, want := range map[string][]string{
		"Default":        {`"ApproximateTraceCount","GroupName","Cruddur-faults"`, `"RequestCount"`, `FILL(target, 0) + FILL(lb, 0)`, `"TargetResponseTime"`, `"CPUUtilization"`, `"MemoryUtilization"`},
		"NoLoadBalancer": {`"ApproximateTraceCount","GroupName","Cruddur-slow"`, `"CPUUtilization"`},
	} {
		boards := resources(t, id, "AWS::CloudWatch::Dashboard")
		if len(boards) != 1 {
			t.Fatalf("%s: %d dashboards", id, len(boards))
		}
		for _, b := range boards {
			body, _ := json.Marshal(b["DashboardBody"])
			for _, w := range want {
				if !strings.Contains(strings.ReplaceAll(string(body), `\"`, `"`), w) {
					t.Errorf("%s: the dashboard lacks %s", id, w)
				}
			}
		}
	}
	check(t, "its address and the X-Ray console's among the outputs", func() {
		tmpl("Default").HasOutput(jsii.String("DashboardUrl"), assertions.Match_AnyValue())
		tmpl("Default").HasOutput(jsii.String("XRayTracesUrl"), assertions.Match_AnyValue())
	})
}

// TestTransactionSearchIsOptIn: account-wide, so off unless asked; then
// the config with its indexing percentage, after the logs policy it needs.
func TestTransactionSearchIsOptIn(t *testing.T) {
	check(t, "off by default", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::XRay::TransactionSearchConfig"), jsii.Number(0))
		tmpl("Default").ResourceCountIs(jsii.String("AWS::Logs::ResourcePolicy"), jsii.Number(0))
	})
	check(t, "on: 5% indexed, X-Ray may write the spans log groups", func() {
		tmpl("Operations").HasResource(jsii.String("AWS::XRay::TransactionSearchConfig"), map[string]any{
			"Properties": map[string]any{"IndexingPercentage": 5},
			"DependsOn":  []any{assertions.Match_StringLikeRegexp(jsii.String("^TransactionSearchLogsPolicy"))},
		})
	})
	// The policy is JSON with the account and region in it, so a join:
	// read back as the document CloudWatch Logs will parse.
	policies := resources(t, "Operations", "AWS::Logs::ResourcePolicy")
	if len(policies) != 1 {
		t.Fatalf("%d logs resource policies, want 1", len(policies))
	}
	for id, p := range policies {
		doc := policyDocument(t, id, p["PolicyDocument"])
		want := `{"Statement":[{"Action":"logs:PutLogEvents","Condition":{"ArnLike":{"aws:SourceArn":"arn:${AWS::Partition}:xray:${AWS::Region}:${AWS::AccountId}:*"},"StringEquals":{"aws:SourceAccount":"${AWS::AccountId}"}},"Effect":"Allow","Principal":{"Service":"xray.amazonaws.com"},"Resource":["arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:aws/spans:*","arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/application-signals/data:*"],"Sid":"TransactionSearchXRayAccess"}],"Version":"2012-10-17"}`
		if got, _ := json.Marshal(doc); string(got) != want {
			t.Errorf("the logs resource policy:\n got %s\nwant %s", got, want)
		}
	}
}

// TestCloudWatchAgent: the third collector, pinned, not root, read-only with
// writable volumes, and the app in OpenTelemetry mode at the rule's rate.
func TestCloudWatchAgent(t *testing.T) {
	c := containers(t, "CloudWatchAgent")
	agent, ok := c["cloudwatch-agent"]
	if !ok || len(c) != 2 || agent.User != "0" || agent.Essential {
		t.Fatalf("containers %v", c)
	}
	for k, v := range map[string]string{"CRUDDUR_TRACING": "otel", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"} {
		if got := c["app"].env(k); got != v {
			t.Errorf("app %s=%q, want %q", k, got, v)
		}
	}
	check(t, "pinned image, read-only root, the agent's writable paths on task volumes", func() {
		tmpl("CloudWatchAgent").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Name": "cloudwatch-agent", "Image": "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300072.0b1766",
				"ReadonlyRootFilesystem": true, "Memory": 256,
				// uid 0 to write Fargate's root-owned empty volumes, and no
				// capability beyond that.
				"User": "0", "LinuxParameters": map[string]any{"Capabilities": map[string]any{"Drop": []any{"ALL"}}},
				"MountPoints": assertions.Match_ArrayWith(&[]any{map[string]any{"ContainerPath": "/opt/aws/amazon-cloudwatch-agent/etc", "ReadOnly": false, "SourceVolume": "cloudwatch-agent-0"}}),
			})}),
			"Volumes": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": "cloudwatch-agent-0"}}),
		})
	})
	check(t, "the task role may send traces, and nothing else", func() {
		tmpl("CloudWatchAgent").HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"PolicyName": assertions.Match_StringLikeRegexp(jsii.String("^TracingPolicy")),
			"PolicyDocument": map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
				"Action": []any{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"},
			})}},
		})
	})
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

// physicalNames lists, for a template, each account-wide name it gives a
// resource, as "type property=value", with the stack's own name resolved.
func physicalNames(t *testing.T, stackName string, template []byte) []string {
	t.Helper()
	var out []string
	for id, r := range templateResources(t, template) {
		if slices.Contains(accountSingletons, r.Type) {
			out = append(out, r.Type+" (one per account and region)")
		}
		for key := range r.Properties {
			if (strings.HasSuffix(key, "Name") || key == "Family") && !slices.Contains(accountNames[r.Type], key) && !slices.Contains(scopedNames[r.Type], key) {
				t.Errorf("%s: %s %s.%s names it: add the property to accountNames or scopedNames", stackName, r.Type, id, key)
			}
		}
		for _, path := range accountNames[r.Type] {
			var v any = r.Properties
			for _, field := range strings.Split(path, ".") {
				m, _ := v.(map[string]any)
				v = m[field]
			}
			if v == nil {
				continue // CloudFormation generates one from the stack's name
			}
			raw, _ := json.Marshal(v)
			value := strings.ReplaceAll(string(raw), `{"Ref":"AWS::StackName"}`, strconvQuote(stackName))
			out = append(out, r.Type+" "+path+"="+value)
		}
	}
	return out
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestStagesSideBySideRepeatNoName: every stage of the app, synthesized into
// one account and region, gives no resource a name another stage gives, so
// both deploy there side by side; production keeps the seed's X-Ray names.
func TestStagesSideBySideRepeatNoName(t *testing.T) {
	seen := map[string]string{} // name -> the stack that gave it
	for _, stage := range stages.All {
		for _, name := range physicalNames(t, stage.StackName, synthesized[stage.StackName].json) {
			if other, dup := seen[name]; dup {
				t.Errorf("stages %s and %s both name %s", other, stage.StackName, name)
			}
			seen[name] = stage.StackName
		}
	}
	for _, want := range []string{`AWS::XRay::Group GroupName="Cruddur"`, `AWS::XRay::SamplingRule SamplingRule.RuleName="Cruddur"`} {
		if seen[want] != stages.Production.StackName {
			t.Errorf("%s is given by %q; want the production stage's %s (the seed's names)", want, seen[want], stages.Production.StackName)
		}
	}
}

// TestAStageNotFilledInStopsAtCloudFormation: a stage the team has not
// filled in carries a CloudFormation rule that fails, with the deploy
// check's line, before any resource changes; a filled-in stage has none.
func TestAStageNotFilledInStopsAtCloudFormation(t *testing.T) {
	var doc struct{ Rules map[string]any }
	if err := json.Unmarshal(synthesized["Production"].json, &doc); err != nil {
		t.Fatal(err)
	}
	rule, _ := json.Marshal(doc.Rules["StageIsFilledIn"])
	want := `"AssertDescription":"stage production (stack Test) is not ready to deploy: fill in Account (the 12-digit AWS account id), Region (such as us-east-1), AlarmEmail (who the alarms notify) in stack/stages/stages.go"`
	if !strings.Contains(string(rule), want) || !strings.Contains(string(rule), `"Fn::Equals":["filled in","not filled in"]`) {
		t.Errorf("production without account, region and e-mail: rule %s; want an assertion that fails with %s", rule, want)
	}
	var filled struct{ Rules map[string]any }
	if err := json.Unmarshal(synthesized["ExistingVpc"].json, &filled); err != nil {
		t.Fatal(err)
	}
	if _, ok := filled.Rules["StageIsFilledIn"]; ok {
		t.Error("a development stage with its account and region still carries the rule")
	}
}

// policyDocument reads a policy as the service will: an object, or JSON in
// a string or an Fn::Join (its intrinsics written as ${...}, which keeps
// the JSON valid where they sit inside its strings).
func policyDocument(t *testing.T, where string, v any) map[string]any {
	t.Helper()
	if m, ok := v.(map[string]any); ok {
		if join, ok := m["Fn::Join"].([]any); ok && len(join) == 2 {
			var text strings.Builder
			parts, _ := join[1].([]any)
			for _, part := range parts {
				switch p := part.(type) {
				case string:
					text.WriteString(p)
				case map[string]any:
					if ref, ok := p["Ref"].(string); ok {
						text.WriteString("${" + ref + "}")
					} else {
						raw, _ := json.Marshal(p)
						text.WriteString("${" + strings.ReplaceAll(string(raw), `"`, "'") + "}")
					}
				}
			}
			v = text.String()
		} else {
			return m
		}
	}
	text, ok := v.(string)
	if !ok {
		t.Fatalf("%s: a policy document of type %T", where, v)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("%s: the policy document is not JSON: %v\n%s", where, err, text)
	}
	return doc
}

// policyProperties are, by resource type, the properties that hold a
// policy document.
var policyProperties = map[string]string{
	"AWS::IAM::Policy": "PolicyDocument", "AWS::IAM::Role": "AssumeRolePolicyDocument", "AWS::IAM::ManagedPolicy": "PolicyDocument",
	"AWS::KMS::Key": "KeyPolicy", "AWS::SNS::TopicPolicy": "PolicyDocument", "AWS::S3::BucketPolicy": "PolicyDocument",
	"AWS::Logs::ResourcePolicy": "PolicyDocument",
}

// TestEveryPolicyDocumentIsWellFormed: every policy document of every
// variant and every golden template parses, holds no jsii marker (a Go map
// that jsii passed through as {"$jsii.map": ...}), and gives each condition
// key a string, a list of strings, or an intrinsic.
func TestEveryPolicyDocumentIsWellFormed(t *testing.T) {
	templates := map[string][]byte{}
	for id, v := range synthesized {
		templates[id] = v.json
	}
	goldens, _ := filepath.Glob("../testdata/*.template.json")
	if len(goldens) < 4 {
		t.Fatalf("goldens %v", goldens)
	}
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		templates[g] = data
	}
	isIntrinsic := func(v any) bool {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return false
		}
		for k := range m {
			return k == "Ref" || strings.HasPrefix(k, "Fn::")
		}
		return false
	}
	for name, data := range templates {
		for id, r := range templateResources(t, data) {
			prop, ok := policyProperties[r.Type]
			if !ok || r.Properties[prop] == nil {
				continue
			}
			where := name + ": " + id
			policy := policyDocument(t, where, r.Properties[prop])
			if raw, _ := json.Marshal(policy); strings.Contains(string(raw), "$jsii") {
				t.Errorf("%s: a jsii marker in the policy: %s", where, raw)
			}
			statements, _ := policy["Statement"].([]any)
			for _, st := range statements {
				conditions, _ := st.(map[string]any)["Condition"].(map[string]any)
				for op, keys := range conditions {
					for key, value := range keys.(map[string]any) {
						switch v := value.(type) {
						case string:
						case []any:
							for _, e := range v {
								if _, ok := e.(string); !ok && !isIntrinsic(e) {
									t.Errorf("%s: %s %s holds %v", where, op, key, e)
								}
							}
						default:
							if !isIntrinsic(v) {
								t.Errorf("%s: condition %s %s is %v, not a string", where, op, key, v)
							}
						}
					}
				}
			}
		}
	}
}

// TestEveryPublisherMayPublishAndNoOneElse reads the alarm topic's policy and
// its key's policy together: every alarm's publisher (CloudWatch, for this
// account's alarms) and every EventBridge rule's (for that rule) may publish
// and use the key; no other service may do either.
func TestEveryPublisherMayPublishAndNoOneElse(t *testing.T) {
	for _, id := range []string{"Default", "Operations", "Production", "NoLoadBalancer"} {
		var allowed []string // "service action condition"
		for pid, p := range resources(t, id, "AWS::SNS::TopicPolicy") {
			for _, st := range policyDocument(t, pid, p["PolicyDocument"])["Statement"].([]any) {
				s := st.(map[string]any)
				if s["Effect"] != "Allow" {
					continue
				}
				cond, _ := json.Marshal(s["Condition"])
				principal, _ := json.Marshal(s["Principal"])
				allowed = append(allowed, string(principal)+" "+fmt.Sprint(s["Action"])+" "+string(cond))
			}
		}
		want := []string{`{"Service":"cloudwatch.amazonaws.com"} sns:Publish {"ArnLike":{"aws:SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":cloudwatch:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":alarm:*"]]}},"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}}`}
		for rid := range resources(t, id, "AWS::Events::Rule") {
			want = append(want, `{"Service":"events.amazonaws.com"} sns:Publish {"ArnEquals":{"aws:SourceArn":{"Fn::GetAtt":["`+rid+`","Arn"]}}}`)
		}
		sort.Strings(allowed)
		sort.Strings(want)
		if strings.Join(allowed, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: the topic allows\n%s\nwant\n%s", id, strings.Join(allowed, "\n"), strings.Join(want, "\n"))
		}
		if len(alarms(t, id)) == 0 {
			t.Errorf("%s: no alarms to publish", id)
		}
		// The key: the account's administrators, and exactly the two
		// publishers' services.
		for kid, k := range resources(t, id, "AWS::KMS::Key") {
			var services []string
			for _, st := range policyDocument(t, kid, k["KeyPolicy"])["Statement"].([]any) {
				s := st.(map[string]any)
				principal, _ := s["Principal"].(map[string]any)
				if s["Effect"] != "Allow" || principal["Service"] == nil {
					continue
				}
				raw, _ := json.Marshal(principal["Service"])
				actions, _ := json.Marshal(s["Action"])
				services = append(services, string(raw)+" "+string(actions))
			}
			wantKey := []string{`["cloudwatch.amazonaws.com","events.amazonaws.com"] ["kms:Decrypt","kms:GenerateDataKey*"]`}
			if id == "Production" {
				wantKey = append(wantKey, `{"Fn::Join":["",["logs.",{"Ref":"AWS::Region"},".amazonaws.com"]]} ["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"]`)
			}
			if strings.Join(services, "\n") != strings.Join(wantKey, "\n") {
				t.Errorf("%s: the key lets services\n%s\nwant\n%s", id, strings.Join(services, "\n"), strings.Join(wantKey, "\n"))
			}
		}
	}
}

// TestNoKeptNameCollidesWithTheNextCreate: a named resource that outlives
// its stack (kept on delete) has a name the next create of the stack draws
// anew, from AWS::StackId, so a deploy after a destroy does not fail with
// "already exists" on what the last stack kept.
func TestNoKeptNameCollidesWithTheNextCreate(t *testing.T) {
	checked := 0
	for id, v := range synthesized {
		for lid, r := range templateResources(t, v.json) {
			for _, prop := range accountNames[r.Type] {
				name, named := r.Properties[prop]
				if !named || r.DeletionPolicy == "" || r.DeletionPolicy == "Delete" {
					continue
				}
				checked++
				if text, _ := json.Marshal(name); !strings.Contains(string(text), `{"Ref":"AWS::StackId"}`) {
					t.Errorf("%s: %s %s is kept on delete with the fixed %s %s; want a name drawn from AWS::StackId", id, r.Type, lid, prop, text)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no kept resource with a name: the WAF's log group should be one")
	}
}

// TestNoTaskStartsBeforeItsCollectorMayCallXRay: the service depends on the
// sidecar's policy.
func TestNoTaskStartsBeforeItsCollectorMayCallXRay(t *testing.T) {
	for _, id := range []string{"Default", "NoLoadBalancer", "CloudWatchAgent"} {
		check(t, id+": the service after TracingPolicy", func() {
			tmpl(id).HasResource(jsii.String("AWS::ECS::Service"), map[string]any{
				"DependsOn": assertions.Match_ArrayWith(&[]any{assertions.Match_StringLikeRegexp(jsii.String("^TracingPolicy"))}),
			})
		})
	}
}

// TestTheLoadBalancerRecoveryNamesItsResource: docs/production.md's recovery
// from a failed first create (deletion protection refuses the rollback's
// delete) names production's load balancer by its logical id, so a renamed
// construct id cannot leave the recovery stale.
func TestTheLoadBalancerRecoveryNamesItsResource(t *testing.T) {
	doc, err := os.ReadFile("../docs/production.md")
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for lid := range resources(t, stages.Production.StackName, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
		id = lid
	}
	for _, want := range []string{"--logical-resource-id " + id + " ", "Key=deletion_protection.enabled,Value=false", "--no-rollback"} {
		if id == "" || !strings.Contains(string(doc), want) {
			t.Errorf("docs/production.md's recovery lacks %q (the load balancer is %q)", want, id)
		}
	}
	check(t, "production's load balancer is protected", func() {
		tmpl(stages.Production.StackName).HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deletion_protection.enabled", "Value": "true"}}),
		})
	})
}

// TestOnlyThisAccountsServicesMayUseTheRolesAndKey: the task's roles trust
// ECS only for this account's tasks, and the alarm key's publishers may use
// it only through SNS for this account's topics (the confused-deputy
// conditions).
func TestOnlyThisAccountsServicesMayUseTheRolesAndKey(t *testing.T) {
	for _, id := range []string{"Default", "Production"} {
		ecsRoles := 0
		for rid, r := range resources(t, id, "AWS::IAM::Role") {
			doc, _ := json.Marshal(r["AssumeRolePolicyDocument"])
			if !strings.Contains(string(doc), "ecs-tasks.amazonaws.com") {
				continue
			}
			ecsRoles++
			for _, want := range []string{`"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}`, `"ArnLike":{"aws:SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ecs:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":*"]]}}`} {
				if !strings.Contains(string(doc), want) {
					t.Errorf("%s: role %s trusts ECS without %s: %s", id, rid, want, doc)
				}
			}
		}
		if ecsRoles != 2 {
			t.Errorf("%s: %d roles ECS assumes, want the task role and the execution role", id, ecsRoles)
		}
		for kid, k := range resources(t, id, "AWS::KMS::Key") {
			doc, _ := json.Marshal(k["KeyPolicy"])
			if !strings.Contains(string(doc), `"Condition":{"StringLike":{"kms:EncryptionContext:aws:sns:topicArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":sns:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":*"]]}}}`) {
				t.Errorf("%s: key %s lets CloudWatch and EventBridge use it beyond SNS for this account's topics: %s", id, kid, doc)
			}
		}
	}
}

// TestCopyFieldsRefusesWhatItCannotCopy: a set field the destination lacks
// is a panic naming it, not a setting silently lost.
func TestCopyFieldsRefusesWhatItCannotCopy(t *testing.T) {
	type narrow struct{ A *string }
	type wide struct{ A, B *string }
	var got narrow
	copyFields(&got, &wide{A: jsii.String("a")})
	if got.A == nil || *got.A != "a" {
		t.Errorf("A not copied: %+v", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "no field B") {
			t.Errorf("panic %v; want one naming B", r)
		}
	}()
	copyFields(&got, &wide{B: jsii.String("b")})
}

// TestEveryKeptResourceIsKeptExceptOnCreate: in every variant and stage,
// whatever the stack keeps on delete (log groups, the key, the bucket, made
// by whichever construct) is RetainExceptOnCreate, so a first create that
// fails and rolls back leaves nothing behind; and each keeps something (its
// logs at least), so the check is not passed by keeping nothing.
func TestEveryKeptResourceIsKeptExceptOnCreate(t *testing.T) {
	for id, s := range synthesized {
		kept := 0
		for logicalID, r := range templateResources(t, s.json) {
			switch r.DeletionPolicy {
			case "", "Delete":
			case "RetainExceptOnCreate":
				kept++
			default:
				t.Errorf("%s: %s (%s) has DeletionPolicy %s; want RetainExceptOnCreate, so a failed first create does not leave it behind", id, logicalID, r.Type, r.DeletionPolicy)
			}
		}
		if kept == 0 {
			t.Errorf("%s keeps nothing on delete; want its log groups kept", id)
		}
	}
}

// TestWAFLogsKeepNoCredentials: production's WAF logs, kept a year, hold no
// caller's Authorization or Cookie value: both headers are redacted.
func TestWAFLogsKeepNoCredentials(t *testing.T) {
	check(t, "WAF's logging redacts authorization and cookie", func() {
		tmpl("Production").HasResourceProperties(jsii.String("AWS::WAFv2::LoggingConfiguration"), map[string]any{
			"RedactedFields": []any{
				map[string]any{"SingleHeader": map[string]any{"Name": "authorization"}},
				map[string]any{"SingleHeader": map[string]any{"Name": "cookie"}},
			},
		})
	})
}

// TestTheFlowLogRoleServesOnlyThisAccountsFlowLogs: VPC Flow Logs may assume
// the role only on behalf of this account's flow logs.
func TestTheFlowLogRoleServesOnlyThisAccountsFlowLogs(t *testing.T) {
	check(t, "the flow log role's trust has aws:SourceAccount and aws:SourceArn", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sts:AssumeRole", "Effect": "Allow",
				"Principal": map[string]any{"Service": "vpc-flow-logs.amazonaws.com"},
				"Condition": map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
					"ArnLike": map[string]any{"aws:SourceArn": map[string]any{"Fn::Join": []any{"", []any{
						"arn:", map[string]any{"Ref": "AWS::Partition"}, ":ec2:", map[string]any{"Ref": "AWS::Region"}, ":",
						map[string]any{"Ref": "AWS::AccountId"}, ":vpc-flow-log/*",
					}}}},
				},
			}}},
		})
	})
}
