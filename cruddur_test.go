package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/internal/synth"
	"github.com/cruddur/tracing/stack"
	"github.com/cruddur/tracing/stack/stages"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/ from this run's synths (make golden)")

var (
	production  = stages.Production.StackName
	development = stages.Development.StackName
)

// otherCollectors are the collectors but the default one, which the app as
// it is runs. TestMain sets them (and so apps and goldens): LoadConfig's
// checks call into jsii, which a run of the app as a subcommand must not
// start.
var otherCollectors []string

// The app as `cdk synth` runs it, every stage a stack of it, synthesized
// once per configuration with aws-cdk-lib's validator and cdk-nag, into a
// temporary folder each: as it is, with each other collector (by its
// name), and with a name that is not ASCII. The stack's behaviour is tested
// in stack/; here, the app as a whole.
var apps map[string]*app

func newApps() map[string]*app {
	apps := map[string]*app{
		"default": {},
		// A name X-Ray takes that is not ASCII: every place it reaches
		// must hold it (an IAM role's description once could not).
		"unicode": {overrides: map[string]any{stack.KeyServiceName: "Crüddür服务", stack.KeySamplingRuleFile: "testdata/unicode-rule.json"}},
	}
	for _, c := range otherCollectors {
		apps[c] = &app{overrides: map[string]any{stack.KeyCollector: c}}
	}
	return apps
}

// app is one configuration of the app and its synth.
type app struct {
	overrides map[string]any
	outdir    string
	templates map[string][]byte // by stack name
}

// goldens are the checked-in templates: each stage's stack and its access
// stack, of the app as it is, and production's with each other collector.
var goldens []golden

// golden is one checked-in template: an app's stack, in testdata/file.
type golden struct{ app, stack, file string }

func newGoldens() []golden {
	var out []golden
	for _, c := range otherCollectors {
		out = append(out, golden{c, production, production + "-" + c + ".template.json"})
	}
	for _, s := range stages.All {
		for _, name := range []string{s.StackName, s.AccessStackName()} {
			out = append(out, golden{"default", name, name + ".template.json"})
		}
	}
	return out
}

// runAsAppEnv makes the test binary run the app's main instead of the
// tests, so a test can run the synth command as the CLI does without
// building a second 100 MB binary.
const runAsAppEnv = "CRUDDUR_TEST_RUN_APP"

func TestMain(m *testing.M) {
	if os.Getenv(runAsAppEnv) == "1" {
		main()
		os.Exit(0)
	}
	flag.Parse()
	os.Exit(func() int {
		defer jsii.Close()
		cfg, err := stack.LoadConfig(stages.Production, nil, noEnv)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		otherCollectors = slices.DeleteFunc(slices.Clone(stack.Collectors), func(c string) bool { return c == cfg.Collector })
		apps, goldens = newApps(), newGoldens()
		dir, err := os.MkdirTemp("", "cruddur-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		for name, a := range apps {
			a.outdir = filepath.Join(dir, name)
			if a.templates, err = synthesize(a.outdir, a.overrides); err != nil {
				fmt.Fprintf(os.Stderr, "synthesizing the %s app: %v\n", name, err)
				return 1
			}
		}
		return m.Run()
	}())
}

