package workflows

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/cruddur/tracing/stack/stages"
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

// deployJobs are the deploy workflow's jobs that deploy a stack (their env
// STACK), by job id, with the stack each deploys.
func deployJobs(w *actionlint.Workflow) map[string]string {
	out := map[string]string{}
	for id, job := range w.Jobs {
		if job.Env != nil {
			if v, ok := job.Env.Vars["stack"]; ok && v.Value != nil {
				out[id] = v.Value.Value
			}
		}
	}
	return out
}

// workflows are the workflow files, by name.
var workflows = []string{"deploy.yml", "pull-request.yml", "deployed-diff.yml"}

// TestOnlyTheDeployAndDiffJobsMayMintTheToken: no workflow grants id-token at
// its top; every job that may mint it names a GitHub environment; in the
// deploy workflow only the deploy jobs have it, after the tests passed in a
// job without it; in the deployed diff (workflow_run: the default branch's
// code) only its diff jobs, in <stage>-diff environments; the pull request's
// own workflow, which runs the pull request's code, never.
func TestOnlyTheDeployAndDiffJobsMayMintTheToken(t *testing.T) {
	may := map[string]map[string]string{} // workflow -> job -> stack
	for _, name := range workflows {
		w, _ := parse(t, name)
		may[name] = map[string]string{}
		if name != "pull-request.yml" {
			may[name] = deployJobs(w)
		}
		if mayMintToken(w.Permissions) || w.Permissions == nil {
			t.Errorf("%s: the workflow's own permissions must be set and grant no id-token", name)
		}
		for id, job := range w.Jobs {
			if job.Permissions == nil && w.Permissions == nil {
				t.Errorf("%s: job %s inherits default permissions", name, id)
			}
			_, allowed := may[name][id]
			if !mayMintToken(job.Permissions) {
				continue
			}
			if !allowed {
				t.Errorf("%s: job %s may mint the OIDC token", name, id)
			}
			if job.Environment == nil || job.Environment.Name == nil || job.Environment.Name.Value == "" {
				t.Errorf("%s: job %s may mint the OIDC token outside a GitHub environment", name, id)
			}
			for _, s := range job.Steps {
				if run, ok := s.Exec.(*actionlint.ExecRun); ok && run.Run != nil && strings.Contains(run.Run.Value, "npm ci") && !strings.Contains(run.Run.Value, "--ignore-scripts") {
					t.Errorf("%s: job %s runs %q: install scripts would run where the token can be minted", name, id, run.Run.Value)
				}
			}
		}
	}
	// Every workflow file is one of those checked here.
	files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if len(files) != len(workflows) {
		t.Errorf("the workflows are %v; this test checks %v", files, workflows)
	}
	w, _ := parse(t, "deployed-diff.yml")
	if w.On == nil || len(w.On) != 1 || w.On[0].EventName() != "workflow_run" {
		t.Error("deployed-diff.yml must run on workflow_run only, so it runs the default branch's code")
	}
	for _, s := range stages.All {
		found := false
		for id, stack := range may["deployed-diff.yml"] {
			job := w.Jobs[id]
			if stack == s.StackName && job.Environment != nil && job.Environment.Name != nil && job.Environment.Name.Value == s.Name+"-diff" {
				found = true
			}
		}
		if !found {
			t.Errorf("deployed-diff.yml: no job diffs stage %s (stack %s) in the environment %s-diff", s.Name, s.StackName, s.Name)
		}
	}
	if len(may["deployed-diff.yml"]) != len(stages.All) {
		t.Errorf("deployed-diff.yml diffs %d stacks; want one job per stage (%d)", len(may["deployed-diff.yml"]), len(stages.All))
	}
	w, _ = parse(t, "deploy.yml")
	deploys := may["deploy.yml"]
	if w.Jobs["test"] == nil || mayMintToken(w.Jobs["test"].Permissions) || len(deploys) == 0 {
		t.Fatal("deploy.yml needs a test job without id-token, and deploy jobs")
	}
	for id := range deploys {
		job := w.Jobs[id]
		if !mayMintToken(job.Permissions) {
			t.Errorf("job %s deploys without id-token: write", id)
		}
		checked := false
		for _, s := range job.Steps {
			if run, ok := s.Exec.(*actionlint.ExecRun); ok && run.Run != nil {
				checked = checked || strings.Contains(run.Run.Value, `cruddur deployable "$STACK"`)
			}
			if a, ok := s.Exec.(*actionlint.ExecAction); ok && strings.HasPrefix(a.Uses.Value, "aws-actions/configure-aws-credentials@") && !checked {
				t.Errorf("job %s asks for AWS credentials before it runs `cruddur deployable \"$STACK\"`", id)
			}
		}
	}
}

// TestTheDeployJobsAreTheAppsStages: the deploy workflow deploys every stage
// of the app (stack/stages), each in one job, in the GitHub environment of
// the stage's name, in the app's order (the first after the tests, each
// next after the one before), and deploys no stack the app does not define.
func TestTheDeployJobsAreTheAppsStages(t *testing.T) {
	w, _ := parse(t, "deploy.yml")
	deploys := deployJobs(w)
	for _, problem := range stagesAgainstJobs(w, deploys, stages.All) {
		t.Error(problem)
	}
}

