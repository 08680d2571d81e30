package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// templateDiff runs tools/templatediff/diff.mjs on two templates and returns
// its output and exit code.
func templateDiff(t *testing.T, base, head []byte, env ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	basePath, headPath := filepath.Join(dir, "base.json"), filepath.Join(dir, "head.json")
	if err := os.WriteFile(basePath, base, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(headPath, head, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("tools", "templatediff", "diff.mjs"), basePath, headPath)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("running node: %v (is node_modules/.bin on PATH? make test puts it there)", err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func TestDiffOfAFixedRateChange(t *testing.T) {
	seed, err := os.ReadFile("aws/json/xray.json")
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(seed, []byte(`"FixedRate": 0.1`), []byte(`"FixedRate": 0.25`), 1)
	head, _ := variant(t, map[string]any{keySamplingRuleFile: writeFile(t, string(changed))})

	out, code := templateDiff(t, synth.template, head)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"[~] AWS::XRay::SamplingRule SamplingRuleD4BE07E6", ".FixedRate:", "[-] 0.1", "[+] 0.25", "Resources changed: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the diff does not show %q:\n%s", want, out)
		}
	}
}

// renamedGroup is the template after the group's construct id changed from
// Group to TracesGroup: a new logical id, so CloudFormation would delete the
// group and create another.
func renamedGroup(t *testing.T) []byte {
	t.Helper()
	head := bytes.ReplaceAll(synth.template, []byte("GroupC77FDACD"), []byte("TracesGroup5D2E61B4"))
	head = bytes.ReplaceAll(head, []byte("Cruddur/Group/Resource"), []byte("Cruddur/TracesGroup/Resource"))
	if bytes.Equal(head, synth.template) {
		t.Fatal("the template has no GroupC77FDACD to rename")
	}
	return head
}

func TestDiffGuardsARenamedGroup(t *testing.T) {
	t.Parallel() // node processes only: no jsii
	out, code := templateDiff(t, synth.template, renamedGroup(t))
	if code != 3 {
		t.Fatalf("exit %d, want 3 (the guard):\n%s", code, out)
	}
	if !strings.Contains(out, "AWS::XRay::Group GroupC77FDACD (Cruddur/Group/Resource) would be replaced") {
		t.Errorf("the guard does not name the group's replacement:\n%s", out)
	}

	out, code = templateDiff(t, synth.template, renamedGroup(t), "ALLOW_DESTRUCTIVE=1")
	if code != 0 || !strings.Contains(out, "allowed on purpose") {
		t.Errorf("with ALLOW_DESTRUCTIVE=1: exit %d, want 0:\n%s", code, out)
	}
}

func TestDiffOfIdenticalTemplates(t *testing.T) {
	t.Parallel()
	out, code := templateDiff(t, synth.template, synth.template)
	if code != 0 || !strings.Contains(out, "There were no differences.") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
