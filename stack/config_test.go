package stack

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cruddur/tracing/stack/stages"
)

// The tests run in stack/, the app's files one folder up.
const (
	seedFile        = "../aws/json/xray.json"
	healthCheckFile = "../aws/json/health-check.json"
)

// context is the context of a test: the shipped rule files and the
// overrides.
func context(overrides map[string]any) map[string]any {
	ctx := map[string]any{KeySamplingRuleFile: seedFile, keySamplingRuleFiles: []any{healthCheckFile}}
	for k, v := range overrides {
		ctx[k] = v
	}
	return ctx
}

func noEnv(string) string { return "" }

// The stages of these tests: development's and production's rules without
// a name suffix, so that names are the service's own.
var (
	development = stages.Stage{Name: "development", StackName: "Test", Posture: stages.Relaxed}
	production  = stages.Stage{Name: "production", StackName: "Test", Posture: stages.Guarded}
)

// stageKey in a test's context picks the production stage; LoadConfig
// itself ignores it (it is not a cruddur: key).
const stageKey = "test:stage"

// load is LoadConfig of the stage the context names (development unless
// stageKey says production).
func load(ctx map[string]any, getenv func(string) string) (*Config, error) {
	stage := development
	if ctx[stageKey] == "production" {
		stage = production
	}
	return LoadConfig(stage, ctx, getenv)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rule.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const testCertificate = "arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"

// TestProductionDefaults: production's stricter defaults, each overridable
// only upwards.
func TestProductionDefaults(t *testing.T) {
	c, err := load(context(map[string]any{stageKey: "production", keyCertificateArn: testCertificate}), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.LogRetentionDays != 365 || c.NatGateways != 2 || !c.DeletionProtection || !c.LoadBalancer {
		t.Fatalf("production config %+v", c)
	}
	if _, err := load(context(map[string]any{stageKey: "production", keyCertificateArn: testCertificate, keyLogRetentionDays: 731.0}), noEnv); err != nil {
		t.Fatalf("two years in production: %v", err)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := load(context(nil), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Stage: development,
		Platform: Platform{
			LogRetentionDays: 30, NatGateways: 1, TransactionSearchIndexingPercent: 1, NotDeployable: c.NotDeployable,
			Repository: cmp.Or(stages.Repository, stages.PlaceholderRepository), AccessNotDeployable: c.AccessNotDeployable, SamplingRuleQuota: 25,
		},
		Service: Service{
			ServiceName: "Cruddur", ServiceFilter: `service("Cruddur")`, GroupName: "Cruddur", SamplingRuleFile: seedFile, SamplingRule: c.SamplingRule,
			SamplingRuleFiles: []string{healthCheckFile}, SamplingRules: c.SamplingRules,
			AppPort: 4567, TaskCPU: 256, TaskMemoryMiB: 512, Collector: collectorXRayDaemon,
			DesiredCount: 2, MaxCount: 10, LoadBalancer: true,
			SlowRequestSeconds: 1, FaultTracesThreshold: 5, SlowTracesThreshold: 10, ServerErrorsThreshold: 10, LatencyP99Seconds: 1, NoTracesRequestsThreshold: 20,
		},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", *c, want)
	}
	if *c.SamplingRule.ServiceName != "Cruddur" || *c.SamplingRule.Priority != 9000 {
		t.Fatalf("rule %+v", c.SamplingRule)
	}
}

func TestLoadConfigEnvironment(t *testing.T) {
	cases := []struct {
		name            string
		ctx             map[string]any
		vars            map[string]string
		account, region string
	}{
		{"CLI without credentials sets only a region: agnostic", nil, map[string]string{"CDK_DEFAULT_REGION": "us-east-1"}, "", ""},
		{"CLI with credentials", nil, map[string]string{"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"}, "111122223333", "eu-west-1"},
		{"context wins over the CLI", map[string]any{keyAccount: "444455556666", keyRegion: "ap-southeast-2"},
			map[string]string{"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"}, "444455556666", "ap-southeast-2"},
		{"context region only", map[string]any{keyRegion: "us-gov-west-1"}, nil, "", "us-gov-west-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(context(tc.ctx), func(k string) string { return tc.vars[k] })
			if err != nil {
				t.Fatal(err)
			}
			if c.Account != tc.account || c.Region != tc.region {
				t.Fatalf("got %q/%q, want %q/%q", c.Account, c.Region, tc.account, tc.region)
			}
		})
	}
}

// TestAStagesNamesTakeItsSuffix: the service name, the group and every rule
// of a stage end with its suffix, so two stages in one account and region
// share no X-Ray name; the production stage keeps the seed's names.
func TestAStagesNamesTakeItsSuffix(t *testing.T) {
	for _, tc := range []struct {
		stage                       stages.Stage
		service, group, rule, check string
	}{
		{stages.Development, "Cruddur-dev", "Cruddur-dev", "Cruddur-dev", "Cruddur-health-check-dev"},
		{stages.Production, "Cruddur", "Cruddur", "Cruddur", "Cruddur-health-check"},
	} {
		c, err := LoadConfig(tc.stage, context(nil), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if c.ServiceName != tc.service || c.GroupName != tc.group || *c.SamplingRule.RuleName != tc.rule || *c.SamplingRule.ServiceName != tc.service ||
			*c.SamplingRules[0].RuleName != tc.check || *c.SamplingRules[0].ServiceName != tc.service {
			t.Errorf("%s: service %q, group %q, rules %q (%q) and %q (%q); want %q, %q, %q and %q", tc.stage.Name, c.ServiceName, c.GroupName,
				*c.SamplingRule.RuleName, *c.SamplingRule.ServiceName, *c.SamplingRules[0].RuleName, *c.SamplingRules[0].ServiceName, tc.service, tc.group, tc.rule, tc.check)
		}
	}
	c, err := LoadConfig(stages.Development, context(map[string]any{keyGroupName: "traces"}), noEnv)
	if err != nil || c.GroupName != "traces-dev" {
		t.Errorf("cruddur:groupName in development: %v, %v; want traces-dev", c, err)
	}
	long := writeFile(t, `{"SamplingRule": {"RuleName": "abcdefghijklmnopqrstuvwxyz0123", "Priority": 10}}`)
	_, err = LoadConfig(stages.Development, context(map[string]any{KeySamplingRuleFile: long}), noEnv)
	want := "context cruddur:samplingRuleFile: " + long + `: SamplingRule.RuleName: "abcdefghijklmnopqrstuvwxyz0123-dev" has 34 characters with stage development's suffix "-dev"; expected at most 32, so a name of at most 28`
	if err == nil || err.Error() != want {
		t.Errorf("a rule name with no room for the suffix:\n got %v\nwant %s", err, want)
	}
}

// TestTheTeamsValuesAreTheStagesDefaults: what the stage says (package
// stages) is the configuration unless context overrides it, and the
// stage's readiness to deploy is judged on them, not on the CLI's
// credentials.
func TestTheTeamsValuesAreTheStagesDefaults(t *testing.T) {
	filled := stages.Stage{Name: "production", StackName: "P", Posture: stages.Guarded, Account: "111122223333", Region: "us-east-1",
		CertificateArn: testCertificate, AlarmEmail: "oncall@example.com"}
	c, err := LoadConfig(filled, context(nil), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Account != filled.Account || c.Region != filled.Region || c.CertificateArn != filled.CertificateArn || c.AlarmEmail != filled.AlarmEmail || c.NotDeployable != nil {
		t.Errorf("config %+v from %+v", c, filled)
	}
	c, err = LoadConfig(filled, context(map[string]any{keyAlarmEmail: "team@example.com"}), noEnv)
	if err != nil || c.AlarmEmail != "team@example.com" {
		t.Errorf("context over the stage's e-mail: %v, %v", c, err)
	}
	cli := func(k string) string {
		return map[string]string{"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"}[k]
	}
	unfilled := stages.Stage{Name: "development", StackName: "D", NameSuffix: "-dev", Posture: stages.Relaxed}
	c, err = LoadConfig(unfilled, context(nil), cli)
	if err != nil || c.Account != "111122223333" || c.NotDeployable == nil {
		t.Errorf("a stage without an account, under the CLI's credentials: %v, %v; want their account, and still not deployable", c, err)
	}
	// A bad value in the stage is blamed on the stage in stages.go, not on a
	// context key nobody set; set by context, on the key.
	bad := filled
	bad.Account = " 111122223333"
	want := `stack/stages/stages.go: stage production: Account: " 111122223333" is not an AWS account id; expected 12 digits`
	if _, err := LoadConfig(bad, context(nil), noEnv); err == nil || err.Error() != want {
		t.Errorf("a bad account in the stage: %v; want %q", err, want)
	}
	want = `context cruddur:account: " 111122223333" is not an AWS account id; expected 12 digits`
	if _, err := LoadConfig(filled, context(map[string]any{keyAccount: " 111122223333"}), noEnv); err == nil || err.Error() != want {
		t.Errorf("a bad account in the context: %v; want %q", err, want)
	}
}

// TestServiceNameDrivesRuleAndGroup: one name, and a rule's ServiceName
// pattern matches it as the X-Ray SDK matches, ignoring case.
func TestServiceNameDrivesRuleAndGroup(t *testing.T) {
	cases := []struct{ file, wantRuleService string }{
		{`{"SamplingRule": {"RuleName": "orders", "Priority": 100}}`, "orders"},
		{`{"SamplingRule": {"RuleName": "orders", "Priority": 100, "ServiceName": "ord*"}}`, "ord*"},
		{`{"SamplingRule": {"RuleName": "orders", "Priority": 100, "ServiceName": "ORDERS"}}`, "ORDERS"},
	}
	for _, tc := range cases {
		c, err := load(context(map[string]any{KeyServiceName: "orders", KeySamplingRuleFile: writeFile(t, tc.file)}), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if *c.SamplingRule.ServiceName != tc.wantRuleService || c.GroupName != "orders" {
			t.Errorf("%s: rule ServiceName %q, group %q", tc.file, *c.SamplingRule.ServiceName, c.GroupName)
		}
	}
}

// TestTheRuleSet: the health-check rule file ships with the stack, names
// its rule after the service and follows it; further files come as a JSON
// list or a comma-separated string, each checked like the first.
func TestTheRuleSet(t *testing.T) {
	c, err := load(context(nil), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SamplingRules) != 1 || *c.SamplingRules[0].RuleName != "Cruddur-health-check" || *c.SamplingRules[0].ServiceName != "Cruddur" ||
		*c.SamplingRules[0].Priority >= *c.SamplingRule.Priority || *c.SamplingRules[0].FixedRate != 0 || *c.SamplingRules[0].ReservoirSize != 0 {
		t.Fatalf("the health-check rule %+v", c.SamplingRules)
	}
	writes := writeFile(t, `{"SamplingRule": {"RuleName": "writes", "Priority": 50, "HTTPMethod": "POST"}}`)
	c, err = load(context(map[string]any{keySamplingRuleFiles: healthCheckFile + "," + writes}), noEnv)
	if err != nil || len(c.SamplingRules) != 2 || *c.SamplingRules[1].RuleName != "writes" {
		t.Fatalf("two files from -c: %v, %+v", err, c)
	}
	if c, err = load(context(map[string]any{keySamplingRuleFiles: ""}), noEnv); err != nil || len(c.SamplingRules) != 0 {
		t.Fatalf("no further files: %v, %+v", err, c)
	}
	for _, tc := range []struct {
		files any
		want  string
	}{
		{writeFile(t, `{"SamplingRule": {"RuleName": "Cruddur", "Priority": 50}}`), `is also the rule of ../aws/json/xray.json; expected a name of its own`},
		{writeFile(t, `{"SamplingRule": {"Priority": 50, "ServiceName": "orders"}}`), `SamplingRule.ServiceName: "orders" does not match the service name "Cruddur" (context cruddur:serviceName)`},
		{writeFile(t, `{"SamplingRule": {"Priority": "50"}}`), `SamplingRule.Priority: JSON string "50"`},
		{[]any{healthCheckFile, 7.0}, `context cruddur:samplingRuleFiles: [`},
	} {
		_, err := load(context(map[string]any{keySamplingRuleFiles: tc.files}), noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (!strings.HasPrefix(err.Error(), "context cruddur:samplingRuleFiles: ") && !strings.Contains(err.Error(), "(context cruddur:samplingRuleFiles)")) {
			t.Errorf("%v: error %v, want one naming cruddur:samplingRuleFiles with %q", tc.files, err, tc.want)
		}
	}
}

// TestARuleTheBackendsSDKSkipsIsRefused: the X-Ray SDK the backend decides
// by, in both tracing modes, skips a rule with attributes or with a
// ResourceARN other than *; such a rule file, the service's or a further
// one, is refused in one line naming key, file and field.
func TestARuleTheBackendsSDKSkipsIsRefused(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{`"Attributes": {"tier": "web"}`,
			`SamplingRule.Attributes: the backend's X-Ray SDK skips a rule with attributes, so the rule would never sample its traces; expected none`},
		{`"ResourceARN": "arn:aws:execute-api:us-east-1:111122223333:abc/prod/GET"`,
			`SamplingRule.ResourceARN: "arn:aws:execute-api:us-east-1:111122223333:abc/prod/GET": the backend's X-Ray SDK skips a rule whose ResourceARN is not *, so the rule would never sample its traces; expected * or none`},
	} {
		path := writeFile(t, `{"SamplingRule": {"Priority": 50, `+tc.rule+`}}`)
		for _, key := range []string{KeySamplingRuleFile, keySamplingRuleFiles} {
			_, err := load(context(map[string]any{key: path}), noEnv)
			if want := "context " + key + ": " + path + ": " + tc.want; err == nil || err.Error() != want {
				t.Errorf("error:\n got %v\nwant %s", err, want)
			}
		}
	}
}

// TestARuleForAnotherOriginIsRefused: a rule whose ServiceType cannot match
// the origin the backend's segments carry with the stage's collector (and
// ask the rules with) never samples: refused, naming the collector; one
// that matches, in either mode, is taken.
func TestARuleForAnotherOriginIsRefused(t *testing.T) {
	for _, tc := range []struct{ collector, serviceType, want string }{
		{collectorXRayDaemon, "AWS::ECS::Container", ""},
		{collectorADOT, "aws::ecs::*", ""},
		{collectorADOT, "AWS::ECS::Container", `SamplingRule.ServiceType: "AWS::ECS::Container" does not match AWS::ECS::Fargate, the origin of the backend's segments with cruddur:collector adot, so the rule would never sample its traces; expected * or a pattern that matches it`},
		{collectorXRayDaemon, "AWS::ECS::Fargate", `SamplingRule.ServiceType: "AWS::ECS::Fargate" does not match AWS::ECS::Container, the origin of the backend's segments with cruddur:collector xray-daemon, so the rule would never sample its traces; expected * or a pattern that matches it`},
	} {
		path := writeFile(t, `{"SamplingRule": {"Priority": 50, "ServiceType": "`+tc.serviceType+`"}}`)
		_, err := load(context(map[string]any{KeyCollector: tc.collector, keySamplingRuleFiles: path}), noEnv)
		switch want := "context " + keySamplingRuleFiles + ": " + path + ": " + tc.want; {
		case tc.want == "" && err != nil:
			t.Errorf("%s, %s: %v", tc.collector, tc.serviceType, err)
		case tc.want != "" && (err == nil || err.Error() != want):
			t.Errorf("%s, %s: error:\n got %v\nwant %s", tc.collector, tc.serviceType, err, want)
		}
	}
}

// TestRulesAreCheckedByTheBackendsOrigin: for each collector, the origin
// a service's rule's ServiceType is checked against (segmentOrigin) is the
// one the backend asks the rules with in the tracing mode the app gives it
// (CRUDDUR_TRACING, xray when unset), as the backend's tests hold it in
// backend/testdata/origins.json.
func TestRulesAreCheckedByTheBackendsOrigin(t *testing.T) {
	data, err := os.ReadFile("../backend/testdata/origins.json")
	if err != nil {
		t.Fatal(err)
	}
	var origins map[string]string
	if err := json.Unmarshal(data, &origins); err != nil {
		t.Fatalf("backend/testdata/origins.json: %v", err)
	}
	for _, c := range Collectors {
		svc := &Service{Collector: c}
		mode := "xray"
		if m := (*appEnvironment(svc))["CRUDDUR_TRACING"]; m != nil {
			mode = *m
		}
		if got, want := segmentOrigin(svc), origins[mode]; got != want || want == "" {
			t.Errorf("collector %s (tracing mode %s): rules are checked against %q; the backend asks with %q", c, mode, got, want)
		}
	}
}

// TestImagesPinByTagOrDigest: every image setting takes a tag other than
// latest, a digest, or both.
func TestImagesPinByTagOrDigest(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	for _, key := range []string{keyAppImage, keyDaemonImage, keyCollectorImage} {
		for _, image := range []string{"public.ecr.aws/xray/aws-xray-daemon:3.6.6", "public.ecr.aws/xray/aws-xray-daemon@" + digest, "amazon/aws-xray-daemon:3.6.6@" + digest} {
			if _, err := load(context(map[string]any{key: image}), noEnv); err != nil {
				t.Errorf("%s=%s: %v", key, image, err)
			}
		}
	}
}

// knownKeys are the keys LoadConfig reads, as its errors list them.
const knownKeys = "cruddur:account, cruddur:alarmEmail, cruddur:appImage, cruddur:appPort, cruddur:certificateArn, cruddur:collector, cruddur:collectorImage, cruddur:daemonImage, cruddur:deletionProtection, cruddur:desiredCount, cruddur:ecsExec, cruddur:faultTracesThreshold, cruddur:githubOidcProviderExists, cruddur:groupFilterExpression, cruddur:groupName, cruddur:insightsEnabled, cruddur:insightsNotificationsEnabled, cruddur:latencyP99Seconds, cruddur:loadBalancer, cruddur:logRetentionDays, cruddur:maxCount, cruddur:natGateways, cruddur:noTracesRequestsThreshold, cruddur:region, cruddur:samplingRuleFile, cruddur:samplingRuleFiles, cruddur:samplingRuleQuota, cruddur:serverErrorsThreshold, cruddur:serviceName, cruddur:slowRequestSeconds, cruddur:slowTracesThreshold, cruddur:taskCpu, cruddur:taskMemoryMiB, cruddur:transactionSearch, cruddur:transactionSearchIndexingPercent, cruddur:vpcId"

// TestLoadConfigRejectsBadInput covers every context value: each error
// names the key, the bad value and what is expected. It is long because it
// is one table, a row (one line) per bad value.
func TestLoadConfigRejectsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		ctx     map[string]any
		wantErr string
	}{
		{"empty service name", map[string]any{KeyServiceName: ""},
			`context cruddur:serviceName: "" has 0 characters; expected 1..64`},
		{"service name with a double quote", map[string]any{KeyServiceName: `back"end`},
			`context cruddur:serviceName: "back\"end" contains '"'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"service name not a string", map[string]any{KeyServiceName: 42.0},
			`context cruddur:serviceName: 42; expected a string`},
		{"insights not a boolean", map[string]any{keyInsightsEnabled: "yes"},
			`context cruddur:insightsEnabled: "yes"; expected true or false`},
		{"bad account", map[string]any{keyAccount: "12345"},
			`context cruddur:account: "12345" is not an AWS account id; expected 12 digits`},
		{"bad region", map[string]any{keyRegion: "mars-1"},
			`context cruddur:region: "mars-1" is not an AWS region; expected a name such as us-east-1`},
		{"unknown key", map[string]any{"cruddur:sevriceName": "x"},
			`context cruddur:sevriceName: unknown key; did you mean cruddur:serviceName? (docs/configuration.md lists every key)`},
		{"unknown key like none of ours", map[string]any{"cruddur:colour": "x"},
			`context cruddur:colour: unknown key; expected one of ` + knownKeys + ` (or cruddur:<stack>:<key>, for one stage)`},
		{"the stage as context, the prefix in another case", map[string]any{"Cruddur:stage": "production"},
			`context Cruddur:stage: unknown key: each stage is a stack of its own now; expected no cruddur:stage, and the stack of the stage, one of ` + stackList() + ` (stack/stages/stages.go)`},
		{"the stage as context, the name in another case", map[string]any{"cruddur:Stage": "production"},
			`context cruddur:Stage: unknown key: each stage is a stack of its own now; expected no cruddur:stage, and the stack of the stage, one of ` + stackList() + ` (stack/stages/stages.go)`},
		{"the prefix in another case", map[string]any{"Cruddur:natGateways": "2"},
			`context Cruddur:natGateways: unknown key; did you mean cruddur:natGateways? (docs/configuration.md lists every key)`},
		{"the prefix a letter off", map[string]any{"crudur:desiredCount": "500"},
			`context crudur:desiredCount: unknown key; did you mean cruddur:desiredCount? (docs/configuration.md lists every key)`},
		{"X-Ray's own group name", map[string]any{keyGroupName: "Default"},
			`context cruddur:groupName: GroupName: "Default" is the group X-Ray keeps for itself; expected another name`},
		{"a filter expression left open", map[string]any{keyGroupFilterExpression: `service("orders"`},
			`context cruddur:groupFilterExpression: FilterExpression: "service(\"orders\"" leaves '(' open; expected an X-Ray filter expression such as service("orders") { fault = true }`},
		{"a filter expression calling what X-Ray lacks", map[string]any{keyGroupFilterExpression: `servce("orders")`},
			`context cruddur:groupFilterExpression: FilterExpression: "servce(\"orders\")" calls servce(), which X-Ray does not have (its functions: service, edge, id); expected an X-Ray filter expression such as service("orders") { fault = true }`},
		{"a control character in the e-mail", map[string]any{keyAlarmEmail: "a\x01b@c.d"},
			`context cruddur:alarmEmail: "a\x01b@c.d" is not an e-mail address SNS takes; expected one address such as oncall@example.com (ASCII, no spaces, commas or display name)`},
		{"a 10,000-character service name, shortened", map[string]any{KeyServiceName: strings.Repeat("a", 10000)},
			`context cruddur:serviceName: "` + strings.Repeat("a", 200) + `"... (10000 characters) has 10000 characters; expected 1..64`},
		// The constructs' own checks, run before any construct, so that
		// the message names the key.
		{"the daemon's port", map[string]any{KeyAppPort: 2000.0, KeyCollector: collectorXRayDaemon},
			`context cruddur:appPort: port 2000 is the X-Ray daemon's; expected the app on another port`},
		{"the ADOT collector's OTLP port", map[string]any{KeyAppPort: 4318.0, KeyCollector: "adot"},
			`context cruddur:appPort: port 4318 is the ADOT collector's; expected the app on another port`},
		{"Insights notifications without Insights", map[string]any{keyInsightsNotifications: true},
			`context cruddur:insightsNotificationsEnabled: NotificationsEnabled: true needs InsightsEnabled true; expected InsightsEnabled true or NotificationsEnabled false`},
		{"a port only root may bind", map[string]any{KeyAppPort: 80.0},
			`context cruddur:appPort: 80: the backend runs as uid 65532 (distroless's nonroot), which may not bind a port below 1024; expected 1024..65535`},
		{"not a VPC id", map[string]any{keyVpcID: "not-a-vpc", keyAccount: "111122223333", keyRegion: "eu-west-1"},
			`context cruddur:vpcId: "not-a-vpc" is not a VPC id; expected vpc- and 8 or 17 hex digits, such as vpc-0123456789abcdef0`},
		{"a VPC the lookup did not find", map[string]any{keyVpcID: "vpc-0123456789abcdef1", keyAccount: "111122223333", keyRegion: "eu-west-1",
			"vpc-provider:account=111122223333:filter.vpc-id=vpc-0123456789abcdef1:region=eu-west-1:returnAsymmetricSubnets=true": map[string]any{
				"$providerError": "Could not find any VPCs matching {\"filter.vpc-id\":\"vpc-0123456789abcdef1\"}\nat stack", "$dontSaveContext": true}},
			`context cruddur:vpcId: looking up vpc-0123456789abcdef1 in account 111122223333, region eu-west-1 failed: "Could not find any VPCs matching {\"filter.vpc-id\":\"vpc-0123456789abcdef1\"}"; expected a VPC there, and AWS credentials of that account for the CDK CLI`},
		{"VPC lookup without an environment", map[string]any{keyVpcID: "vpc-0123456789abcdef0"},
			`context cruddur:vpcId: looking up vpc-0123456789abcdef0 needs the stack's account and region; expected cruddur:account and cruddur:region too (or AWS credentials for the CLI)`},
		{"group name with no room for -faults", map[string]any{keyGroupName: "abcdefghijklmnopqrstuvwxyz"},
			`context cruddur:groupName: "abcdefghijklmnopqrstuvwxyz" has 26 characters; expected at most 25, so that "abcdefghijklmnopqrstuvwxyz-faults" fits X-Ray's 32`},
		{"alarm e-mail", map[string]any{keyAlarmEmail: "oncall"},
			`context cruddur:alarmEmail: "oncall" is not an e-mail address SNS takes; expected one address such as oncall@example.com (ASCII, no spaces, commas or display name)`},
		{"slow request threshold", map[string]any{keySlowRequestSeconds: "soon"},
			`context cruddur:slowRequestSeconds: "soon"; expected a number in 0.001..3600`},
		{"fault traces threshold", map[string]any{keyFaultTracesThreshold: 0.0},
			`context cruddur:faultTracesThreshold: 0; expected a whole number in 1..1000000`},
		{"no-traces alarm threshold", map[string]any{keyNoTracesRequests: "0"},
			`context cruddur:noTracesRequestsThreshold: "0"; expected a whole number in 1..1000000`},
		{"indexing percentage", map[string]any{keyTransactionSearchPct: "101"},
			`context cruddur:transactionSearchIndexingPercent: "101"; expected a whole number in 0..100`},
		{"NAT gateways", map[string]any{keyNatGateways: "3"},
			`context cruddur:natGateways: "3"; expected a whole number in 1..2`},
		{"desired count", map[string]any{keyDesiredCount: -1.0},
			`context cruddur:desiredCount: -1; expected a whole number in 0..100`},
		{"maximum below the desired count", map[string]any{keyDesiredCount: 4.0, keyMaxCount: "3"},
			`context cruddur:maxCount: 3 is below cruddur:desiredCount 4; expected at least that`},
		{"the stage as context, as before stages were stacks", map[string]any{"cruddur:stage": "production"},
			`context cruddur:stage: unknown key: each stage is a stack of its own now; expected no cruddur:stage, and the stack of the stage, one of ` + stackList() + ` (stack/stages/stages.go)`},
		{"production without a certificate", map[string]any{stageKey: "production"},
			`context cruddur:certificateArn: not set: stage production serves HTTPS only; expected an ACM certificate ARN`},
		{"production keeping logs a month", map[string]any{stageKey: "production", keyCertificateArn: testCertificate, keyLogRetentionDays: 30.0},
			`context cruddur:logRetentionDays: 30 days is less than stage production keeps logs; expected 365 or more`},
		{"production with one NAT gateway", map[string]any{stageKey: "production", keyCertificateArn: testCertificate, keyNatGateways: 1.0},
			`context cruddur:natGateways: 1: stage production survives the loss of an Availability Zone; expected 2`},
		{"production without deletion protection", map[string]any{stageKey: "production", keyCertificateArn: testCertificate, keyDeletionProtection: false},
			`context cruddur:deletionProtection: false: stage production's load balancer is protected from deletion; expected true`},
		{"production without the load balancer or a certificate", map[string]any{stageKey: "production", keyLoadBalancer: false},
			`context cruddur:loadBalancer: false: stage production serves through the load balancer and AWS WAF; expected true`},
		{"production without the load balancer", map[string]any{stageKey: "production", keyCertificateArn: testCertificate, keyLoadBalancer: false},
			`context cruddur:certificateArn: a certificate needs the load balancer; expected cruddur:loadBalancer true or no certificate`},
		{"ECS Exec in production", map[string]any{stageKey: "production", keyCertificateArn: testCertificate, keyEcsExec: "true"},
			`context cruddur:ecsExec: true: stage production's tasks take no shell (cdk-nag's NIST 800-53 pack refuses ECS Exec's grant); expected false`},
		{"ECS Exec not a boolean", map[string]any{keyEcsExec: "on"},
			`context cruddur:ecsExec: "on"; expected true or false`},
		{"certificate ARN", map[string]any{keyCertificateArn: "arn:aws:iam::111122223333:server-certificate/x"},
			`context cruddur:certificateArn: "arn:aws:iam::111122223333:server-certificate/x" is not an ACM certificate ARN; expected arn:aws:acm:REGION:ACCOUNT:certificate/UUID`},
		{"certificate without a load balancer", map[string]any{keyLoadBalancer: false, keyCertificateArn: "arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"},
			`context cruddur:certificateArn: a certificate needs the load balancer; expected cruddur:loadBalancer true or no certificate`},
		{"invalid app image", map[string]any{keyAppImage: "Backend:1.0"},
			`context cruddur:appImage: "Backend:1.0" is not an image reference (invalid reference format: repository name (library/Backend) must be lowercase); expected a name with a tag or digest, such as public.ecr.aws/xray/aws-xray-daemon:3.6.6`},
		{"daemon image latest", map[string]any{keyDaemonImage: "amazon/aws-xray-daemon:latest"},
			`context cruddur:daemonImage: "amazon/aws-xray-daemon:latest" is not pinned; expected a tag other than latest, or a digest such as NAME@sha256:<64 hex digits>`},
		{"unpinned collector image", map[string]any{keyCollectorImage: "public.ecr.aws/aws-observability/aws-otel-collector"},
			`context cruddur:collectorImage: "public.ecr.aws/aws-observability/aws-otel-collector" is not pinned; expected a tag other than latest, or a digest such as NAME@sha256:<64 hex digits>`},
		{"short digest", map[string]any{keyAppImage: "cruddur@sha256:abc"},
			`context cruddur:appImage: "cruddur@sha256:abc" is not an image reference (invalid reference format); expected a name with a tag or digest, such as public.ecr.aws/xray/aws-xray-daemon:3.6.6`},
		{"port not a number", map[string]any{KeyAppPort: "http"},
			`context cruddur:appPort: "http"; expected a whole number in 1..65535`},
		{"port out of range", map[string]any{KeyAppPort: 70000.0},
			`context cruddur:appPort: 70000; expected a whole number in 1..65535`},
		{"unknown collector", map[string]any{KeyCollector: "jaeger"},
			`context cruddur:collector: "jaeger" is not a collector; expected "xray-daemon" (the default), "adot" or "cloudwatch-agent"`},
		{"CPU Fargate does not have", map[string]any{keyTaskCPU: 300.0},
			`context cruddur:taskCpu/cruddur:taskMemoryMiB: 300 CPU units is not a Fargate task size; expected 256, 512, 1024, 2048, 4096, 8192 or 16384`},
		{"memory that does not go with the CPU", map[string]any{KeyTaskMemoryMiB: "4096"},
			`context cruddur:taskCpu/cruddur:taskMemoryMiB: 4096 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024 or 2048 MiB`},
		{"1536 MiB at 256 units", map[string]any{KeyTaskMemoryMiB: 1536.0},
			`context cruddur:taskCpu/cruddur:taskMemoryMiB: 1536 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024 or 2048 MiB`},
		{"memory off the step", map[string]any{keyTaskCPU: 1024.0, KeyTaskMemoryMiB: 2500.0},
			`context cruddur:taskCpu/cruddur:taskMemoryMiB: 2500 MiB is not a Fargate memory size for 1024 CPU units; expected 2048..8192 MiB in steps of 1024`},
		{"fractional memory", map[string]any{KeyTaskMemoryMiB: 512.5},
			`context cruddur:taskMemoryMiB: 512.5; expected a whole number in 512..122880`},
		{"log retention CloudWatch lacks", map[string]any{keyLogRetentionDays: 31.0},
			`context cruddur:logRetentionDays: 31 days is not a CloudWatch Logs retention period; expected one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`},
		{"missing rule file", map[string]any{KeySamplingRuleFile: "aws/json/nope.json"},
			`context cruddur:samplingRuleFile: aws/json/nope.json: open aws/json/nope.json: no such file or directory`},
		{"rule for another service", map[string]any{KeyServiceName: "orders"},
			`../aws/json/xray.json: SamplingRule.ServiceName: "Cruddur" does not match the service name "orders" (context cruddur:serviceName), so the rule would never sample its traces; expected a rule file (context cruddur:samplingRuleFile) whose ServiceName matches it or is left out`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(context(tc.ctx), noEnv)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error:\n got %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

// TestXRaysLimitsInARuleFile: what the X-Ray API refuses and aws-cdk-lib's
// validator does not check is refused in the file, naming file and field.
func TestXRaysLimitsInARuleFile(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`{"SamplingRule": {"RuleName": "r", "Priority": 1, "Attributes": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}}}`,
			`SamplingRule.Attributes: 6 of them; expected at most 5 (the X-Ray API's limit)`},
		{`{"SamplingRule": {"RuleName": "r", "Priority": 1}, "Tags": [{"Key": "aws:team", "Value": "web"}]}`,
			`Tags[0].Key: "aws:team" starts with aws:, which AWS keeps for its own tags; expected another key`},
		{`{"SamplingRule": {"RuleName": "r\u0007", "Priority": 1}}`,
			`SamplingRule.RuleName: "r\a" contains the control character '\a'; expected none`},
	} {
		path := writeFile(t, tc.file)
		_, err := load(context(map[string]any{KeySamplingRuleFile: path}), noEnv)
		if want := "context cruddur:samplingRuleFile: " + path + ": " + tc.want; err == nil || err.Error() != want {
			t.Errorf("error:\n got %v\nwant %s", err, want)
		}
	}
}

// TestBadRuleFilesNameKeyFileAndField: a rule file's error names the
// context key, the file and the field.
func TestBadRuleFilesNameKeyFileAndField(t *testing.T) {
	path := writeFile(t, `{"SamplingRule": {"ReservoirSize": "5"}}`)
	_, err := load(context(map[string]any{KeySamplingRuleFile: path}), noEnv)
	want := "context cruddur:samplingRuleFile: " + path + `: SamplingRule.ReservoirSize: JSON string "5"; expected a whole number from -2147483648 to 2147483647 (the X-Ray API's Integer)`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
}

// TestABadRepositoryIsNamedInStagesGo: the repository the access stacks
// trust is refused in one line that names stages.go's Repository, before any
// construct exists; filled in well, it is what the access stack trusts.
func TestABadRepositoryIsNamedInStagesGo(t *testing.T) {
	defer func(r string) { stages.Repository = r }(stages.Repository)
	stages.Repository = "octo-org"
	_, err := load(context(nil), noEnv)
	want := `stack/stages/stages.go: Repository: "octo-org" is not a GitHub repository; expected OWNER/NAME, such as octo-org/cruddur`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v; want %s...", err, want)
	}
	stages.Repository = "octo-org/cruddur"
	c, err := load(context(nil), noEnv)
	if err != nil || c.Repository != "octo-org/cruddur" || strings.Contains(fmt.Sprint(c.AccessNotDeployable), "Repository") {
		t.Errorf("a good repository: %v, %+v", err, c)
	}
}

// TestAKeyForOneStage: cruddur:<stack>:<key> sets a key for that stage
// alone, over cruddur:<key>; production's checks still apply to
// production's own keys, and messages name the key that was set.
func TestAKeyForOneStage(t *testing.T) {
	dev, prod := stages.Development, stages.Production
	ctx := context(map[string]any{
		"cruddur:" + dev.StackName + ":ecsExec": "true", "cruddur:" + dev.StackName + ":desiredCount": 1.0, keyDesiredCount: 3.0,
		keyCertificateArn: testCertificate, keyAccount: "111122223333", keyRegion: "us-east-1",
	})
	d, err := LoadConfig(dev, ctx, noEnv)
	if err != nil || !d.EcsExec || d.DesiredCount != 1 {
		t.Fatalf("development: %v; EcsExec %v, DesiredCount %v; want true, 1", err, d != nil && d.EcsExec, d)
	}
	p, err := LoadConfig(prod, ctx, noEnv)
	if err != nil || p.EcsExec || p.DesiredCount != 3 {
		t.Fatalf("production: %v; want the keys for all stages only", err)
	}
	for key, want := range map[string]string{
		"cruddur:" + prod.StackName + ":ecsExec":          "context cruddur:" + prod.StackName + ":ecsExec: true: stage production's tasks take no shell",
		"cruddur:" + prod.StackName + ":logRetentionDays": "context cruddur:" + prod.StackName + ":logRetentionDays: 30 days is less than stage production keeps logs; expected 365 or more",
		"cruddur:Cruddur-Nowhere:ecsExec":                 `context cruddur:Cruddur-Nowhere:ecsExec: no stage deploys as stack "Cruddur-Nowhere"; expected one of`,
		"cruddur:" + prod.StackName + ":ecsExc":           "context cruddur:" + prod.StackName + ":ecsExc: unknown key; did you mean cruddur:" + prod.StackName + ":ecsExec?",
	} {
		bad := maps.Clone(ctx)
		bad[key] = map[bool]any{true: 30.0, false: "true"}[strings.HasSuffix(key, "Days")]
		_, err := LoadConfig(prod, bad, noEnv)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v; want %s...", key, err, want)
		}
	}
}

// TestTransactionSearchIsOnInOneStagePerAccountAndRegion: two stages that
// may share an account and region cannot both turn it on; one alone, or
// each in its own account, can.
func TestTransactionSearchIsOnInOneStagePerAccountAndRegion(t *testing.T) {
	stage := func(name, account, region string, on bool) *Config {
		return &Config{Stage: stages.Stage{Name: name}, Platform: Platform{Account: account, Region: region, TransactionSearch: on, SamplingRuleQuota: defaultSamplingRuleQuota}}
	}
	for _, tc := range []struct {
		name    string
		configs []*Config
		want    string
	}{
		{"both on, one account", []*Config{stage("development", "111122223333", "us-east-1", true), stage("production", "111122223333", "us-east-1", true)},
			"context cruddur:transactionSearch: true in stages development and production, which may share an account and region (111122223333, us-east-1): Transaction Search is one setting per account and region (AWS::XRay::TransactionSearchConfig); expected it in one of them, with cruddur:<stack>:transactionSearch"},
		{"both on, one not pinned", []*Config{stage("development", "", "", true), stage("production", "111122223333", "us-east-1", true)},
			"context cruddur:transactionSearch: true in stages development and production, which may share an account and region (111122223333, us-east-1)"},
		{"both on, two accounts", []*Config{stage("development", "111122223333", "us-east-1", true), stage("production", "444455556666", "us-east-1", true)}, ""},
		{"both on, two regions", []*Config{stage("development", "111122223333", "eu-west-1", true), stage("production", "111122223333", "us-east-1", true)}, ""},
		{"one on", []*Config{stage("development", "", "", false), stage("production", "", "", true)}, ""},
	} {
		err := CheckSingletons(tc.configs)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
}

// TestTheSamplingRulesOfStagesThatShareAnAccountFitXRaysQuota: 62 rules
// over two stages in one account and region are refused, naming both
// stages; in two accounts, or with a raised quota, they are taken.
func TestTheSamplingRulesOfStagesThatShareAnAccountFitXRaysQuota(t *testing.T) {
	stage := func(name, account string, files, quota int) *Config {
		return &Config{Stage: stages.Stage{Name: name}, Platform: Platform{Account: account, Region: "us-east-1", SamplingRuleQuota: quota}, Service: Service{SamplingRuleFiles: make([]string, files)}}
	}
	err := CheckSingletons([]*Config{stage("development", "111122223333", 30, 25), stage("production", "111122223333", 30, 25)})
	want := "context cruddur:samplingRuleFile, cruddur:samplingRuleFiles: stages development and production, which may share an account and region (111122223333, us-east-1), define 62 sampling rules; expected at most 25, X-Ray's quota of custom sampling rules per region (L-8C0C998A; cruddur:samplingRuleQuota sets a raised one)"
	if err == nil || err.Error() != want {
		t.Errorf("62 rules in one account: %v; want %s", err, want)
	}
	for name, configs := range map[string][]*Config{
		"two accounts":               {stage("development", "111122223333", 20, 25), stage("production", "444455556666", 20, 25)},
		"a raised quota":             {stage("development", "111122223333", 30, 100), stage("production", "111122223333", 30, 100)},
		"the shipped two rules each": {stage("development", "", 1, 25), stage("production", "", 1, 25)},
	} {
		if err := CheckSingletons(configs); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// stackList names every stage's stack as the messages list them.
func stackList() string {
	var names []string
	for _, s := range stages.All {
		names = append(names, fmt.Sprintf("%s (%s)", s.StackName, s.Name))
	}
	return strings.Join(names, ", ")
}

// derivedDefaults are keys whose default is another value, which the docs
// name in words.
var derivedDefaults = map[string]string{
	keyGroupName:             "the service name",
	keyInsightsNotifications: "as `insightsEnabled`",
}

// TestTheDocsListEveryKeyWithItsDefault: docs/configuration.md's table of
// context keys is the keys LoadConfig reads, no more and no fewer, and
// every row that names a key (the summary's too) gives the default each
// stage reads it with: the tables are tested against the one place the
// keys are declared.
func TestTheDocsListEveryKeyWithItsDefault(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	// rows are the default columns of every table row that names a key
	// first, by key: the full table's, and the summary's above it.
	rows := func(text string) map[string][]string {
		out := map[string][]string{}
		for _, line := range strings.Split(text, "\n") {
			cells := strings.Split(line, " | ")
			if !strings.HasPrefix(line, "| `cruddur:") || len(cells) < 3 {
				continue
			}
			for _, k := range strings.Split(strings.TrimPrefix(cells[0], "| "), ", ") {
				out[strings.Trim(k, "`")] = append(out[strings.Trim(k, "`")], cells[1])
			}
		}
		return out
	}
	_, table, _ := strings.Cut(string(doc), "\n## Context\n")
	table, _, _ = strings.Cut(table, "\n## ")
	documented, everywhere := rows(table), rows(string(doc))
	read := map[string]bool{}
	for _, stage := range stages.All {
		r := &contextReader{ctx: map[string]any{}, stack: stage.StackName}
		readConfig(stage, r)
		for key, def := range r.defaults {
			read[key] = true
			want := fmt.Sprint(def)
			switch v := def.(type) {
			case []string:
				b, _ := json.Marshal(v)
				want = string(b)
			case string:
				if v == "" || v == stage.Account || v == stage.Region || v == stage.CertificateArn || v == stage.AlarmEmail {
					continue // none, or the stage's own value
				}
			}
			if words, derived := derivedDefaults[key]; derived {
				want = words
			} else {
				want = "`" + want + "`"
			}
			for _, column := range everywhere[key] {
				if !strings.Contains(column, want) {
					t.Errorf("docs/configuration.md: %s's default is %q; stage %s reads it with %s", key, column, stage.Name, want)
				}
			}
		}
	}
	for key := range read {
		if _, ok := documented[key]; !ok {
			t.Errorf("docs/configuration.md's table lacks %s, which LoadConfig reads", key)
		}
	}
	for key := range documented {
		if !read[key] {
			t.Errorf("docs/configuration.md's table lists %s, which LoadConfig does not read", key)
		}
	}
}

// TestAStageWithoutAPostureIsNamed: a stage added without a posture is
// refused in one line naming it and the field, not by the zero defaults
// it would give.
func TestAStageWithoutAPostureIsNamed(t *testing.T) {
	_, err := LoadConfig(stages.Stage{Name: "staging", StackName: "Cruddur-Staging"}, map[string]any{}, func(string) string { return "" })
	want := "stack/stages/stages.go: stage staging: Posture: not set; expected stages.Relaxed, stages.Guarded or a posture of its own"
	if err == nil || err.Error() != want {
		t.Errorf("LoadConfig: %v; want %q", err, want)
	}
}