// stagesAgainstJobs lists where the workflow's deploy jobs and the app's
// stages disagree.
func stagesAgainstJobs(w *actionlint.Workflow, deploys map[string]string, all []stages.Stage) []string {
	var problems []string
	jobOf := map[string]string{} // stack -> job id
	for id, stack := range deploys {
		if other, dup := jobOf[stack]; dup {
			problems = append(problems, "jobs "+other+" and "+id+" both deploy "+stack)
		}
		jobOf[stack] = id
		if _, err := stages.ByStackName(stack); err != nil {
			problems = append(problems, "job "+id+": "+err.Error())
		}
	}
	previous := "test"
	for _, s := range all {
		id, ok := jobOf[s.StackName]
		if !ok {
			problems = append(problems, "stage "+s.Name+" (stack "+s.StackName+") has no deploy job")
			continue
		}
		job := w.Jobs[id]
		if job.Environment == nil || job.Environment.Name == nil || job.Environment.Name.Value != s.Name {
			problems = append(problems, "job "+id+" deploys stage "+s.Name+" outside the GitHub environment "+s.Name)
		}
		if len(job.Needs) != 1 || job.Needs[0].Value != previous {
			var needs []string
			for _, n := range job.Needs {
				needs = append(needs, n.Value)
			}
			problems = append(problems, "job "+id+" runs after "+strings.Join(needs, ", ")+"; want after "+previous+", in the stages' order")
		}
		previous = id
	}
	return problems
}

// TestTheStageCheckIsNotBlind: the comparison above finds a stage without a
// job, a job for a stack the app lacks, a job outside its environment and
// the stages out of order.
func TestTheStageCheckIsNotBlind(t *testing.T) {
	w, _ := parse(t, "deploy.yml")
	deploys := deployJobs(w)
	staging := stages.Stage{Name: "staging", StackName: "Cruddur-Staging"}
	reversed := []stages.Stage{stages.All[len(stages.All)-1], stages.All[0]}
	extra := map[string]string{"deploy-staging": "Cruddur-Staging"}
	for id, s := range deploys {
		extra[id] = s
	}
	w.Jobs["deploy-staging"] = &actionlint.Job{Needs: []*actionlint.String{{Value: "test"}}}
	for _, tc := range []struct {
		name    string
		deploys map[string]string
		stages  []stages.Stage
		want    string
	}{
		{"a stage without a job", deploys, append(slices.Clone(stages.All), staging), "stage staging (stack Cruddur-Staging) has no deploy job"},
		{"a job for a stack the app lacks", extra, stages.All, `job deploy-staging: no stage deploys as stack "Cruddur-Staging"`},
		{"the stages out of order", deploys, reversed, "; want after test, in the stages' order"},
	} {
		if got := strings.Join(stagesAgainstJobs(w, tc.deploys, tc.stages), "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q; want %q", tc.name, got, tc.want)
		}
	}
	for id := range deploys {
		w.Jobs[id].Environment = nil
		if got := strings.Join(stagesAgainstJobs(w, deploys, stages.All), "\n"); !strings.Contains(got, "outside the GitHub environment") {
			t.Errorf("a job without its environment: %q", got)
		}
		break
	}
}

var pinned = regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40}$`)

// TestActionsArePinnedByCommit: every action is pinned by a full commit SHA
// with its release in a comment, and checkout keeps no credentials.
func TestActionsArePinnedByCommit(t *testing.T) {
	for _, name := range workflows {
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

// TestEveryJobThatRunsMakeTestInstallsThePythonToolsFirst: GitHub's runners
// have neither cfn-lint nor moto, which make test needs, so a job that runs
// it first sets up Python with pip's cache keyed on the pinned versions and
// runs `make python-tools` (tools/python), as a fresh machine would.
func TestEveryJobThatRunsMakeTestInstallsThePythonToolsFirst(t *testing.T) {
	runs := 0
	for _, name := range workflows {
		w, _ := parse(t, name)
		for id, job := range w.Jobs {
			if problem := pythonToolsBeforeMakeTest(job); problem != "" {
				t.Errorf("%s: job %s %s", name, id, problem)
			}
			for _, s := range job.Steps {
				if run, ok := s.Exec.(*actionlint.ExecRun); ok && run.Run != nil && strings.Contains(run.Run.Value, "make test") {
					runs++
				}
			}
		}
	}
	if runs < 2 {
		t.Errorf("%d jobs run make test; want the deploy workflow's and the pull request's", runs)
	}
	// Not blind: a job that runs make test straight away is found.
	bare := &actionlint.Job{Steps: []*actionlint.Step{{Exec: &actionlint.ExecRun{Run: &actionlint.String{Value: "make test"}}}}}
	if pythonToolsBeforeMakeTest(bare) == "" {
		t.Error("a job that runs make test with no Python tools passes the check")
	}
}

// pythonToolsBeforeMakeTest says what is missing before a job's `make test`:
// actions/setup-python with pip's cache on tools/python/requirements.txt,
// then `make python-tools`; "" when nothing is, or the job runs no make test.
func pythonToolsBeforeMakeTest(job *actionlint.Job) string {
	python, tools := false, false
	for _, s := range job.Steps {
		if a, ok := s.Exec.(*actionlint.ExecAction); ok && strings.HasPrefix(a.Uses.Value, "actions/setup-python@") {
			cache, dep := a.Inputs["cache"], a.Inputs["cache-dependency-path"]
			python = cache != nil && cache.Value.Value == "pip" && dep != nil && dep.Value.Value == "tools/python/requirements.txt"
		}
		run, ok := s.Exec.(*actionlint.ExecRun)
		if !ok || run.Run == nil {
			continue
		}
		if strings.Contains(run.Run.Value, "make python-tools") {
			tools = python
		}
		if strings.Contains(run.Run.Value, "make test") && !tools {
			return "runs make test before actions/setup-python (cache: pip, cache-dependency-path: tools/python/requirements.txt) and `make python-tools`"
		}
	}
	return ""
}
