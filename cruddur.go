// Command cruddur is the CDK app for Cruddur's tracing: for each stage
// (package stack/stages) it reads the configuration, builds the stage's stack
// (package stack), checks it with cdk-nag, and synthesizes them all. Run it
// through the CDK CLI (`make synth`); see README.md.
//
// `cruddur deployable STACK` checks, without synthesizing, that the stage
// deployed as STACK (or whose access stack STACK is) has every value only
// the team knows filled in: exit 0, or
// 1 with one line naming what to fill in. `make deploy` and the deploy
// workflow run it before they ask for AWS credentials.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/stack"
	"github.com/cruddur/tracing/stack/stages"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(command(os.Args[1:]))
	}
	err := run(nil, os.Getenv)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur:", err)
		os.Exit(1)
	}
}

// command runs the app's one command besides synth, `deployable STACK`, and
// returns the exit code.
func command(args []string) int {
	if len(args) != 2 || args[0] != "deployable" {
		fmt.Fprintln(os.Stderr, "usage: cruddur deployable STACK (run with no arguments, by the CDK CLI, it synthesizes every stage)")
		return 2
	}
	stage, access, err := stages.ByStackName(args[1])
	what := fmt.Sprintf("stage %s (stack %s)", stage.Name, stage.StackName)
	switch {
	case err != nil:
	case access:
		err = stage.AccessDeployable()
		what = fmt.Sprintf("the access stack %s of stage %s", stage.AccessStackName(), stage.Name)
	default:
		err = stage.Deployable()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur:", err)
		return 1
	}
	fmt.Printf("%s has every value it needs to deploy\n", what)
	return 0
}

