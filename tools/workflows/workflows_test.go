package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
var workflows = []string{"deploy.yml", "pull-request.yml", "pull-request-diff.yml", "deployed-diff.yml", "mutants.yml"}

// TestOnlyTheDeployAndDiffJobsMayMintTheToken: no workflow grants id-token at
// its top; every job that may mint it names a GitHub environment; in the
// deploy workflow only the deploy jobs have it, after the tests passed in a
// job without it; in the deployed diff (workflow_run: the default branch's
// code) only its diff jobs, in <stage>-diff environments; the pull request's
// own workflow, which runs the pull request's code, never; nor the weekly
// mutation sweep.
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

// The stage lists the workflows run their stage jobs over: the job
// listStages, whose step listStep writes the app's stages (main) to its
// output, which the stage job's matrix takes as its row "stage".
const (
	listStages = "stages"
	listStep   = "stages=$(go run ./tools/workflows)\necho \"stages=$stages\" >> \"$GITHUB_OUTPUT\"\n"
	stageRow   = "${{ fromJSON(needs.stages.outputs.stages) }}"
)

// stageJobProblems says where a workflow's stage job (the one job with an
// env STACK) does not run once for each of the app's stages: its matrix is
// the list the job listStages prints, its STACK and GitHub environment the
// stage's own (environment: the list's field naming it). ordered: in the
// list's order, one stage at a time, after the tests, a failure stopping
// the stages after it.
func stageJobProblems(name string, w *actionlint.Workflow, environment string, ordered bool) []string {
	jobs := deployJobs(w)
	if len(jobs) != 1 {
		return []string{fmt.Sprintf("%s: %d jobs have an env STACK; want one, run over the app's stages", name, len(jobs))}
	}
	var problems []string
	for id, stack := range jobs {
		job := w.Jobs[id]
		bad := func(format string, args ...any) {
			problems = append(problems, name+": job "+id+" "+fmt.Sprintf(format, args...))
		}
		if stack != "${{ matrix.stage.stack }}" {
			bad("deploys STACK %q; want ${{ matrix.stage.stack }}", stack)
		}
		if want := "${{ matrix.stage." + environment + " }}"; job.Environment == nil || job.Environment.Name == nil || job.Environment.Name.Value != want {
			bad("runs outside its stage's GitHub environment; want environment: %s", want)
		}
		var m *actionlint.Matrix
		if job.Strategy != nil {
			m = job.Strategy.Matrix
		}
		if m == nil || len(m.Rows) != 1 || m.Rows["stage"] == nil || m.Rows["stage"].Expression == nil || m.Rows["stage"].Expression.Value != stageRow || m.Include != nil || m.Exclude != nil {
			bad("does not run over the app's stages; want the one matrix row stage: %s", stageRow)
		}
		var needs []string
		for _, n := range job.Needs {
			needs = append(needs, n.Value)
		}
		want := []string{listStages}
		if ordered {
			want = append(want, "test") // a deploy waits for the tests
		}
		for _, w := range want {
			if !slices.Contains(needs, w) {
				bad("needs %v; want %s among them", needs, strings.Join(want, " and "))
				break
			}
		}
		if ordered && (m == nil || job.Strategy.MaxParallel == nil || job.Strategy.MaxParallel.Value != 1 || job.Strategy.FailFast == nil || !job.Strategy.FailFast.Value) {
			bad("may run stages side by side, or go on after one fails; want max-parallel: 1 and fail-fast: true")
		}
	}
	list := w.Jobs[listStages]
	if list == nil || list.Outputs["stages"] == nil || list.Outputs["stages"].Value.Value != "${{ steps.list.outputs.stages }}" || !slices.ContainsFunc(list.Steps, func(s *actionlint.Step) bool {
		run, ok := s.Exec.(*actionlint.ExecRun)
		return ok && s.ID != nil && s.ID.Value == "list" && run.Run != nil && run.Run.Value == listStep
	}) {
		problems = append(problems, name+": no job "+listStages+" outputs the app's stages (a step list that runs "+strconv.Quote(listStep)+")")
	}
	return problems
}

// TestTheStageJobsRunOverTheAppsStages: the deploy workflow deploys every
// stage of the app (stack/stages), each in the GitHub environment of the
// stage's name, in the app's order, one at a time, after the tests; the
// deployed diff diffs every stage in its <stage>-diff environment. Neither
// lists a stage of its own.
func TestTheStageJobsRunOverTheAppsStages(t *testing.T) {
	for _, tc := range []struct {
		name, environment string
		ordered           bool
	}{{"deploy.yml", "name", true}, {"deployed-diff.yml", "diffEnvironment", false}} {
		w, _ := parse(t, tc.name)
		for _, p := range stageJobProblems(tc.name, w, tc.environment, tc.ordered) {
			t.Error(p)
		}
	}
}

