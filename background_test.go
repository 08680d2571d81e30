package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// background holds the tests' separate programs: the template diff (Node),
// cfn-guard, and the app run as a process. None of them uses jsii, so
// prepare starts each as soon as its input exists, and they run on the
// second core while jsii synthesizes on the first; a test waits for the
// result it reads.
var background backgroundChecks

type backgroundChecks struct {
	diffs *diffServer

	appWithBadInput *future[commandResult] // the app run as `cdk synth` runs it
	guardDefault    *future[commandResult] // cfn-guard on the default template
	guardPrivileged *future[commandResult] // ... on it with a privileged container
	guardADOT       *future[commandResult] // ... on the collector variant
}

// start begins what needs no synth: the diff server and the app given bad
// input.
func (b *backgroundChecks) start(dir string) {
	b.diffs = startDiffServer()
	b.appWithBadInput = async(func() commandResult { return runAppWithBadInput(dir) })
}

// afterSynth begins the checks of the default template.
func (b *backgroundChecks) afterSynth(dir string, template []byte) {
	b.guardDefault = async(func() commandResult { return runGuard(dir, "default", template) })
	b.guardPrivileged = async(func() commandResult { return runGuard(dir, "privileged", privileged(template)) })
}

// afterADOTSynth begins the check of the collector variant.
func (b *backgroundChecks) afterADOTSynth(dir string, template []byte) {
	b.guardADOT = async(func() commandResult { return runGuard(dir, "adot", template) })
}

// stop ends the diff server and waits for every program, so that none
// outlives the test binary.
func (b *backgroundChecks) stop() {
	for _, f := range []*future[commandResult]{b.appWithBadInput, b.guardDefault, b.guardPrivileged, b.guardADOT} {
		if f != nil {
			f.wait()
		}
	}
	if b.diffs != nil {
		b.diffs.close()
	}
}

// future is a result computed on its own goroutine.
type future[T any] struct {
	done chan struct{}
	v    T
}

func async[T any](f func() T) *future[T] {
	r := &future[T]{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.v = f()
	}()
	return r
}

func (f *future[T]) wait() T {
	<-f.done
	return f.v
}

// commandResult is what a program printed and how it ended.
type commandResult struct {
	stdout, stderr string
	code           int
	err            error  // the program could not run, or its setup failed
	dir            string // a folder the program wrote into, if any
}

func runCommand(cmd *exec.Cmd) commandResult {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := commandResult{stdout: stdout.String(), stderr: stderr.String()}
	if cmd.ProcessState == nil {
		r.err = fmt.Errorf("running %s: %w", cmd.Path, err)
	} else {
		r.code = cmd.ProcessState.ExitCode()
	}
	return r
}

// diffServer is one Node process that imports tools/templatediff/diff.mjs
// and runs its command function, cli, for the tests: arguments and
// environment in, output and exit code out, a JSON line each way. Node's
// start and the resource specification the diff library loads cost over a
// second, paid once here, beside the synth, instead of once a diff. (Run as
// a command, diff.mjs only adds printing that result and exiting with it.)
type diffServer struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	err    error
}

const diffServerJS = `
import { createInterface } from 'node:readline';
const { cli, report } = await import(process.env.TEMPLATEDIFF_MODULE);
// Load the resource specification now: a change to a group's name is a
// replacement, which only the specification knows.
const group = (name) => ({ Resources: { G: { Type: 'AWS::XRay::Group', Properties: { GroupName: name } } } });
report(group('a'), group('b'));
for await (const line of createInterface({ input: process.stdin })) {
  const { args, env } = JSON.parse(line);
  process.stdout.write(JSON.stringify(cli(args, env ?? {})) + '\n');
}
`

func startDiffServer() *diffServer {
	s := &diffServer{}
	module, err := filepath.Abs(filepath.Join("tools", "templatediff", "diff.mjs"))
	if err != nil {
		s.err = err
		return s
	}
	s.cmd = exec.Command("node", "--input-type=module", "-e", diffServerJS)
	s.cmd.Env = append(os.Environ(), "TEMPLATEDIFF_MODULE="+(&url.URL{Scheme: "file", Path: module}).String())
	s.cmd.Stderr = &s.stderr
	if s.in, err = s.cmd.StdinPipe(); err == nil {
		var out io.ReadCloser
		if out, err = s.cmd.StdoutPipe(); err == nil {
			s.out = bufio.NewReader(out)
			err = s.cmd.Start()
		}
	}
	if err != nil {
		s.err = fmt.Errorf("starting node: %w (is node_modules/.bin on PATH? make test puts it there)", err)
	}
	return s
}

