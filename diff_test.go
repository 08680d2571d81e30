package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// templateDiff is what `node tools/templatediff/diff.mjs base head` prints
// and its exit code, from the diff server; allow is ALLOW_DESTRUCTIVE=1.
func templateDiff(t *testing.T, base, head []byte, allow bool) (string, int) {
	t.Helper()
	basePath, headPath := writeTemplates(t, t.TempDir(), base, head)
	env := map[string]string{}
	if allow {
		env["ALLOW_DESTRUCTIVE"] = "1"
	}
	r := background.diffs.run([]string{basePath, headPath}, env)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
	return r.stdout, r.code
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

// writeTemplates writes two templates into dir, for diff.mjs to read.
func writeTemplates(t *testing.T, dir string, base, head []byte) (basePath, headPath string) {
	t.Helper()
	basePath, headPath = filepath.Join(dir, "base.json"), filepath.Join(dir, "head.json")
	if err := os.WriteFile(basePath, base, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(headPath, head, 0o644); err != nil {
		t.Fatal(err)
	}
	return basePath, headPath
}

// TestDiffCommand checks the command's own options: --allow-destructive
// lets the renamed group through and --markdown writes the pull request's
// comment, which says so; bad usage exits 2.
func TestDiffCommand(t *testing.T) {
	head, err := renameGroup(synth.template)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, headPath := writeTemplates(t, dir, synth.template, head)
	comment := filepath.Join(dir, "comment.md")
	r := background.diffs.run([]string{base, headPath, "--allow-destructive", "--markdown", comment}, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "Destructive changes, allowed on purpose:") {
		t.Fatalf("exit %d, want 0 with the allowed replacement:\n%s%s", r.code, r.stdout, r.stderr)
	}
	md, err := os.ReadFile(comment)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!-- cruddur-cdk-diff -->", "2 resource(s) changed. **Destructive changes allowed** by label:", "AWS::XRay::Group GroupC77FDACD (Cruddur/Group/Resource) would be replaced", "```diff"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the comment lacks %q:\n%s", want, md)
		}
	}

	for _, args := range [][]string{{base}, {base, headPath, "--markdown"}, {base, headPath, "--json"}, {base, filepath.Join(dir, "missing.json")}} {
		r := background.diffs.run(args, nil)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "templatediff: ") || !strings.Contains(r.stderr, "usage: node diff.mjs") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and the usage", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestDiffOfIdenticalTemplates(t *testing.T) {
	out, code := templateDiff(t, synth.template, synth.template, false)
	if code != 0 || !strings.Contains(out, "There were no differences.") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