// cliContext is the context `cdk synth` gives the app: cdk.context.json's
// (what lookups wrote, which a team commits), cdk.json's over it, as the CLI
// merges them (cdk.json wins), plus the keys the CLI adds itself (seen in
// CDK_CONTEXT_JSON of CLI 2.1148), so that a test's template is byte for
// byte the one `cdk synth` writes, for a stage pinned to its account and
// region too.
func cliContext(overrides map[string]any) (map[string]any, error) {
	ctx := map[string]any{}
	if data, err := os.ReadFile("cdk.context.json"); err == nil {
		if err := json.Unmarshal(data, &ctx); err != nil {
			return nil, fmt.Errorf("cdk.context.json: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	data, err := os.ReadFile("cdk.json")
	if err != nil {
		return nil, err
	}
	var cdkJSON struct{ Context map[string]any }
	if err := json.Unmarshal(data, &cdkJSON); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	maps.Copy(ctx, cdkJSON.Context)
	ctx["aws:cdk:enable-path-metadata"] = true
	ctx["aws:cdk:enable-asset-metadata"] = true
	ctx["aws:cdk:version-reporting"] = false // cdk.json: "versionReporting": false
	ctx["aws:cdk:bundling-stacks"] = []any{"**"}
	// The CLI reads the validation report itself, so it tells aws-cdk-lib
	// not to fail the synth on it.
	ctx["@aws-cdk/core:failSynthOnValidationErrors"] = false
	maps.Copy(ctx, overrides)
	return ctx, nil
}

// synthesize runs the app, validated, into outdir and returns its templates,
// by stack name: each stage's and its access stack's.
func synthesize(outdir string, overrides map[string]any) (map[string][]byte, error) {
	ctx, err := cliContext(overrides)
	if err != nil {
		return nil, err
	}
	if err := run(&awscdk.AppProps{Context: &ctx, Outdir: &outdir, BuiltinCloudFormationValidation: jsii.Bool(true)}, noEnv); err != nil {
		return nil, err
	}
	templates := map[string][]byte{}
	for _, stage := range stages.All {
		for _, name := range []string{stage.StackName, stage.AccessStackName()} {
			if templates[name], err = os.ReadFile(filepath.Join(outdir, name+".template.json")); err != nil {
				return nil, err
			}
		}
	}
	return templates, nil
}

func noEnv(string) string { return "" }

// TestGolden compares each synth with its checked-in template: a backstop
// for what no named test covers. Rewrite them on purpose with make golden,
// which also removes a template no synth writes any more (a stage or
// collector gone, another collector the default), and which Control
// Tower's checks would otherwise go on reading.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.template.json"))
	for _, path := range files {
		if slices.ContainsFunc(goldens, func(g golden) bool { return g.file == filepath.Base(path) }) {
			continue
		}
		if !*update {
			t.Errorf("%s is no synth's golden; make golden removes it", path)
		} else if err := os.Remove(path); err != nil {
			t.Fatal(err)
		} else {
			t.Logf("removed %s", path)
		}
	}
	for _, g := range goldens {
		got, path := apps[g.app].templates[g.stack], filepath.Join("testdata", g.file)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", path)
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (make golden writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("stack %s of the %s synth differs from %s; if that is intended, review it with `make diff-golden` and rewrite it with `make golden`", g.stack, g.app, path)
		}
	}
}

func TestSynthIsDeterministic(t *testing.T) {
	again, err := synthesize(filepath.Join(t.TempDir(), "cdk.out"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, template := range again {
		if !bytes.Equal(template, apps["default"].templates[name]) {
			t.Errorf("two synths of the same app differ in stack %s", name)
		}
	}
}

// TestTemplateIsMachineIndependent looks for what would differ between
// machines: absolute paths of this checkout, of the synth's output folder
// (a temporary folder of this run), home. (Not /tmp itself: a container's
// path, such as the CloudWatch agent's writable /tmp, is the image's.)
func TestTemplateIsMachineIndependent(t *testing.T) {
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	for _, p := range []string{wd, apps["default"].outdir, home} {
		for name, template := range apps["default"].templates {
			if p != "" && p != "/" && bytes.Contains(template, []byte(p)) {
				t.Errorf("the %s template contains the machine path %s", name, p)
			}
		}
	}
}

func TestValidatorFindsNothing(t *testing.T) {
	for name, a := range apps {
		data, err := os.ReadFile(filepath.Join(a.outdir, "validation-report.json"))
		if err != nil {
			t.Fatalf("%s: aws-cdk-lib's CloudFormation validator did not run: %v", name, err)
		}
		violations, err := synth.ParseReport(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range violations {
			t.Errorf("%s: %s: a violation: %+v", name, v.Plugin, v)
		}
	}
}

// nagFindings returns every cdk-nag error and warning (AwsSolutions; NIST
// 800-53 rev. 5 in production) left unsuppressed in
// a synthesized cloud assembly, read with aws-cdk-lib's own reader.
func nagFindings(outdir string) []string {
	var out []string
	for _, m := range synth.Messages(outdir, cxapi.SynthesisMessageLevel_ERROR, cxapi.SynthesisMessageLevel_WARNING) {
		if _, line, _ := strings.Cut(m, ": "); strings.Contains(line, "AwsSolutions-") || strings.Contains(line, "NIST.800.53.R5-") {
			out = append(out, m)
		}
	}
	return out
}

func TestNagFindsNothing(t *testing.T) {
	for name, a := range apps {
		if findings := nagFindings(a.outdir); len(findings) > 0 {
			t.Errorf("%s: cdk-nag findings:\n%s", name, strings.Join(findings, "\n"))
		}
	}
	// A stage whose posture asks for NIST 800-53 ran that pack too, and only
	// such a stage: its report is there, another's is not.
	for _, stage := range stages.All {
		_, err := os.Stat(filepath.Join(apps["default"].outdir, "NIST.800.53.R5--"+stage.StackName+"-NagReport.csv"))
		if stage.Posture.NIST != (err == nil) {
			t.Errorf("stage %s: NIST 800-53 report: %v", stage.Name, err)
		}
	}
}

// TestNagCatchesAnOverBroadGrant shows the nag check is not blind: s3:* on *
// added to the task role is an unsuppressed finding. (Annotations stay out of
// the validation report here, which would otherwise fail the synth at once
// and print the whole report; the annotations are what the CLI acts on.)
func TestNagCatchesAnOverBroadGrant(t *testing.T) {
	ctx, err := cliContext(map[string]any{"@aws-cdk/core:annotationsInValidationReport": false})
	if err != nil {
		t.Fatal(err)
	}
	outdir := filepath.Join(t.TempDir(), "cdk.out")
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: &outdir, BuiltinCloudFormationValidation: jsii.Bool(false)})
	cfg, err := stack.LoadConfig(stages.Development, ctx, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	s := stack.New(app, development, stack.PropsFor(cfg))
	task := s.Node().FindChild(jsii.String("Task")).(awsecs.FargateTaskDefinition)
	task.AddToTaskRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("s3:*"), Resources: jsii.Strings("*")}))
	app.Synth(nil)
	if findings := strings.Join(nagFindings(outdir), "\n"); !strings.Contains(findings, "AwsSolutions-IAM5") || !strings.Contains(findings, "s3:*") {
		t.Fatalf("cdk-nag did not flag s3:* on *:\n%s", findings)
	}
	// And the app would keep that assembly out of the output folder.
	if err := synth.Errors(outdir); err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "AwsSolutions-IAM5") {
		t.Errorf("synth.Errors: %v; want one line naming AwsSolutions-IAM5", err)
	}
}