// TestTheStageCheckIsNotBlind: stageJobProblems finds a stage list written
// into the workflow, a job outside its stage's environment, stages deployed
// side by side or past a failure, a deploy that does not wait for the
// tests, and a second stage job.
func TestTheStageCheckIsNotBlind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(w *actionlint.Workflow, job *actionlint.Job)
		want   string
	}{
		{"the stages listed in the workflow", func(_ *actionlint.Workflow, job *actionlint.Job) {
			job.Strategy.Matrix.Rows["stage"].Expression = nil
		}, "does not run over the app's stages"},
		{"a fixed environment", func(_ *actionlint.Workflow, job *actionlint.Job) {
			job.Environment.Name.Value = "production"
		}, "runs outside its stage's GitHub environment"},
		{"stages side by side", func(_ *actionlint.Workflow, job *actionlint.Job) { job.Strategy.MaxParallel = nil }, "may run stages side by side"},
		{"on past a failure", func(_ *actionlint.Workflow, job *actionlint.Job) { job.Strategy.FailFast.Value = false }, "go on after one fails"},
		{"a deploy that does not wait for the tests", func(_ *actionlint.Workflow, job *actionlint.Job) { job.Needs = job.Needs[1:] }, "want stages and test"},
		{"no stage list", func(w *actionlint.Workflow, _ *actionlint.Job) { delete(w.Jobs, listStages) }, "no job stages outputs the app's stages"},
		{"a second stage job", func(w *actionlint.Workflow, job *actionlint.Job) { w.Jobs["deploy-canary"] = job }, "2 jobs have an env STACK"},
	} {
		w, _ := parse(t, "deploy.yml")
		tc.change(w, w.Jobs["deploy"])
		if got := strings.Join(stageJobProblems("deploy.yml", w, "name", true), "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q; want %q", tc.name, got, tc.want)
		}
	}
}

