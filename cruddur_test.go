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

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/ from this run's synths")

// The app is synthesized once per test binary, as the CLI would, and every
// test reads that one result: a synth costs seconds, an assertion
// milliseconds.
var synth struct {
	template []byte // cdk.out/Cruddur.template.json, byte for byte
	outdir   string
	tmpl     assertions.Template
	stack    awscdk.Stack
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
	outdir, err := os.MkdirTemp("", "cruddur-synth-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(outdir)
	stack, err := synthesize(outdir, nil, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "synthesizing the app for the tests:", err)
		return 1
	}
	synth.stack = stack
	synth.outdir = outdir
	synth.template, synth.tmpl, err = readTemplate(outdir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// readTemplate reads the stack's template from a synthesized cloud assembly,
// as bytes and for aws-cdk-lib's assertions.
func readTemplate(outdir string) ([]byte, assertions.Template, error) {
	data, err := os.ReadFile(filepath.Join(outdir, StackID+".template.json"))
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
// environment variables, turning a panic into an error. The CloudFormation
// validator costs about 4 s a synth, so only the shared synth runs it.
func synthesize(outdir string, overrides map[string]any, validate bool) (stack awscdk.Stack, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx, err := cliContext(overrides)
	if err != nil {
		return nil, err
	}
	app, stack, err := NewApp(&awscdk.AppProps{
		Context:                         &ctx,
		Outdir:                          &outdir,
		BuiltinCloudFormationValidation: jsii.Bool(validate),
	}, noEnv)
	if err != nil {
		return nil, err
	}
	app.Synth(nil)
	return stack, nil
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
	file      string
	overrides map[string]any // nil: the shared synth
}{
	{StackID + ".template.json", nil},
	{StackID + "-adot.template.json", map[string]any{keyCollector: "adot"}},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			got := synth.template
			if g.overrides != nil {
				got, _ = variant(t, g.overrides)
			}
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
	if _, err := synthesize(outdir, nil, false); err != nil {
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
	_, tmpl := variant(t, map[string]any{
		keyServiceName:           "orders",
		keyInsightsEnabled:       "true",
		keyInsightsNotifications: true,
		keySamplingRuleFile:      writeFile(t, `{"SamplingRule": {"Priority": 10, "FixedRate": 0.5}, "Tags": [{"Key": "team", "Value": "web"}]}`),
	})
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