// TestSwitchingTheCollectorChangesOnlyTheTask: moving from the default
// collector to each other one replaces the task definitions, and nothing
// else.
func TestSwitchingTheCollectorChangesOnlyTheTask(t *testing.T) {
	if len(otherCollectors) != len(stack.Collectors)-1 {
		t.Fatalf("other collectors %v of %v", otherCollectors, stack.Collectors)
	}
	for _, other := range otherCollectors {
		for _, name := range []string{production, development} {
			if changed, ok := onlyTheTasksDiffer(t, apps["default"].templates[name], apps[other].templates[name]); !ok {
				t.Errorf("%s, stack %s: switching the collector changed %v", other, name, changed)
			}
		}
	}
}

// onlyTheTasksDiffer compares two templates resource by resource: ok when
// they have the same resources and some differ, all task definitions.
func onlyTheTasksDiffer(t *testing.T, before, after []byte) (changed []string, ok bool) {
	t.Helper()
	var a, b struct{ Resources map[string]json.RawMessage }
	if err := json.Unmarshal(before, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(after, &b); err != nil {
		t.Fatal(err)
	}
	ok = len(a.Resources) == len(b.Resources)
	for id, r := range a.Resources {
		if bytes.Equal(r, b.Resources[id]) {
			continue
		}
		changed = append(changed, id)
		var typed struct{ Type string }
		json.Unmarshal(r, &typed)
		// One task definition per traced service, and nothing else.
		ok = ok && typed.Type == "AWS::ECS::TaskDefinition"
	}
	return changed, ok && len(changed) > 0
}

// assemblyFiles are an earlier run's cloud assembly.
var assemblyFiles = []string{"manifest.json", "tree.json",
	production + ".template.json", production + ".assets.json", development + ".template.json", development + ".assets.json"}

// earlierAssembly puts an earlier run's assembly into outdir.
func earlierAssembly(t *testing.T, outdir string) {
	t.Helper()
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range assemblyFiles {
		if err := os.WriteFile(filepath.Join(outdir, name), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// noAssemblyLeft: outdir holds no manifest.json, which is what makes a
// folder a cloud assembly to the CLI (`--app cdk.out`) and aws-cdk-lib's
// reader; templates without it are read by nothing.
func noAssemblyLeft(t *testing.T, outdir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(outdir, "manifest.json")); err == nil {
		t.Error("the failed synth left a manifest.json in the outdir")
	}
}

// TestBadInputIsOneLine: whichever layer finds the mistake (LoadConfig, a
// construct's panic, aws-cdk-lib's validator), run returns one line that
// names it, and leaves no assembly over the earlier one.
// singletonInBothStages turns Transaction Search on for every stage, each
// pinned to one account and region (with a certificate there), whatever
// stages.go pins.
func singletonInBothStages() map[string]any {
	ctx := map[string]any{"cruddur:transactionSearch": "true"}
	for _, s := range stages.All {
		ctx["cruddur:"+s.StackName+":account"] = "111122223333"
		ctx["cruddur:"+s.StackName+":region"] = "us-east-1"
		if s.Posture.HTTPSOnly {
			ctx["cruddur:"+s.StackName+":certificateArn"] = "arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"
		}
	}
	return ctx
}

func TestBadInputIsOneLine(t *testing.T) {
	cases := []struct {
		name     string
		override map[string]any
		validate bool
		want     string
	}{
		{"config", map[string]any{stack.KeyServiceName: `a"b`}, false,
			`context cruddur:serviceName: "a\"b" contains '"'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"a construct's check, run before the construct", map[string]any{stack.KeyAppPort: "2000", stack.KeyCollector: "xray-daemon"}, false,
			"context cruddur:appPort: port 2000 is the X-Ray daemon's; expected the app on another port"},
		// Both stages read a key for all stages: where they may share an
		// account and region, the account-wide setting would be made twice.
		{"an account's singleton in two stages", singletonInBothStages(), false,
			"context cruddur:transactionSearch: true in stages " + stages.All[0].Name + " and " + stages.All[1].Name + ", which may share an account and region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := cliContext(tc.override)
			if err != nil {
				t.Fatal(err)
			}
			outdir := filepath.Join(t.TempDir(), "cdk.out")
			earlierAssembly(t, outdir)
			err = run(&awscdk.AppProps{Context: &ctx, Outdir: &outdir, BuiltinCloudFormationValidation: jsii.Bool(tc.validate)}, noEnv)
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want one line starting %q", err, tc.want)
			}
			noAssemblyLeft(t, outdir)
		})
	}
}

// TestAServiceNameThatPassesSynthesizes: the unicode app was synthesized and
// validated in TestMain; its name reached the group and the traces.
func TestAServiceNameThatPassesSynthesizes(t *testing.T) {
	for _, want := range []string{
		regexp.QuoteMeta(`"FilterExpression": "service(\"Crüddür服务\")"`),
		`"Name": "AWS_XRAY_TRACING_NAME",\s*"Value": "Crüddür服务"`,
	} {
		if !regexp.MustCompile(want).Match(apps["unicode"].templates[production]) {
			t.Errorf("the template lacks %s", want)
		}
	}
}

// TestASignalLeavesNoAssembly stops the app, run as the CLI runs it, with
// SIGTERM while jsii synthesizes, over an earlier assembly: exit 143, the
// message on a line of its own, no assembly, and nothing of jsii's left in
// TMPDIR. (internal/synth's tests show the mechanism, that the synth's
// child processes are gone before the process ends, on both signals.)
func TestASignalLeavesNoAssembly(t *testing.T) {
	ctx, err := cliContext(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Parallel() // a process of its own
	outdir := filepath.Join(t.TempDir(), "cdk.out")
	earlierAssembly(t, outdir)
	cmd := appCommand(t, ctx, outdir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// jsii's kernel unpacks the first library into a folder of its own,
	// in TMPDIR or a folder there, at the app's first construct, inside
	// the guarded run: then the synth is under way (the whole synth, with
	// the validator, takes over ten seconds).
	tmp := appTemp(cmd)
	for deadline := time.Now().Add(time.Minute); !unpacking(tmp); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the synth's jsii kernel did not unpack a library within a minute")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 143 {
		t.Errorf("exit %v, want 143", err)
	}
	if !slices.Contains(strings.Split(stderr.String(), "\n"), "stopped by terminated") {
		t.Errorf("stderr %q; want the line %q", stderr.String(), "stopped by terminated")
	}
	noAssemblyLeft(t, outdir)
	nothingLeftInTemp(t, cmd)
}

// unpacking says whether jsii's kernel has a folder in tmp, or in a folder
// there.
func unpacking(tmp string) bool {
	top, _ := filepath.Glob(filepath.Join(tmp, "jsii-kernel-*"))
	below, _ := filepath.Glob(filepath.Join(tmp, "*", "jsii-kernel-*"))
	return len(top)+len(below) > 0
}

// TestBadInputEndsTheProcess runs the app as the CLI does, with bad input:
// exit 1, one line on stderr naming the key, no Go stack trace, nothing
// left in TMPDIR.
func TestBadInputEndsTheProcess(t *testing.T) {
	t.Parallel() // processes of its own; no jsii object
	ctx, err := cliContext(map[string]any{stack.KeyTaskMemoryMiB: "4096"})
	if err != nil {
		t.Fatal(err)
	}
	outdir := filepath.Join(t.TempDir(), "cdk.out")
	earlierAssembly(t, outdir)
	cmd := appCommand(t, ctx, outdir)
	stderr, ours, err := runApp(cmd)
	want := "cruddur: context cruddur:taskCpu/cruddur:taskMemoryMiB: 4096 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024 or 2048 MiB\n"
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || len(ours) != 1 || ours[0] != want {
		t.Errorf("exit %v, stderr %q; want exit 1 and %q", err, stderr, want)
	}
	noAssemblyLeft(t, outdir)
	nothingLeftInTemp(t, cmd)
}

// runApp runs the app as the CLI does (appCommand), and returns its
// stderr, the lines of it that are the app's own, and how it exited: on a
// Node that jsii no longer supports (the machine's Node 20, under a plain
// go test), jsii prints a boxed banner, every line of it starting with "!!".
func runApp(cmd *exec.Cmd) (stderr string, ours []string, err error) {
	var buf bytes.Buffer
	cmd.Stderr = &buf
	err = cmd.Run()
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "!!") {
			ours = append(ours, line)
		}
	}
	return buf.String(), ours, err
}

// appCommand is the app's synth as the CLI runs it, in a process of its own
// (this test binary, run as main): ctx as its context, outdir its output.
func appCommand(t *testing.T, ctx map[string]any, outdir string) *exec.Cmd {
	t.Helper()
	ctxJSON, err := json.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), runAsAppEnv+"=1", "CDK_OUTDIR="+outdir, "CDK_CONTEXT_JSON="+string(ctxJSON), "TMPDIR="+t.TempDir())
	return cmd
}

// appTemp is the TMPDIR of an app's command (appCommand): a folder of its
// own, the environment's last entry.
func appTemp(cmd *exec.Cmd) string { return strings.TrimPrefix(cmd.Env[len(cmd.Env)-1], "TMPDIR=") }

// nothingLeftInTemp fails t if the app that cmd ran left anything in its
// TMPDIR: jsii's runtime, its kernel's unpacked libraries, their tarballs.
func nothingLeftInTemp(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if left, err := os.ReadDir(appTemp(cmd)); err != nil || len(left) > 0 {
		t.Errorf("the app left %v in TMPDIR (%v)", left, err)
	}
}

// TestEveryStageIsAStack: the app's assembly (what `cdk list` reads) holds
// two stacks for each stage, named as the stage says (its own and its access
// stack), and nothing else.
func TestEveryStageIsAStack(t *testing.T) {
	manifest := readManifest(t, apps["default"].outdir)
	var got, want []string
	for _, a := range manifest.Artifacts {
		if a.Type == "aws:cloudformation:stack" {
			got = append(got, a.DisplayName)
		}
	}
	for _, s := range stages.All {
		want = append(want, s.StackName, s.AccessStackName())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the app's stacks are %v; want two per stage, %v", got, want)
	}
}

// assemblyManifest is the part of a cloud assembly's manifest.json these
// tests read.
type assemblyManifest struct {
	Artifacts map[string]struct {
		Type, DisplayName string
		Dependencies      []string
		Properties        struct {
			AssumeRoleArn string
			LookupRole    struct{ Arn string }
			File          string
		}
	}
}

func readManifest(t *testing.T, outdir string) assemblyManifest {
	t.Helper()
	var m assemblyManifest
	data, err := os.ReadFile(filepath.Join(outdir, "manifest.json"))
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTheDeployRoleMayAssumeExactlyTheRolesTheManifestNames: for each
// stage, the roles the CDK CLI assumes to deploy its stack, as the cloud
// assembly names them (the stack's deploy and lookup roles, the publishing
// role of every asset destination), are exactly the roles its access
// stack's deploy role may assume.
func TestTheDeployRoleMayAssumeExactlyTheRolesTheManifestNames(t *testing.T) {
	outdir := apps["default"].outdir
	m := readManifest(t, outdir)
	for _, s := range stages.All {
		named := map[string]bool{}
		stack := m.Artifacts[s.StackName].Properties
		named[stack.AssumeRoleArn], named[stack.LookupRole.Arn] = true, true
		var assets struct {
			Files, DockerImages map[string]struct {
				Destinations map[string]struct{ AssumeRoleArn string }
			}
		}
		data, err := os.ReadFile(filepath.Join(outdir, m.Artifacts[s.StackName+".assets"].Properties.File))
		if err == nil {
			err = json.Unmarshal(data, &assets)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, asset := range append(slices.Collect(maps.Values(assets.Files)), slices.Collect(maps.Values(assets.DockerImages))...) {
			for _, d := range asset.Destinations {
				named[d.AssumeRoleArn] = true
			}
		}
		var template struct {
			Resources map[string]struct {
				Type       string
				Properties struct {
					Roles          []struct{ Ref string }
					PolicyDocument struct {
						Statement []struct {
							Action   string
							Resource any
						}
					}
				}
			}
		}
		if err := json.Unmarshal(apps["default"].templates[s.AccessStackName()], &template); err != nil {
			t.Fatal(err)
		}
		may := map[string]bool{}
		for _, r := range template.Resources {
			if r.Type != "AWS::IAM::Policy" || len(r.Properties.Roles) != 1 || !strings.HasPrefix(r.Properties.Roles[0].Ref, "Deploy") {
				continue
			}
			for _, st := range r.Properties.PolicyDocument.Statement {
				resources, ok := st.Resource.([]any)
				if !ok {
					resources = []any{st.Resource}
				}
				for _, res := range resources {
					arn, _ := res.(map[string]any)["Fn::Sub"].(string)
					// The access stack deploys to the stage's account
					// and region; the manifest names them where the
					// stage is pinned to them.
					if s.Account != "" {
						arn = strings.ReplaceAll(arn, "${AWS::AccountId}", s.Account)
					}
					if s.Region != "" {
						arn = strings.ReplaceAll(arn, "${AWS::Region}", s.Region)
					}
					may[st.Action+" "+arn] = true
				}
			}
		}
		var want []string
		for arn := range named {
			want = append(want, "sts:AssumeRole "+arn)
		}
		got := slices.Sorted(maps.Keys(may))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("stage %s: the deploy role may\n%s\nthe manifest names\n%s", s.Name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestEachAccountsProviderIsCreatedOnce: GitHub's OIDC provider, which IAM
// keeps once per account, is created by the first access stack of each
// account; every other one in that account takes it and deploys after it.
func TestEachAccountsProviderIsCreatedOnce(t *testing.T) {
	m := readManifest(t, apps["default"].outdir)
	creator := map[string]string{} // account -> the access stack that creates its provider
	for _, s := range stages.All {
		var template struct {
			Resources map[string]struct{ Type string }
		}
		if err := json.Unmarshal(apps["default"].templates[s.AccessStackName()], &template); err != nil {
			t.Fatal(err)
		}
		creates := false
		for _, r := range template.Resources {
			creates = creates || r.Type == "AWS::IAM::OIDCProvider"
		}
		first, taken := creator[s.Account]
		switch {
		case !taken && !creates:
			t.Errorf("%s is the first access stack of account %q but does not create GitHub's provider", s.AccessStackName(), s.Account)
		case taken && creates:
			t.Errorf("%s creates GitHub's provider, which %s creates in account %q already", s.AccessStackName(), first, s.Account)
		case taken && !slices.Contains(m.Artifacts[s.AccessStackName()].Dependencies, first):
			t.Errorf("%s takes the provider %s creates but does not deploy after it: %v", s.AccessStackName(), first, m.Artifacts[s.AccessStackName()].Dependencies)
		}
		if !taken {
			creator[s.Account] = s.AccessStackName()
		}
	}
}

// TestTheDeployCheck runs `cruddur deployable STACK` as the deploy path
// does, for every stage and its access stack as stages.go has them now
// (placeholders or filled in):
// one the check refuses exits 1 with its one line, one it passes exits 0;
// an unknown stack and bad usage are refused too; none leaves anything in
// TMPDIR.
func TestTheDeployCheck(t *testing.T) {
	t.Parallel() // processes of its own; no jsii object
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// An unknown stack is refused with stages.ByStackName's line, which
	// its own test checks.
	_, _, unknown := stages.ByStackName("Cruddur-Nowhere")
	type want struct {
		args           []string
		code           int
		stdout, stderr string
	}
	cases := []want{
		{[]string{"deployable", "Cruddur-Nowhere"}, 1, "", "cruddur: " + unknown.Error() + "\n"},
		{[]string{"deploy"}, 2, "", "usage: cruddur deployable STACK (run with no arguments, by the CDK CLI, it synthesizes every stage)\n"},
	}
	for _, s := range stages.All {
		c := want{args: []string{"deployable", s.StackName}}
		if err := s.Deployable(); err != nil {
			c.code, c.stderr = 1, "cruddur: "+err.Error()+"\n"
		} else {
			c.stdout = fmt.Sprintf("stage %s (stack %s) has every value it needs to deploy\n", s.Name, s.StackName)
		}
		a := want{args: []string{"deployable", s.AccessStackName()}}
		if err := s.AccessDeployable(); err != nil {
			a.code, a.stderr = 1, "cruddur: "+err.Error()+"\n"
		} else {
			a.stdout = fmt.Sprintf("the access stack %s of stage %s has every value it needs to deploy\n", s.AccessStackName(), s.Name)
		}
		cases = append(cases, c, a)
	}
	for _, tc := range cases {
		cmd := exec.Command(self, tc.args...)
		cmd.Env = append(os.Environ(), runAsAppEnv+"=1", "TMPDIR="+t.TempDir())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("cruddur %v: exit %d, stdout %q, stderr %q; want exit %d, %q and %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
		nothingLeftInTemp(t, cmd)
	}
}

// TestAFindingLeavesNoAssemblyUnderPlainCdkSynth runs the app as `cdk synth`
// does (the CLI's context: aws-cdk-lib reports the validator's findings
// instead of failing the synth), over an earlier good assembly and its
// validation report, with a rule that aws-cdk-lib's validator refuses: one
// line naming the finding, no manifest or template left, and the report left
// is this synth's. It runs in this process, on the synth main runs: a second
// process would pay jsii's start and the validator's load again (about 5 s),
// and main's part, exit 1 with that line, is TestBadInputEndsTheProcess's.
func TestAFindingLeavesNoAssemblyUnderPlainCdkSynth(t *testing.T) {
	badRule := filepath.Join(t.TempDir(), "rule.json")
	if err := os.WriteFile(badRule, []byte(`{"SamplingRule": {"RuleName": "Cruddur", "Priority": 0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, err := cliContext(map[string]any{stack.KeySamplingRuleFile: badRule})
	if err != nil {
		t.Fatal(err)
	}
	outdir := filepath.Join(t.TempDir(), "cdk.out")
	earlierAssembly(t, outdir)
	if err := os.WriteFile(filepath.Join(outdir, "validation-report.json"), []byte(`{"earlier": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(&awscdk.AppProps{Context: &ctx, Outdir: &outdir, BuiltinCloudFormationValidation: jsii.Bool(true)}, noEnv)
	want := fmt.Sprintf("the synth found %d errors, so no assembly is written; the first: ", len(stages.All)) // the rule in every stage
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), want) ||
		!strings.Contains(err.Error(), "SamplingRule.Priority: 0 is less than the minimum of 1") {
		t.Errorf("error %q; want one line starting %q naming the rule's priority", err, want)
	}
	noAssemblyLeft(t, outdir)
	if report, err := os.ReadFile(filepath.Join(outdir, "validation-report.json")); err != nil || bytes.Contains(report, []byte("earlier")) {
		t.Errorf("the validation report left is %.60q (%v); want this synth's", report, err)
	}
}

// TestTheLayoutInTheDesignIsTheTree: docs/design.md's layout lists what the
// repository holds: every path it names exists, and every folder of the
// tree (and each folder under constructs/, stack/ and tools/) is named.
func TestTheLayoutInTheDesignIsTheTree(t *testing.T) {
	doc, err := os.ReadFile("docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(doc), "```\n")
	block, _, _ = strings.Cut(block, "```")
	listed := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(line, " ") {
			listed[strings.TrimSuffix(f[0], "/")] = true
			if _, err := os.Stat(f[0]); err != nil {
				t.Errorf("docs/design.md lists %s: %v", f[0], err)
			}
		}
	}
	out, err := exec.Command("git", "ls-files").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err) // not a checkout
	}
	covered := func(path string) bool {
		for l := range listed {
			if path == l || strings.HasPrefix(path, l+"/") {
				return true
			}
		}
		return false
	}
	reported := map[string]bool{}
	for _, file := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(file, "/")
		if len(parts) < 2 || strings.HasPrefix(parts[0], ".") {
			continue
		}
		dir := parts[0]
		if slices.Contains([]string{"constructs", "stack", "tools"}, dir) && len(parts) > 2 {
			dir += "/" + parts[1] // each of these folders by name
		}
		if (!covered(file) || !listed[dir] && dir != parts[0]) && !reported[dir] {
			t.Errorf("docs/design.md's layout does not name %s/ (it holds %s)", dir, file)
			reported[dir] = true
		}
	}
}

// TestTheImageBuildsFromItsContext builds the backend as its Dockerfile's
// build stage would, from what `cdk deploy` would send Docker: the image
// asset as the synth staged it (the folder after .dockerignore), with only
// what the stage's COPY lines take, and `go build .` there. No Docker
// engine is needed, and a package the context or a COPY leaves out (an
// internal package, a new folder) fails here instead of in the first deploy.
func TestTheImageBuildsFromItsContext(t *testing.T) {
	t.Parallel() // processes of its own; no jsii object
	outdir := apps["default"].outdir
	data, err := os.ReadFile(filepath.Join(outdir, production+".assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var assets struct {
		DockerImages map[string]struct{ Source struct{ Directory string } }
	}
	if err := json.Unmarshal(data, &assets); err != nil {
		t.Fatal(err)
	}
	if len(assets.DockerImages) != 1 {
		t.Fatalf("%d image assets; want the backend's only", len(assets.DockerImages))
	}
	var context string
	for _, image := range assets.DockerImages {
		context = filepath.Join(outdir, image.Source.Directory)
	}
	dockerfile, err := os.ReadFile(filepath.Join(context, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	workdir := t.TempDir()
	stages := 0
	for _, line := range strings.Split(string(dockerfile), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "FROM":
			stages++
		case stages == 1 && len(f) >= 3 && f[0] == "COPY" && !strings.HasPrefix(f[1], "--"):
			if f[len(f)-1] != "./" {
				t.Fatalf("Dockerfile: %q copies into %s; this test follows COPY into the WORKDIR (./) only", line, f[len(f)-1])
			}
			for _, src := range f[1 : len(f)-1] {
				copyInto(t, context, src, workdir)
			}
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", os.DevNull, ".")
	cmd.Dir = workdir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the image's build stage would fail: go build in what its COPY lines take from the staged context: %v\n%s", err, out)
	}
}

// TestTheImageBuildKeepsGosCaches: every RUN of the backend's Dockerfile
// that downloads modules or builds mounts the module cache (and the build,
// the build cache) as BuildKit cache mounts, so a rebuild on one machine
// fetches and compiles only what changed.
func TestTheImageBuildKeepsGosCaches(t *testing.T) {
	data, err := os.ReadFile("backend/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Continuation lines joined, as Docker reads them.
	steps := strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n")
	found := 0
	for _, step := range steps {
		if !strings.HasPrefix(step, "RUN ") || !strings.Contains(step, "go mod download") && !strings.Contains(step, "go build") {
			continue
		}
		found++
		if !strings.Contains(step, "--mount=type=cache,target=/go/pkg/mod") {
			t.Errorf("Dockerfile: %q downloads modules without the module cache mount", step)
		}
		if strings.Contains(step, "go build") && !strings.Contains(step, "--mount=type=cache,target=/root/.cache/go-build") {
			t.Errorf("Dockerfile: %q builds without the build cache mount", step)
		}
	}
	if found != 2 {
		t.Errorf("%d RUN steps download or build; want the download and the build", found)
	}
}

// copyInto copies what a Dockerfile's `COPY src ./` takes from context
// into dst: src is a path or a pattern of the context's top level (as
// Docker matches it), or "." for the whole context.
func copyInto(t *testing.T, context, src, dst string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(context, src))
	if err != nil || len(matches) == 0 {
		t.Fatalf("Dockerfile: COPY %s matches nothing in the staged context (%v)", src, err)
	}
	for _, m := range matches {
		// A folder's contents land in dst (Docker's COPY dir ./), a
		// file as itself; later COPY lines overwrite earlier ones.
		root := filepath.Dir(m)
		if info, err := os.Stat(m); err == nil && info.IsDir() {
			root = m
		}
		err := filepath.WalkDir(m, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			data, err := os.ReadFile(path)
			if err == nil {
				err = os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(dst, rel), data, 0o644)
			}
			return err
		})
		if err != nil {
			t.Fatalf("COPY %s: %v", src, err)
		}
	}
}

// TestTheDesignListsEachConstructsExports: docs/design.md's "(exported:
// ...)" list of each construct package is the package's exported top-level
// names, read from its source: a name added, renamed or unexported without
// the doc fails here.
func TestTheDesignListsEachConstructsExports(t *testing.T) {
	doc, err := os.ReadFile("docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob("constructs/*")
	if len(dirs) == 0 {
		t.Fatal("no construct packages")
	}
	for _, dir := range dirs {
		var listed []string
		if _, rest, ok := strings.Cut(string(doc), "**`"+dir+"`** (exported: "); ok {
			list, _, _ := strings.Cut(rest, ")")
			for _, name := range strings.Split(list, ",") {
				listed = append(listed, strings.Trim(strings.TrimSpace(name), "`"))
			}
		}
		got := exportedNames(t, dir)
		slices.Sort(listed)
		if !slices.Equal(got, listed) {
			t.Errorf("docs/design.md lists %s's exports as %v; the package exports %v", dir, listed, got)
		}
	}
}

// exportedNames are the exported top-level names (functions, types,
// constants, variables; not methods) of the non-test Go files in dir, sorted.
func exportedNames(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var names []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}
