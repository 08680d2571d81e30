package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// templateDiff is what tools/templatediff/diff.mjs prints for two templates,
// and its exit code, from the diff server.
func templateDiff(t *testing.T, base, head []byte, allow bool) (string, int) {
	t.Helper()
	out, code, err := background.diffs.diff(base, head, allow)
	if err != nil {
		t.Fatal(err)
	}
	return out, code
}

func TestDiffOfAFixedRateChange(t *testing.T) {
	out, code := templateDiff(t, synth.template, synth.fixedRate.template, false)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"[~] AWS::XRay::SamplingRule SamplingRuleD4BE07E6", ".FixedRate:", "[-] 0.1", "[+] 0.25", "Resources changed: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the diff does not show %q:\n%s", want, out)
		}
	}
}

// renameGroup is a template after the group's construct id changed from
// Group to TracesGroup: a new logical id, so CloudFormation would delete the
// group and create another.
func renameGroup(template []byte) ([]byte, error) {
	head := bytes.ReplaceAll(template, []byte("GroupC77FDACD"), []byte("TracesGroup5D2E61B4"))
	head = bytes.ReplaceAll(head, []byte("Cruddur/Group/Resource"), []byte("Cruddur/TracesGroup/Resource"))
	if bytes.Equal(head, template) {
		return nil, fmt.Errorf("the template has no GroupC77FDACD to rename")
	}
	return head, nil
}

func TestDiffGuardsARenamedGroup(t *testing.T) {
	head, err := renameGroup(synth.template)
	if err != nil {
		t.Fatal(err)
	}
	out, code := templateDiff(t, synth.template, head, false)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (the guard):\n%s", code, out)
	}
	if !strings.Contains(out, "AWS::XRay::Group GroupC77FDACD (Cruddur/Group/Resource) would be replaced") {
		t.Errorf("the guard does not name the group's replacement:\n%s", out)
	}

	out, code = templateDiff(t, synth.template, head, true)
	if code != 0 || !strings.Contains(out, "allowed on purpose") {
		t.Errorf("allowed: exit %d, want 0:\n%s", code, out)
	}
}

// TestDiffCommand runs diff.mjs as the workflow does: ALLOW_DESTRUCTIVE=1
// from the environment lets the renamed group through, and the comment it
// writes says so.
func TestDiffCommand(t *testing.T) {
	r := background.diffCommand.wait()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "Destructive changes, allowed on purpose:") ||
		!strings.Contains(r.stdout, "AWS::XRay::Group GroupC77FDACD (Cruddur/Group/Resource) would be replaced") {
		t.Fatalf("exit %d, want 0 with the allowed replacement:\n%s%s", r.code, r.stdout, r.stderr)
	}
	comment, err := os.ReadFile(filepath.Join(r.dir, "comment.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!-- cruddur-cdk-diff -->", "**Destructive changes allowed** by label:", "```diff"} {
		if !strings.Contains(string(comment), want) {
			t.Errorf("the comment lacks %q:\n%s", want, comment)
		}
	}
}

func TestDiffOfIdenticalTemplates(t *testing.T) {
	out, code := templateDiff(t, synth.template, synth.template, false)
	if code != 0 || !strings.Contains(out, "There were no differences.") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
