package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

var (
	update    = flag.Bool("update", false, "rewrite the golden templates in testdata/ from this run's synths")
	synthOnly = flag.Bool("synth-only", false, "synthesize the app once, validated, and run no test: the floor of `go test` that bench/run.sh measures")
)

// The app is synthesized once per test binary, as the CLI would, and every
// test reads that one result: a synth costs seconds, an assertion
// milliseconds. The configurations the tests check beside the default are
// further stacks of the same app (see variants), so that one synth, one run
// of aws-cdk-lib's validator and one of cdk-nag cover them all.
var synth struct {
	template  []byte // cdk.out/Cruddur.template.json, byte for byte
	outdir    string
	dir       string // the tests' temporary folder
	tmpl      assertions.Template
	variants  map[string]synthesized
	adot      synthesized // the app with cruddur:collector=adot
	fixedRate synthesized // the app with the seed's rule file but for FixedRate
}

// synthesized is one stack's template, as bytes and for assertions.
type synthesized struct {
	template []byte
	tmpl     assertions.Template
}

// runAsAppEnv makes the test binary run the app's main instead of the tests,
// so that a test can run the synth command as the CLI does, without building
// a second 100 MB binary.
const runAsAppEnv = "CRUDDUR_TEST_RUN_APP"

func TestMain(m *testing.M) {
	if os.Getenv(runAsAppEnv) == "1" {
		main()
		os.Exit(0)
	}
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	defer jsii.Close()
	dir, err := os.MkdirTemp("", "cruddur-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *synthOnly {
		if err := synthesize(dir, nil, true); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	// Deferred first, so that no program prepare started outlives the
	// tests' folder, even when prepare fails.
	defer background.stop()
	if err := prepare(dir); err != nil {
		fmt.Fprintln(os.Stderr, "preparing the tests:", err)
		return 1
	}
	return m.Run()
}

// prepare synthesizes what the tests read and starts the checks that are
// separate programs (Node, cfn-guard, the app as a process). jsii runs one
// Node process per Go process and takes one call at a time, so synthesis is
// sequential; those programs run beside it, on the other core.
func prepare(dir string) error {
	synth.dir = dir
	background.start(dir)

	synth.outdir = filepath.Join(dir, "cdk.out")
	overrides, err := variants(dir)
	if err != nil {
		return err
	}
	if err := synthesizeWith(synth.outdir, appContext, true, overrides); err != nil {
		return fmt.Errorf("synthesizing the app: %w", err)
	}
	if synth.template, synth.tmpl, err = readTemplate(synth.outdir, StackID); err != nil {
		return err
	}
	background.afterSynth(dir, synth.template)

	synth.variants = map[string]synthesized{}
	for name := range overrides {
		var v synthesized
		if v.template, v.tmpl, err = readTemplate(synth.outdir, name); err != nil {
			return err
		}
		synth.variants[name] = v
	}

	// Two variants are compared with the default as whole templates: the
	// collector's has a golden of its own, which must be what `cdk synth -c
	// cruddur:collector=adot` writes, and the changed rule file is diffed
	// as a revision of the stack. So they need the stack id Cruddur, and an
	// app each. The validator's rules are loaded by now: validating them
	// costs little.
	for _, a := range []struct {
		name      string
		overrides map[string]any
		into      *synthesized
	}{
		{"adot", map[string]any{keyCollector: "adot"}, &synth.adot},
		{"fixed-rate", map[string]any{keySamplingRuleFile: filepath.Join(dir, "fixed-rate.json")}, &synth.fixedRate},
	} {
		out := filepath.Join(dir, a.name+".out")
		if err := synthesize(out, a.overrides, true); err != nil {
			return fmt.Errorf("synthesizing the app with %v: %w", a.overrides, err)
		}
		if a.into.template, a.into.tmpl, err = readTemplate(out, StackID); err != nil {
			return err
		}
	}
	background.afterADOTSynth(dir, synth.adot.template)
	return nil
}

// variants are the configurations the tests check beside the default, by
// stack id; each is a stack of the shared app.
func variants(dir string) (map[string]map[string]any, error) {
	seed, err := os.ReadFile("aws/json/xray.json")
	if err != nil {
		return nil, err
	}
	fixedRate := bytes.Replace(seed, []byte(`"FixedRate": 0.1`), []byte(`"FixedRate": 0.25`), 1)
	if bytes.Equal(fixedRate, seed) {
		return nil, fmt.Errorf("aws/json/xray.json has no \"FixedRate\": 0.1 to change")
	}
	files := map[string][]byte{
		"fixed-rate.json": fixedRate,
		"orders.json":     []byte(`{"SamplingRule": {"Priority": 10, "FixedRate": 0.5}, "Tags": [{"Key": "team", "Value": "web"}]}`),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return nil, err
		}
	}
	return map[string]map[string]any{
		// Another service's name, Insights, and a rule file of its own.
		"Orders": {
			keyServiceName:           "orders",
			keyInsightsEnabled:       "true",
			keyInsightsNotifications: true,
			keySamplingRuleFile:      filepath.Join(dir, "orders.json"),
		},
		"NoLoadBalancer": {keyLoadBalancer: "false"},
		// The load balancer and service options a production stack sets.
		"ServiceOptions": {
			keyCertificateArn:     certificateArn,
			keyDeletionProtection: true,
			keyEcsExec:            "true",
			keyDesiredCount:       3.0,
		},
		// An existing VPC, looked up: the lookup's answer is in the app's
		// context (appContext), as cdk.context.json holds it after a
		// lookup with credentials.
		"ExistingVpc": {keyVpcID: "vpc-0123456789abcdef0", keyAccount: "111122223333", keyRegion: "eu-west-1"},
	}, nil
}

