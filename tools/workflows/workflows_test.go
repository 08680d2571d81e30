package workflows

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

const dir = "../../.github/workflows"

func parse(t *testing.T, name string) (*actionlint.Workflow, []byte) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	w, errs := actionlint.Parse(src)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", name, errs[0])
	}
	return w, src
}

func mayMintToken(p *actionlint.Permissions) bool {
	if p == nil {
		return false
	}
	if p.All != nil && p.All.Value == "write-all" {
		return true
	}
	s, ok := p.Scopes["id-token"]
	return ok && s.Value.Value == "write"
}

// TestOnlyTheDeployJobMayMintTheToken: no workflow grants id-token at its
// top, and in the deploy workflow only the deploy job has it, after the
// tests passed in a job without it.
func TestOnlyTheDeployJobMayMintTheToken(t *testing.T) {
	for _, name := range []string{"deploy.yml", "pull-request.yml"} {
		w, _ := parse(t, name)
		if mayMintToken(w.Permissions) || w.Permissions == nil {
			t.Errorf("%s: the workflow's own permissions must be set and grant no id-token", name)
		}
		for id, job := range w.Jobs {
			if job.Permissions == nil && w.Permissions == nil {
				t.Errorf("%s: job %s inherits default permissions", name, id)
			}
			if mayMintToken(job.Permissions) && (name != "deploy.yml" || id != "deploy") {
				t.Errorf("%s: job %s may mint the OIDC token", name, id)
			}
		}
	}
	w, _ := parse(t, "deploy.yml")
	deploy, test := w.Jobs["deploy"], w.Jobs["test"]
	if deploy == nil || test == nil || !mayMintToken(deploy.Permissions) {
		t.Fatal("deploy.yml needs a test job and a deploy job with id-token: write")
	}
	if len(deploy.Needs) != 1 || deploy.Needs[0].Value != "test" {
		t.Errorf("the deploy job runs after %v; want after test", deploy.Needs)
	}
	for _, s := range deploy.Steps {
		if run, ok := s.Exec.(*actionlint.ExecRun); ok && run.Run != nil && strings.Contains(run.Run.Value, "npm ci") && !strings.Contains(run.Run.Value, "--ignore-scripts") {
			t.Errorf("the deploy job runs %q: install scripts would run where the token can be minted", run.Run.Value)
		}
	}
}

var pinned = regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40}$`)

// TestActionsArePinnedByCommit: every action is pinned by a full commit SHA
// with its release in a comment, and checkout keeps no credentials.
func TestActionsArePinnedByCommit(t *testing.T) {
	for _, name := range []string{"deploy.yml", "pull-request.yml"} {
		w, src := parse(t, name)
		lines := strings.Split(string(src), "\n")
		for id, job := range w.Jobs {
			for _, s := range job.Steps {
				a, ok := s.Exec.(*actionlint.ExecAction)
				if !ok {
					continue
				}
				uses := a.Uses.Value
				if !pinned.MatchString(uses) {
					t.Errorf("%s: job %s uses %s, not pinned by a full commit SHA", name, id, uses)
				}
				line := lines[a.Uses.Pos.Line-1]
				if !regexp.MustCompile(regexp.QuoteMeta(uses) + ` # v\d+\.\d+\.\d+$`).MatchString(line) {
					t.Errorf("%s:%d: %q lacks its release as a comment (# vX.Y.Z)", name, a.Uses.Pos.Line, strings.TrimSpace(line))
				}
				if strings.HasPrefix(uses, "actions/checkout@") {
					if in := a.Inputs["persist-credentials"]; in == nil || in.Value.Value != "false" {
						t.Errorf("%s: job %s checks out with credentials kept in .git/config", name, id)
					}
				}
			}
		}
	}
}
