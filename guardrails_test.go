package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/tracedtask"
)

// nagFindings returns every cdk-nag error and warning left unsuppressed in
// a synthesized cloud assembly, on any of its stacks, as "path: message"
// lines. It reads the assembly with aws-cdk-lib's own reader: assertions'
// Annotations_FromStack would synthesize the whole app again.
func nagFindings(assembly cxapi.CloudAssembly) []string {
	var out []string
	for _, stack := range *assembly.Stacks() {
		for _, m := range *stack.Messages() {
			if m.Level != cxapi.SynthesisMessageLevel_ERROR && m.Level != cxapi.SynthesisMessageLevel_WARNING {
				continue
			}
			if line := firstLine(m.Entry.Data); strings.Contains(line, "AwsSolutions-") {
				out = append(out, *m.Id+": "+line)
			}
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
	// The default stack and every variant beside it in the shared app.
	if findings := nagFindings(cxapi.NewCloudAssembly(&synth.outdir, nil)); len(findings) > 0 {
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
	findings := strings.Join(nagFindings(app.Synth(nil)), "\n")
	if !strings.Contains(findings, "AwsSolutions-IAM5[Action::s3:*]") {
		t.Fatalf("cdk-nag did not report s3:* on the task role; findings:\n%s", findings)
	}
}

// guardPasses fails the test unless cfn-guard passed a template.
func guardPasses(t *testing.T, what string, r commandResult) {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.code != 0 {
		t.Errorf("cfn-guard on %s: exit %d\n%s%s", what, r.code, r.stdout, r.stderr)
	}
}

// TestECSControlTowerControls runs AWS Control Tower's proactive controls for
// ECS (CT.ECS.PR.1 to 12: non-root users, read-only root filesystems, no
// privileged containers, logging, memory limits, no AWS keys in the
// environment, awsvpc, ...) with cfn-guard on the template.
func TestECSControlTowerControls(t *testing.T) {
	guardPasses(t, "the default template", background.guardDefault.wait())

	// And it is not blind: a privileged container with a writable root
	// filesystem fails it.
	if privileged(synth.template) == nil {
		t.Fatal("the template has no ReadonlyRootFilesystem to replace")
	}
	r := background.guardPrivileged.wait()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.code == 0 {
		t.Fatalf("cfn-guard passed a privileged container:\n%s", r.stdout)
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

// TestBadInputEndsTheSynth checks what the synth command does with bad
// input, over an outdir that holds an earlier, complete assembly: exit 1
// with one line that names the input, and no assembly left behind. Every
// row of the bad-input table goes through the same path (LoadConfig's error
// to main's exit) and is checked word for word by config_test.go; here the
// app runs once as a process, as `cdk synth` runs it, and three rows run
// through run, what main calls, in this process.
func TestBadInputEndsTheSynth(t *testing.T) {
	t.Run("as a process", func(t *testing.T) {
		r := background.appWithBadInput.wait()
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.code != 1 {
			t.Errorf("exit code %d, want 1", r.code)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if want := "SamplingRule.Priority: 0 is outside 1..9999"; len(lines) != 1 || !strings.HasPrefix(lines[0], "cruddur: ") || !strings.Contains(lines[0], want) {
			t.Errorf("stderr %q, want one line with %q", r.stderr, want)
		}
		noAssemblyLeft(t, r.dir)
	})

	cases := []struct {
		name     string
		override map[string]any
		want     string
	}{
		{"rule file out of range", map[string]any{keySamplingRuleFile: writeFile(t, badInputRuleFile)},
			"SamplingRule.Priority: 0 is outside 1..9999"},
		{"service name a filter cannot hold", map[string]any{keyServiceName: `a"b`},
			`context cruddur:serviceName: "a\"b" contains '"'`},
		{"Fargate size", map[string]any{keyTaskCPU: "256", keyTaskMemoryMiB: "4096"},
			"context cruddur:taskCpu/cruddur:taskMemoryMiB: 4096 MiB is not a Fargate memory size for 256 CPU units"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := cliContext(tc.override)
			if err != nil {
				t.Fatal(err)
			}
			outdir := filepath.Join(t.TempDir(), "cdk.out")
			if err := earlierAssembly(outdir); err != nil {
				t.Fatal(err)
			}
			err = run(&awscdk.AppProps{Context: &ctx, Outdir: &outdir, BuiltinCloudFormationValidation: jsii.Bool(false)}, noEnv)
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one line with %q", err, tc.want)
			}
			noAssemblyLeft(t, outdir)
		})
	}
}

func noAssemblyLeft(t *testing.T, outdir string) {
	t.Helper()
	for _, name := range assemblyFiles {
		if _, err := os.Stat(filepath.Join(outdir, name)); err == nil {
			t.Errorf("the failed synth left %s in the outdir", name)
		}
	}
}