// appContext is context the shared app has beside cdk.json's: what a VPC
// lookup in account 111122223333, eu-west-1, found for the ExistingVpc
// variant, in the shape the CLI caches in cdk.context.json. (Without it,
// aws-cdk-lib synthesizes a placeholder VPC whose ids the validator
// rightly refuses.)
var appContext = map[string]any{
	"vpc-provider:account=111122223333:filter.vpc-id=vpc-0123456789abcdef0:region=eu-west-1:returnAsymmetricSubnets=true": map[string]any{
		"vpcId":             "vpc-0123456789abcdef0",
		"vpcCidrBlock":      "10.20.0.0/16",
		"ownerAccountId":    "111122223333",
		"availabilityZones": []any{},
		"subnetGroups": []any{
			subnetGroup("Public", "Public", 0),
			subnetGroup("Private", "Private", 2),
		},
	},
}

func subnetGroup(name, kind string, first int) map[string]any {
	var subnets []any
	for i, az := range []string{"eu-west-1a", "eu-west-1b"} {
		n := first + i
		subnets = append(subnets, map[string]any{
			"subnetId":         fmt.Sprintf("subnet-0%016x", n+1),
			"cidr":             fmt.Sprintf("10.20.%d.0/24", n),
			"availabilityZone": az,
			"routeTableId":     fmt.Sprintf("rtb-0%016x", n+1),
		})
	}
	return map[string]any{"name": name, "type": kind, "subnets": subnets}
}

const certificateArn = "arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"

// variant is the template of one of the variants.
func variant(t *testing.T, name string) ([]byte, assertions.Template) {
	t.Helper()
	v, ok := synth.variants[name]
	if !ok {
		t.Fatalf("no variant %q", name)
	}
	return v.template, v.tmpl
}

// readTemplate reads a stack's template from a synthesized cloud assembly,
// as bytes and for aws-cdk-lib's assertions.
func readTemplate(outdir, stackID string) ([]byte, assertions.Template, error) {
	data, err := os.ReadFile(filepath.Join(outdir, stackID+".template.json"))
	if err != nil {
		return nil, nil, err
	}
	return data, assertions.Template_FromString(jsii.String(string(data)), nil), nil
}

// cliContext is the context `cdk synth` gives the app: cdk.json's, plus the
// keys the CLI adds itself (seen in CDK_CONTEXT_JSON of CLI 2.1148), so that a
// test's template is byte for byte the one `cdk synth` writes.
func cliContext(overrides map[string]any) (map[string]any, error) {
	data, err := os.ReadFile("cdk.json")
	if err != nil {
		return nil, err
	}
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &cdkJSON); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	ctx := cdkJSON.Context
	ctx["aws:cdk:enable-path-metadata"] = true
	ctx["aws:cdk:enable-asset-metadata"] = true
	ctx["aws:cdk:version-reporting"] = false // cdk.json: "versionReporting": false
	ctx["aws:cdk:bundling-stacks"] = []any{"**"}
	for k, v := range overrides {
		ctx[k] = v
	}
	return ctx, nil
}

// synthesize runs the whole app into outdir with the CLI's context and no
// environment variables, turning a panic into an error. aws-cdk-lib's
// CloudFormation validator costs about 3 s the first time a process runs
// it (loading its rules) and little after that.
func synthesize(outdir string, overrides map[string]any, validate bool) error {
	return synthesizeWith(outdir, overrides, validate, nil)
}

// synthesizeWith is synthesize with further stacks in the same app: one
// per entry of stacks, by id, configured by the app's context with those
// overrides.
func synthesizeWith(outdir string, overrides map[string]any, validate bool, stacks map[string]map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx, err := cliContext(overrides)
	if err != nil {
		return err
	}
	app, _, err := NewApp(&awscdk.AppProps{
		Context:                         &ctx,
		Outdir:                          &outdir,
		BuiltinCloudFormationValidation: jsii.Bool(validate),
	}, noEnv)
	if err != nil {
		return err
	}
	for id, o := range stacks {
		c, err := cliContext(o)
		if err != nil {
			return err
		}
		cfg, err := LoadConfig(c, noEnv)
		if err != nil {
			return fmt.Errorf("variant %s: %w", id, err)
		}
		NewCruddurStack(app, id, StackPropsFor(cfg))
	}
	app.Synth(nil)
	return nil
}