// run is `node tools/templatediff/diff.mjs args...` with env as its whole
// environment.
func (s *diffServer) run(args []string, env map[string]string) commandResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return commandResult{err: s.err}
	}
	req, err := json.Marshal(map[string]any{"args": args, "env": env})
	if err != nil {
		return commandResult{err: err}
	}
	if _, err := s.in.Write(append(req, '\n')); err != nil {
		s.err = fmt.Errorf("the diff server stopped: %v\n%s", err, s.stderr.String())
		return commandResult{err: s.err}
	}
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		s.err = fmt.Errorf("the diff server stopped: %v\n%s", err, s.stderr.String())
		return commandResult{err: s.err}
	}
	var resp struct {
		Stdout, Stderr string
		Code           int
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return commandResult{err: fmt.Errorf("diff server answered %q: %w", line, err)}
	}
	return commandResult{stdout: resp.Stdout, stderr: resp.Stderr, code: resp.Code}
}

func (s *diffServer) close() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.in.Close()
	s.cmd.Wait()
}

// badInputRuleFile is a sampling rule out of X-Ray's range.
const badInputRuleFile = `{"SamplingRule": {"Priority": 0}}`

// runAppWithBadInput runs the test binary as the app, as `cdk synth` runs
// it (context in CDK_CONTEXT_JSON, output to CDK_OUTDIR), with a rule file
// out of range, over an outdir that holds an earlier run's assembly.
func runAppWithBadInput(dir string) commandResult {
	dir = filepath.Join(dir, "bad-input")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return commandResult{err: err}
	}
	ruleFile := filepath.Join(dir, "xray.json")
	if err := os.WriteFile(ruleFile, []byte(badInputRuleFile), 0o644); err != nil {
		return commandResult{err: err}
	}
	ctx, err := cliContext(map[string]any{keySamplingRuleFile: ruleFile})
	if err != nil {
		return commandResult{err: err}
	}
	ctxJSON, _ := json.Marshal(ctx)
	outdir := filepath.Join(dir, "cdk.out")
	if err := earlierAssembly(outdir); err != nil {
		return commandResult{err: err}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runAsAppEnv+"=1", "CDK_CONTEXT_JSON="+string(ctxJSON), "CDK_OUTDIR="+outdir)
	r := runCommand(cmd)
	r.dir = outdir
	return r
}

// assemblyFiles are what a synth writes that a later step reads as its
// result.
var assemblyFiles = []string{"manifest.json", StackID + ".template.json", StackID + ".assets.json"}

// earlierAssembly makes outdir look like a complete cloud assembly from an
// earlier synth: the golden template, a manifest, an asset manifest.
func earlierAssembly(outdir string) error {
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		return err
	}
	golden, err := os.ReadFile(filepath.Join("testdata", StackID+".template.json"))
	if err != nil {
		return err
	}
	for _, name := range assemblyFiles {
		content := []byte(`{"version": "earlier"}`)
		if name == StackID+".template.json" {
			content = golden
		}
		if err := os.WriteFile(filepath.Join(outdir, name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runGuard runs cfn-guard, as shipped by @cdklabs/cdk-validator-cfnguard,
// with AWS Control Tower's proactive controls for ECS, on a template.
func runGuard(dir, name string, template []byte) commandResult {
	pkg := filepath.Join("node_modules", "@cdklabs", "cdk-validator-cfnguard")
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	osDir := map[string]string{"linux": "ubuntu", "darwin": "macos"}[runtime.GOOS]
	binary := filepath.Join(pkg, "bin", osDir, arch, "cfn-guard")
	if _, err := os.Stat(binary); err != nil {
		return commandResult{err: fmt.Errorf("cfn-guard not found (%v): run `npm ci`, as `make test` does", err)}
	}
	rules := filepath.Join(pkg, "rules", "control-tower", "cfn-guard", "ecs")
	path := filepath.Join(dir, "guard-"+name+".template.json")
	if err := os.WriteFile(path, template, 0o644); err != nil {
		return commandResult{err: err}
	}
	return runCommand(exec.Command(binary, "validate", "--rules", rules, "--data", path, "--show-summary", "fail"))
}

// privileged is the template with its first read-only container made a
// privileged one with a writable root filesystem, or nil if it has none.
func privileged(template []byte) []byte {
	bad := bytes.Replace(template, []byte(`"ReadonlyRootFilesystem": true`), []byte(`"Privileged": true`), 1)
	if bytes.Equal(bad, template) {
		return nil
	}
	return bad
}