// TestTheStageListIsTheApps: go run ./tools/workflows lists every stage of
// the app, in its order, with its stack and its environments, and every
// field of it that a workflow reads (matrix.stage.<field>) is one it
// writes.
func TestTheStageListIsTheApps(t *testing.T) {
	data, err := json.Marshal(matrix(stages.All))
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]string
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != len(stages.All) {
		t.Fatalf("%d stages listed; the app has %d", len(list), len(stages.All))
	}
	for i, s := range stages.All {
		want := map[string]string{"name": s.Name, "stack": s.StackName, "diffEnvironment": s.DiffEnvironment()}
		if !maps.Equal(list[i], want) {
			t.Errorf("stage %d listed as %v; want %v", i, list[i], want)
		}
	}
	for _, name := range workflows {
		_, src := parse(t, name)
		for _, m := range regexp.MustCompile(`matrix\.stage\.(\w+)`).FindAllStringSubmatch(string(src), -1) {
			if _, ok := list[0][m[1]]; !ok {
				t.Errorf("%s reads matrix.stage.%s, which go run ./tools/workflows does not write", name, m[1])
			}
		}
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

// events are the names of the events a workflow runs on.
func events(w *actionlint.Workflow) []string {
	var out []string
	for _, e := range w.On {
		out = append(out, e.EventName())
	}
	slices.Sort(out)
	return out
}

// runs are a job's shell steps.
func runs(job *actionlint.Job) []string {
	var out []string
	for _, s := range job.Steps {
		if run, ok := s.Exec.(*actionlint.ExecRun); ok && run.Run != nil {
			out = append(out, run.Run.Value)
		}
	}
	return out
}

// action is the job's steps that use an action, by its name (before @).
func action(job *actionlint.Job, name string) []*actionlint.ExecAction {
	var out []*actionlint.ExecAction
	for _, s := range job.Steps {
		if a, ok := s.Exec.(*actionlint.ExecAction); ok && strings.HasPrefix(a.Uses.Value, name+"@") {
			out = append(out, a)
		}
	}
	return out
}

// writes lists the scopes a permissions block grants write on.
func writes(p *actionlint.Permissions) []string {
	if p == nil {
		return nil
	}
	if p.All != nil && p.All.Value != "read-all" && p.All.Value != "{}" {
		return []string{p.All.Value}
	}
	var out []string
	for name, scope := range p.Scopes {
		if scope.Value.Value == "write" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// tokenProblems says where a workflow lets a job mint the OIDC token for code
// other than the default branch's: only in a workflow that runs on a push to
// main and by hand and on nothing else, in a job that runs only from main (a
// manual run may name any branch); or in one that runs on workflow_run only
// (GitHub runs it from the default branch), with the read-only diff role.
func tokenProblems(name string, w *actionlint.Workflow) []string {
	var problems []string
	on := events(w)
	for id, job := range w.Jobs {
		if !mayMintToken(job.Permissions) {
			continue
		}
		var roles []string
		for _, a := range action(job, "aws-actions/configure-aws-credentials") {
			if in := a.Inputs["role-to-assume"]; in != nil {
				roles = append(roles, in.Value.Value)
			}
		}
		switch {
		case slices.Equal(on, []string{"push", "workflow_dispatch"}):
			for _, e := range w.On {
				if push, ok := e.(*actionlint.WebhookEvent); ok && (push.Branches == nil || len(push.Branches.Values) != 1 || push.Branches.Values[0].Value != "main") {
					problems = append(problems, name+": a push to a branch other than main may run job "+id+", which may mint the OIDC token")
				}
			}
			if job.If == nil || !strings.Contains(job.If.Value, "github.ref == 'refs/heads/main'") {
				problems = append(problems, name+": job "+id+" may mint the OIDC token in a manual run from any branch; want if: github.ref == 'refs/heads/main'")
			}
		case slices.Equal(on, []string{"workflow_run"}):
			if !slices.Equal(roles, []string{"${{ vars.AWS_DIFF_ROLE_ARN }}"}) {
				problems = append(problems, name+": job "+id+" runs after another workflow and assumes "+strings.Join(roles, ", ")+"; want only the read-only ${{ vars.AWS_DIFF_ROLE_ARN }}")
			}
		default:
			problems = append(problems, name+": job "+id+" may mint the OIDC token on "+strings.Join(on, ", ")+"; want a push to main and manual runs from main, or workflow_run")
		}
	}
	return problems
}

// TestATokenIsMintedOnlyForTheDefaultBranchsCode: every job that may mint
// the OIDC token runs the default branch's code (tokenProblems), and the
// check is not blind to a deploy job that a pull request or any branch's
// manual run could start.
func TestATokenIsMintedOnlyForTheDefaultBranchsCode(t *testing.T) {
	for _, name := range workflows {
		w, _ := parse(t, name)
		for _, p := range tokenProblems(name, w) {
			t.Error(p)
		}
		if slices.Contains(events(w), "pull_request_target") {
			t.Errorf("%s runs on pull_request_target: the pull request's code beside the base's token", name)
		}
	}
	w, _ := parse(t, "deploy.yml")
	w.On = append(w.On, &actionlint.WebhookEvent{Hook: &actionlint.String{Value: "pull_request"}})
	if got := strings.Join(tokenProblems("deploy.yml", w), "\n"); !strings.Contains(got, "may mint the OIDC token on pull_request, push, workflow_dispatch") {
		t.Errorf("a deploy on pull_request: %q", got)
	}
	w, _ = parse(t, "deploy.yml")
	for _, job := range w.Jobs {
		job.If = nil
	}
	if got := strings.Join(tokenProblems("deploy.yml", w), "\n"); !strings.Contains(got, "in a manual run from any branch") {
		t.Errorf("a deploy job without its branch condition: %q", got)
	}
}

// pullRequestProblems says where a workflow that runs the pull request's
// code could reach more than reading: a write scope at the top or in a job,
// a secret, or npm's install scripts.
func pullRequestProblems(name string, w *actionlint.Workflow, src []byte) []string {
	var problems []string
	if !slices.ContainsFunc(events(w), func(e string) bool { return strings.HasPrefix(e, "pull_request") }) {
		return nil
	}
	if scopes := writes(w.Permissions); len(scopes) > 0 || w.Permissions == nil {
		problems = append(problems, name+": the workflow's token may write "+strings.Join(scopes, ", "))
	}
	if strings.Contains(string(src), "secrets.") {
		problems = append(problems, name+": names a secret")
	}
	for id, job := range w.Jobs {
		if scopes := writes(job.Permissions); len(scopes) > 0 {
			problems = append(problems, name+": job "+id+" may write "+strings.Join(scopes, ", "))
		}
		for _, run := range runs(job) {
			npm := strings.Contains(run, "npm ci") && !strings.Contains(run, "--ignore-scripts")
			mk := regexp.MustCompile(`\bmake (test|synth)\b`).MatchString(run) && !strings.Contains(run, "NPM_CI_FLAGS=--ignore-scripts")
			if npm || mk {
				problems = append(problems, name+": job "+id+" runs "+strconv.Quote(run)+" with npm's install scripts on")
			}
		}
	}
	return problems
}

// TestPullRequestCodeNeverSharesAJobWithAWriteToken: the workflows that run
// a pull request's code read and nothing more (pullRequestProblems), and
// the check finds a comment step's write scope put back.
func TestPullRequestCodeNeverSharesAJobWithAWriteToken(t *testing.T) {
	checked := 0
	for _, name := range workflows {
		w, src := parse(t, name)
		if slices.Contains(events(w), "pull_request") {
			checked++
		}
		for _, p := range pullRequestProblems(name, w, src) {
			t.Error(p)
		}
	}
	if checked == 0 {
		t.Fatal("no workflow runs on pull_request")
	}
	w, src := parse(t, "pull-request.yml")
	for _, job := range w.Jobs {
		job.Permissions.Scopes["pull-requests"] = &actionlint.PermissionScope{Value: &actionlint.String{Value: "write"}}
	}
	if got := strings.Join(pullRequestProblems("pull-request.yml", w, src), "\n"); !strings.Contains(got, "may write pull-requests") {
		t.Errorf("a pull request job with pull-requests: write: %q", got)
	}
}

// TestTheCommentAndVerdictComeFromTheDefaultBranch: the jobs that may write
// to the pull request (its comment, its commit status) run on workflow_run
// of the pull request workflow only, so GitHub runs them from the default
// branch; they check out no other ref, build and run none of the pull
// request's code, take its templates as an artifact, and post through
// tools/templatediff/comment.mjs.
func TestTheCommentAndVerdictComeFromTheDefaultBranch(t *testing.T) {
	posters := 0
	for _, name := range workflows {
		w, _ := parse(t, name)
		for id, job := range w.Jobs {
			scopes := writes(job.Permissions)
			if !slices.Contains(scopes, "pull-requests") && !slices.Contains(scopes, "statuses") && !slices.Contains(scopes, "issues") {
				continue
			}
			posters++
			if !slices.Equal(events(w), []string{"workflow_run"}) || len(w.On[0].(*actionlint.WebhookEvent).Workflows) != 1 || w.On[0].(*actionlint.WebhookEvent).Workflows[0].Value != "pull request" {
				t.Errorf("%s: job %s may write to pull requests on %v; want workflow_run of the pull request workflow only", name, id, events(w))
			}
			for _, c := range action(job, "actions/checkout") {
				if c.Inputs["ref"] != nil || c.Inputs["repository"] != nil {
					t.Errorf("%s: job %s checks out another ref or repository", name, id)
				}
			}
			for _, run := range runs(job) {
				if regexp.MustCompile(`\b(make|go|bash|sh)\b|npm (install|i|run)\b`).MatchString(run) || (strings.Contains(run, "npm ci") && !strings.Contains(run, "--ignore-scripts")) {
					t.Errorf("%s: job %s runs %q beside its write token", name, id, run)
				}
			}
			downloads := action(job, "actions/download-artifact")
			if len(downloads) != 1 || downloads[0].Inputs["run-id"] == nil || downloads[0].Inputs["run-id"].Value.Value != "${{ github.event.workflow_run.id }}" {
				t.Errorf("%s: job %s does not take the run's templates as its artifact", name, id)
			}
			scripts := action(job, "actions/github-script")
			if len(scripts) != 1 || !strings.Contains(scripts[0].Inputs["script"].Value.Value, "/tools/templatediff/comment.mjs`") {
				t.Errorf("%s: job %s does not post through tools/templatediff/comment.mjs", name, id)
			}
		}
	}
	if posters != 1 {
		t.Errorf("%d jobs may write to pull requests; want the one comment job", posters)
	}
}

// TestCodeOwnersReviewTheWorkflowsAndTools: .github/CODEOWNERS names an
// owner for .github/ (the workflows), tools/ (the guard, the comment, the
// rehearsal) and what decides what make test runs, so a branch rule that
// requires code owners' review covers a change to any of them.
func TestCodeOwnersReviewTheWorkflowsAndTools(t *testing.T) {
	data, err := os.ReadFile("../../.github/CODEOWNERS")
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			owners[f[0]] = f[1:]
		}
	}
	for _, path := range []string{"/.github/", "/tools/", "/Makefile", "/.ci/", "/package.json", "/package-lock.json"} {
		if len(owners[path]) == 0 || !strings.HasPrefix(owners[path][0], "@") {
			t.Errorf(".github/CODEOWNERS names no owner for %s", path)
		}
	}
}