func noEnv(string) string { return "" }

// check runs one assertions call; those panic inside jsii on failure, so
// the failure is turned into a test error that names the assertion.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// goldens are the checked-in templates every synth must equal: the default
// configuration, and each variant a user switches to as a whole.
var goldens = []struct {
	file     string
	template func() []byte
}{
	{StackID + ".template.json", func() []byte { return synth.template }},
	{StackID + "-adot.template.json", func() []byte { return synth.adot.template }},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			got := g.template()
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %s", path)
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `make golden` to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("the synthesized template differs from %s.\nIf the change is intended, review it with `make diff-golden` and rewrite the golden files with `make golden`.\n%s",
					path, firstDifference(want, got))
			}
		})
	}
}

// firstDifference shows the first line where two templates differ.
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n golden: %s\n synth:  %s", i+1, wl, gl)
		}
	}
	return "(they differ only in line endings)"
}

func TestSynthIsDeterministic(t *testing.T) {
	outdir := t.TempDir()
	if err := synthesize(outdir, nil, false); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(outdir, StackID+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, synth.template) {
		t.Fatalf("two synths of the same inputs differ:\n%s", firstDifference(synth.template, again))
	}
}

func TestXRayGroup(t *testing.T) {
	check(t, "one group", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::XRay::Group"), jsii.Number(1))
	})
	check(t, "group named Cruddur filtering on the service", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"GroupName":        "Cruddur",
			"FilterExpression": `service("Cruddur")`,
		})
	})
	check(t, "Insights off by default", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"InsightsConfiguration": assertions.Match_Absent(),
		})
	})
}

func TestSamplingRuleHasTheSeedsValues(t *testing.T) {
	check(t, "one rule", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::XRay::SamplingRule"), jsii.Number(1))
	})
	check(t, "seed values", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::XRay::SamplingRule"), map[string]any{
			"SamplingRule": assertions.Match_ObjectEquals(&map[string]any{
				"RuleName":      "Cruddur",
				"ResourceARN":   "*",
				"Priority":      9000,
				"FixedRate":     0.1,
				"ReservoirSize": 5,
				"ServiceName":   "Cruddur",
				"ServiceType":   "*",
				"Host":          "*",
				"HTTPMethod":    "*",
				"URLPath":       "*",
				"Version":       1,
			}),
			"Tags": assertions.Match_Absent(),
		})
	})
}

// TestOneServiceName checks that the group's filter and the rule's
// ServiceName name the same service: the seed's group filtered on
// backend-flask while its app named segments Cruddur, and matched nothing.
func TestOneServiceName(t *testing.T) {
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				FilterExpression string
				SamplingRule     struct{ ServiceName string }
			}
		}
	}
	if err := json.Unmarshal(synth.template, &doc); err != nil {
		t.Fatal(err)
	}
	var filter, ruleService string
	for _, r := range doc.Resources {
		switch r.Type {
		case "AWS::XRay::Group":
			filter = r.Properties.FilterExpression
		case "AWS::XRay::SamplingRule":
			ruleService = r.Properties.SamplingRule.ServiceName
		}
	}
	if want := `service("` + ruleService + `")`; ruleService == "" || filter != want {
		t.Fatalf("group filter %q and rule ServiceName %q name different services", filter, ruleService)
	}
}

func TestStackIsEnvironmentAgnosticByDefault(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(synth.template, &doc); err != nil {
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

func TestValidatorFindsNothing(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(synth.outdir, "validation-report.json"))
	if err != nil {
		t.Fatalf("aws-cdk-lib's CloudFormation validator did not run: %v", err)
	}
	var report struct {
		PluginReports []struct {
			PluginName string
			Violations []any
		}
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	for _, r := range report.PluginReports {
		if len(r.Violations) > 0 {
			t.Errorf("%s: %d violations: %v", r.PluginName, len(r.Violations), r.Violations)
		}
	}
}

func TestContextOverridesReachTheTemplate(t *testing.T) {
	_, tmpl := variant(t, "Orders")
	check(t, "group follows the service name, with Insights", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"FilterExpression": `service("orders")`,
			"InsightsConfiguration": map[string]any{
				"InsightsEnabled": true, "NotificationsEnabled": true,
			},
		})
	})
	check(t, "rule follows the service name; file values and defaults", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::XRay::SamplingRule"), map[string]any{
			"SamplingRule": map[string]any{
				"ServiceName": "orders", "Priority": 10, "FixedRate": 0.5, "ReservoirSize": 5,
			},
			"Tags": []any{map[string]any{"Key": "team", "Value": "web"}},
		})
	})
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xray.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
