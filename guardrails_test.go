package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracedtask"
)

// nagFindings returns every unsuppressed cdk-nag error and warning on the
// stack, as "path: message" lines.
func nagFindings(stack awscdk.Stack) []string {
	annotations := assertions.Annotations_FromStack(stack)
	pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))
	var out []string
	for _, found := range []*[]*cxapi.SynthesisMessage{
		annotations.FindError(jsii.String("*"), pattern),
		annotations.FindWarning(jsii.String("*"), pattern),
	} {
		for _, m := range *found {
			out = append(out, *m.Id+": "+firstLine(m.Entry.Data))
		}
	}
	return out
}

func firstLine(v any) string {
	s, _, _ := strings.Cut(strings.TrimSpace(jsonString(v)), "\n")
	return s
}

func jsonString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestNagFindsNothing(t *testing.T) {
	if findings := nagFindings(synth.stack); len(findings) > 0 {
		t.Fatalf("cdk-nag AwsSolutions findings:\n%s", strings.Join(findings, "\n"))
	}
}

// TestNagCatchesAnOverBroadGrant shows the nag check is not blind: s3:* on *
// added to the task role is an unsuppressed cdk-nag error, which fails
// `cdk synth`. (The synth here keeps error annotations out of aws-cdk-lib's
// validation report, which would otherwise fail it in-process and print the
// whole report; the annotations themselves are what the CLI acts on.)
func TestNagCatchesAnOverBroadGrant(t *testing.T) {
	ctx, err := cliContext(map[string]any{"@aws-cdk/core:annotationsInValidationReport": false})
	if err != nil {
		t.Fatal(err)
	}
	outdir := t.TempDir()
	app, stack, err := NewApp(&awscdk.AppProps{Context: &ctx, Outdir: &outdir, BuiltinCloudFormationValidation: jsii.Bool(false)}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	task, ok := stack.Node().FindChild(jsii.String("Task")).(*tracedtask.TracedTask)
	if !ok {
		t.Fatal("no traced task at Cruddur/Task")
	}
	task.TaskRole().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:*"),
		Resources: jsii.Strings("*"),
	}))
	app.Synth(nil)
	findings := strings.Join(nagFindings(stack), "\n")
	if !strings.Contains(findings, "AwsSolutions-IAM5[Action::s3:*]") {
		t.Fatalf("cdk-nag did not report s3:* on the task role; findings:\n%s", findings)
	}
}

// cfnGuard is the cfn-guard binary that @cdklabs/cdk-validator-cfnguard
// ships, with the AWS Control Tower proactive controls as its rules.
func cfnGuard(t *testing.T) (binary, rules string) {
	t.Helper()
	pkg := filepath.Join("node_modules", "@cdklabs", "cdk-validator-cfnguard")
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	osDir := map[string]string{"linux": "ubuntu", "darwin": "macos"}[runtime.GOOS]
	binary = filepath.Join(pkg, "bin", osDir, arch, "cfn-guard")
	if _, err := os.Stat(binary); err != nil {
		t.Fatalf("cfn-guard not found (%v): run `npm ci`, as `make test` does", err)
	}
	return binary, filepath.Join(pkg, "rules", "control-tower", "cfn-guard", "ecs")
}

func guard(t *testing.T, template []byte) (string, error) {
	t.Helper()
	binary, rules := cfnGuard(t)
	path := filepath.Join(t.TempDir(), "template.json")
	if err := os.WriteFile(path, template, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "validate", "--rules", rules, "--data", path, "--show-summary", "fail").CombinedOutput()
	return string(out), err
}

// TestECSControlTowerControls runs AWS Control Tower's proactive controls for
// ECS (CT.ECS.PR.1 to 12: non-root users, read-only root filesystems, no
// privileged containers, logging, memory limits, no AWS keys in the
// environment, awsvpc, ...) with cfn-guard on the template.
func TestECSControlTowerControls(t *testing.T) {
	if out, err := guard(t, synth.template); err != nil {
		t.Fatalf("cfn-guard: %v\n%s", err, out)
	}

	// And it is not blind: a privileged container with a writable root
	// filesystem fails it.
	bad := bytes.Replace(synth.template, []byte(`"ReadonlyRootFilesystem": true`), []byte(`"Privileged": true`), 1)
	if bytes.Equal(bad, synth.template) {
		t.Fatal("the template has no ReadonlyRootFilesystem to replace")
	}
	if out, err := guard(t, bad); err == nil {
		t.Fatalf("cfn-guard passed a privileged container:\n%s", out)
	}
}

// TestTemplateIsMachineIndependent looks for what would differ between
// machines: absolute paths of this checkout, the temp folder, the home folder.
func TestTemplateIsMachineIndependent(t *testing.T) {
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	for _, p := range []string{wd, os.TempDir(), home, synth.outdir} {
		if p != "" && p != "/" && bytes.Contains(synth.template, []byte(p)) {
			t.Errorf("the template contains the machine path %s", p)
		}
	}
}

// TestBadInputEndsTheSynth runs the app as `cdk synth` does (context in
// CDK_CONTEXT_JSON, output to CDK_OUTDIR) over an outdir that holds an
// earlier, complete assembly: each bad input must exit 1 with one line that
// names it, and leave no assembly behind. Every row of the bad-input table
// goes through the same path (LoadConfig's error to main's exit) and is
// checked word for word in-process by config_test.go; this checks the
// command's behaviour for a rule file, a context value and a pair of them.
func TestBadInputEndsTheSynth(t *testing.T) {
	cases := []struct {
		name     string
		override map[string]any
		want     string
	}{
		{"rule file out of range", map[string]any{keySamplingRuleFile: writeFile(t, `{"SamplingRule": {"Priority": 0}}`)},
			"SamplingRule.Priority: 0 is outside 1..9999"},
		{"service name a filter cannot hold", map[string]any{keyServiceName: `a"b`},
			`context cruddur:serviceName: "a\"b" contains '"'`},
		{"Fargate size", map[string]any{keyTaskCPU: "256", keyTaskMemoryMiB: "4096"},
			"context cruddur:taskCpu/cruddur:taskMemoryMiB: 4096 MiB is not a Fargate memory size for 256 CPU units"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // separate processes: no shared jsii runtime
			ctx, err := cliContext(tc.override)
			if err != nil {
				t.Fatal(err)
			}
			ctxJSON, _ := json.Marshal(ctx)
			outdir := t.TempDir()
			copyAssembly(t, synth.outdir, outdir)

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), runAsAppEnv+"=1", "CDK_CONTEXT_JSON="+string(ctxJSON), "CDK_OUTDIR="+outdir)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()

			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit code %d (%v), want 1", code, err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "cruddur: ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q, want one line with %q", stderr.String(), tc.want)
			}
			for _, name := range []string{"manifest.json", StackID + ".template.json", StackID + ".assets.json"} {
				if _, err := os.Stat(filepath.Join(outdir, name)); err == nil {
					t.Errorf("the failed synth left %s in the outdir", name)
				}
			}
		})
	}
}

// copyAssembly copies the files of a cloud assembly (not its asset folders).
func copyAssembly(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
