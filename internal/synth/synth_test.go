package synth

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
)

// emptyManifest is an assembly's manifest with no stacks, in the version
// aws-cdk-lib writes, so its reader opens it.
const emptyManifest = `{"version": "55.0.0", "artifacts": {}}`

// earlier puts an earlier run's manifest and validation report in a new
// output folder and returns it.
func earlier(t *testing.T) string {
	t.Helper()
	outdir := filepath.Join(t.TempDir(), "cdk.out")
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"manifest.json", ReportFile} {
		if err := os.WriteFile(filepath.Join(outdir, name), []byte(emptyManifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return outdir
}

func noManifest(t *testing.T, outdir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(outdir, "manifest.json")); err == nil {
		t.Error("the failed run left a manifest.json")
	}
}

func TestAnEarlierRunsManifestGoesBeforeTheBuild(t *testing.T) {
	outdir := earlier(t)
	var seen []string
	Run(outdir, func() error {
		for _, name := range []string{"manifest.json", ReportFile} {
			if _, err := os.Stat(filepath.Join(outdir, name)); err == nil {
				seen = append(seen, name)
			}
		}
		return errors.New("stop here")
	})
	if len(seen) > 0 {
		t.Errorf("the build found the earlier run's %v", seen)
	}
}

func TestAFailedBuildLeavesNoManifest(t *testing.T) {
	cases := []struct {
		name  string
		build func(outdir string) error
		want  string
	}{
		{"an error", func(outdir string) error {
			writeManifest(outdir)
			return errors.New("context x: bad")
		}, "context x: bad"},
		{"a panic with a JavaScript stack", func(outdir string) error {
			writeManifest(outdir)
			panic(errors.New("ValidationError: port 2000 is the daemon's\n    at new Sidecar (/tmp/jsii-kernel/x.js:1:2)"))
		}, "ValidationError: port 2000 is the daemon's"},
		{"the validator's finding", func(outdir string) error {
			writeManifest(outdir)
			return os.WriteFile(filepath.Join(outdir, ReportFile), []byte(report), 0o644)
		}, "the synth found an error, so no assembly is written: App/Stack/Rule/Resource: Priority is below 1 (CloudFormation validator E3034)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outdir := earlier(t)
			err := Run(outdir, func() error { return tc.build(outdir) })
			if err == nil || err.Error() != tc.want {
				t.Errorf("Run: %v; want %q", err, tc.want)
			}
			noManifest(t, outdir)
		})
	}
}

func TestAGoodBuildKeepsItsManifest(t *testing.T) {
	outdir := earlier(t)
	if err := Run(outdir, func() error { writeManifest(outdir); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outdir, "manifest.json")); err != nil {
		t.Error(err)
	}
}

// report is a validation report with an error and a warning: only the
// error fails the run.
const report = `{"pluginReports": [{"pluginName": "cfn-validate", "violations": [
	{"ruleName": "E3034", "description": "Priority is below 1", "severity": "error",
	 "violatingConstructs": [{"constructPath": "App/Stack/Rule/Resource"}]},
	{"ruleName": "W1", "description": "a warning", "severity": "warning",
	 "violatingConstructs": [{"constructPath": "App/Stack/Other"}]}]}]}`

func writeManifest(outdir string) {
	if err := os.WriteFile(filepath.Join(outdir, "manifest.json"), []byte(emptyManifest), 0o644); err != nil {
		panic(err)
	}
}

// asChild makes the test binary a synth that a signal stops: see
// TestASignalKillsTheSynthsProcessesAndLeavesNoManifest. withoutProc has
// it find processes as it does where there is no /proc.
const (
	asChild     = "SYNTH_TEST_CHILD"
	withoutProc = "SYNTH_TEST_WITHOUT_PROC"
)

func TestMain(m *testing.M) {
	if outdir := os.Getenv(asChild); outdir != "" {
		if os.Getenv(withoutProc) != "" {
			procDir = "/nonexistent"
		}
		if _, err := OwnTemp(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		err := Run(outdir, func() error {
			// jsii's stand-in: a process with a child of its own, which
			// keeps a file in the temporary folder, and writes the manifest
			// when that child ends.
			cmd := exec.Command("sh", "-c", `echo runtime > "$TMPDIR/runtime.js"; sleep 60 & echo "$$ $!"; wait; echo '{}' > manifest.json`)
			cmd.Dir = outdir
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				return err
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			fmt.Print("pids ", line)
			return cmd.Wait()
		})
		fmt.Fprintln(os.Stderr, "run returned:", err)
		os.Exit(3)
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// TestASignalKillsTheSynthsProcessesAndLeavesNoManifest stops a synth whose
// child processes would write a manifest after it, finding them in /proc
// and, as on macOS, with ps: exit 128 plus the signal, both processes
// gone, no manifest, and nothing left in the temporary folder.
func TestASignalKillsTheSynthsProcessesAndLeavesNoManifest(t *testing.T) {
	for _, how := range []string{"proc", "ps"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(sig.String()+", "+how, func(t *testing.T) {
				outdir, tmp := earlier(t), t.TempDir()
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), asChild+"="+outdir, "TMPDIR="+tmp)
				if how == "ps" {
					needPs(t)
					cmd.Env = append(cmd.Env, withoutProc+"=1")
				}
				out, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// The build has started its processes when it names them.
				line, _ := bufio.NewReader(out).ReadString('\n')
				var pids []int
				for _, f := range strings.Fields(strings.TrimPrefix(line, "pids ")) {
					pid, _ := strconv.Atoi(f)
					pids = append(pids, pid)
				}
				kept, _ := filepath.Glob(filepath.Join(tmp, "*", "runtime.js"))
				if len(pids) != 2 || len(kept) != 1 {
					cmd.Process.Kill()
					t.Fatalf("the child printed %q and kept %v in its own temporary folder; want two pids and one file", line, kept)
				}
				cmd.Process.Signal(sig)
				err := cmd.Wait()
				if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 128+int(sig) {
					t.Errorf("exit %v, want %d", err, 128+int(sig))
				}
				for _, pid := range pids {
					if running(pid) {
						t.Errorf("process %d still runs", pid)
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
				noManifest(t, outdir)
				if left, _ := os.ReadDir(tmp); len(left) > 0 {
					t.Errorf("the stopped synth left %s in TMPDIR", left[0].Name())
				}
			})
		}
	}
}

// TestWithoutProcPsFindsTheChildrenAndTheirEnd: where there is no /proc,
// children and running ask ps: a child is found and runs until killed,
// and a killed child runs no more, as a zombie or once reaped.
func TestWithoutProcPsFindsTheChildrenAndTheirEnd(t *testing.T) {
	needPs(t)
	defer func(dir string) { procDir = dir }(procDir)
	procDir = filepath.Join(t.TempDir(), "proc")
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	kids := children(os.Getpid())
	if !slices.Contains(kids, pid) || slices.ContainsFunc(kids, func(p int) bool { return !running(p) }) {
		t.Errorf("children: %v; want %d (sleep) among them, and only processes that run (not ps)", kids, pid)
	}
	if !running(pid) {
		t.Error("running: false for a sleeping child")
	}
	cmd.Process.Kill()
	for deadline := time.Now().Add(5 * time.Second); running(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("running: still true 5 s after SIGKILL, before the child is reaped")
		}
	}
	cmd.Wait()
	if running(pid) {
		t.Error("running: true for a reaped child")
	}
}

// needPs skips a test of the ps path on a machine without ps (a slim
// container), where the app, on Linux, reads /proc instead.
func needPs(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("no ps on this machine")
	}
}