// run synthesizes the app. With nil props the app takes its context and
// output folder from the environment the CDK CLI sets (CDK_CONTEXT_JSON,
// CDK_OUTDIR). A user's mistake comes back as a one-line error, whether
// LoadConfig found it or a construct panicked on it.
//
// No run leaves an assembly that a later step could take for its own: an
// earlier run's is removed first, and the app writes into a staging folder
// beside the output folder, whose files move in (the manifest last) only
// when the synth is complete. SIGINT or SIGTERM meanwhile removes the
// staging folder and ends the process.
func run(props *awscdk.AppProps, getenv func(string) string) (err error) {
	outdir := getenv("CDK_OUTDIR")
	if props != nil && props.Outdir != nil {
		outdir = *props.Outdir
	}
	if outdir == "" {
		return synth(props, getenv)
	}
	removeAssembly(outdir)
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(filepath.Dir(outdir), "."+filepath.Base(outdir)+".staging-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	stopping := make(chan struct{})
	go func() {
		if sig, ok := <-signals; ok {
			// jsii's Node processes may still be writing into staging:
			// they go first, then the folder. The synth fails as they go;
			// this goroutine, not that failure, ends the process.
			close(stopping)
			stopDescendants(5 * time.Second)
			os.RemoveAll(staging)
			fmt.Fprintln(os.Stderr, "cruddur: stopped by", sig)
			os.Exit(128 + int(sig.(syscall.Signal)))
		}
	}()

	p := awscdk.AppProps{}
	if props != nil {
		p = *props
	}
	p.Outdir = &staging
	err = synth(&p, getenv)
	select {
	case <-stopping:
		select {} // the signal's goroutine exits
	default:
	}
	if err == nil {
		// cdk-nag's findings, and the validator's when they are
		// annotations, are errors in the assembly, not a failed synth: the
		// CLI would find them only after the assembly is in place.
		err = assemblyErrors(staging)
	}
	if err != nil {
		// aws-cdk-lib's validation report is kept; its error names the
		// staging folder, which goes.
		os.Rename(filepath.Join(staging, "validation-report.json"), filepath.Join(outdir, "validation-report.json"))
		return errors.New(strings.ReplaceAll(err.Error(), staging, outdir))
	}
	return moveAssembly(staging, outdir)
}

// synth builds and synthesizes the app, turning a construct's panic into an
// error.
func synth(props *awscdk.AppProps, getenv func(string) string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
	}()
	app := awscdk.NewApp(props)
	ctx, _ := app.Node().GetAllContext(nil).(map[string]any)
	// Every stage is read before any is built: a bad value stops the synth
	// before aws-cdk-lib does any work.
	var configs []*stack.Config
	for _, stage := range stages.All {
		cfg, err := stack.LoadConfig(stage, ctx, getenv)
		if err != nil {
			return err
		}
		configs = append(configs, cfg)
	}
	if err := stack.CheckSingletons(configs); err != nil {
		return err
	}
	// cdk-nag's AWS Solutions pack reviews every resource at synth; its
	// findings are errors and warnings on the construct tree, which the CLI
	// prints and the tests refuse.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	// Each stage's access stack; in each account, the first creates
	// GitHub's OIDC provider (unless the account has it) and the others,
	// which take it, deploy after it.
	providers := map[string]awscdk.Stack{}
	for _, cfg := range configs {
		s := stack.New(app, cfg.Stage.StackName, stack.PropsFor(cfg))
		creator, taken := providers[cfg.Account]
		access := stack.NewAccess(app, cfg.Stage.AccessStackName(), stack.AccessPropsFor(cfg, s, !taken && !cfg.GitHubProviderExists))
		if taken {
			access.AddStackDependency(creator, jsii.String("it creates the account's GitHub OIDC provider"))
		} else {
			providers[cfg.Account] = access
		}
		if cfg.Stage.Production {
			// And NIST 800-53 rev. 5 for production.
			for _, s := range []awscdk.Stack{s, access} {
				awscdk.Aspects_Of(s).Add(cdknag.NewNIST80053R5Checks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
			}
		}
	}
	app.Synth(nil)
	return nil
}

// stopDescendants kills every process below this one (jsii's Node runtime
// and its kernel) and waits, at most timeout, until each has exited. It reads
// /proc, so elsewhere than Linux it finds none. It does not reap them: that
// is jsii's, and the process ends right after.
func stopDescendants(timeout time.Duration) {
	pids := descendants(os.Getpid())
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(timeout)
	for _, pid := range pids {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// descendants lists the processes below pid, from each one's parent in
// /proc/PID/stat.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, parent, ok := procStat(child); ok {
			children[parent] = append(children[parent], child)
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// running says whether pid still runs: it exists and is no zombie.
func running(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z"
}

// procStat reads a process's state and parent from /proc/PID/stat, whose
// second field, the command, is in parentheses and may hold spaces.
func procStat(pid int) (state string, parent int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	_, rest, found := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !found || len(fields) < 2 {
		return "", 0, false
	}
	parent, err = strconv.Atoi(fields[1])
	return fields[0], parent, err == nil
}

// assemblyErrors reads a synthesized assembly: aws-cdk-lib's validation
// report (the validator's findings of severity error) and, with aws-cdk-lib's
// reader, its error-level messages (cdk-nag's findings). It returns them as
// one line: how many, and the first with its construct path.
func assemblyErrors(dir string) error {
	var found []string
	if data, err := os.ReadFile(filepath.Join(dir, "validation-report.json")); err == nil {
		violations, err := parseValidationReport(data)
		if err != nil {
			return err
		}
		for _, v := range violations {
			if v.Severity != "error" {
				continue
			}
			for _, path := range v.Paths {
				found = append(found, path+": "+v.Description+" (CloudFormation validator "+v.Rule+")")
			}
		}
	}
	found = append(found, assemblyMessages(dir, cxapi.SynthesisMessageLevel_ERROR)...)
	switch len(found) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("the synth found an error, so no assembly is written: %s", found[0])
	}
	return fmt.Errorf("the synth found %d errors, so no assembly is written; the first: %s", len(found), found[0])
}

// violation is one finding of aws-cdk-lib's validator: the plugin and rule
// that made it, what it says, its severity and the constructs it is about.
type violation struct {
	Plugin, Rule, Description, Severity string
	Paths                               []string
}

// parseValidationReport reads aws-cdk-lib's validation-report.json: every
// plugin's violations, of every severity.
func parseValidationReport(data []byte) ([]violation, error) {
	var report struct {
		PluginReports []struct {
			PluginName string
			Violations []struct {
				RuleName, Description, Severity string
				ViolatingConstructs             []struct{ ConstructPath string }
			}
		}
	}
	if err := json.Unmarshal(data, &report); err != nil {
		return nil, fmt.Errorf("aws-cdk-lib's validation report: %w", err)
	}
	var out []violation
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			x := violation{Plugin: p.PluginName, Rule: v.RuleName, Description: v.Description, Severity: v.Severity}
			for _, c := range v.ViolatingConstructs {
				x.Paths = append(x.Paths, c.ConstructPath)
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// assemblyMessages are the assembly's messages at the given levels (cdk-nag
// writes its findings as errors and warnings), read with aws-cdk-lib's
// reader, each as its construct path and the message's first line.
func assemblyMessages(dir string, levels ...cxapi.SynthesisMessageLevel) []string {
	var out []string
	for _, s := range *cxapi.NewCloudAssembly(&dir, nil).Stacks() {
		for _, m := range *s.Messages() {
			if slices.Contains(levels, m.Level) {
				line, _, _ := strings.Cut(fmt.Sprint(m.Entry.Data), "\n")
				out = append(out, *m.Id+": "+line)
			}
		}
	}
	return out
}

// moveAssembly moves a complete assembly from staging into outdir, the
// manifest last: until it is there, outdir holds no assembly.
func moveAssembly(staging, outdir string) error {
	entries, err := os.ReadDir(staging)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "manifest.json" {
			continue
		}
		dst := filepath.Join(outdir, e.Name())
		os.RemoveAll(dst)
		if err := os.Rename(filepath.Join(staging, e.Name()), dst); err != nil {
			removeAssembly(outdir)
			return err
		}
	}
	return os.Rename(filepath.Join(staging, "manifest.json"), filepath.Join(outdir, "manifest.json"))
}

// removeAssembly deletes what a synth writes into a cloud assembly folder:
// the manifest that makes it an assembly, templates, asset manifests, staged
// assets and the validation report. The CLI's own files there (locks,
// error.txt) stay.
func removeAssembly(outdir string) {
	if outdir == "" {
		return
	}
	for _, pattern := range []string{"manifest.json", "tree.json", "*.template.json", "*.assets.json", "*.metadata.json", "*NagReport*", "asset.*", "validation-report.json"} {
		matches, _ := filepath.Glob(filepath.Join(outdir, pattern))
		for _, m := range matches {
			os.RemoveAll(m)
		}
	}
}

// panicError keeps the first line of a panic's message: errors raised inside
// aws-cdk-lib carry a JavaScript stack trace after it.
func panicError(r any) error {
	msg := fmt.Sprint(r)
	if e, ok := r.(error); ok {
		msg = e.Error()
	}
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	return errors.New(msg)
}
