// Package synth runs a CDK app's synth so that no failed or stopped run
// leaves a cloud assembly that a later step (`cdk deploy --app cdk.out`, a
// diff) could take for a good one.
//
// It relies on what aws-cdk-lib guarantees: a folder is an assembly by its
// manifest.json, which the synth writes after every template and asset.
// So an earlier run's manifest goes first, and this run's goes again when
// anything fails after aws-cdk-lib wrote it: the validator's findings and
// cdk-nag's, which aws-cdk-lib reports after the manifest (run by the CLI,
// it only prints them and sets the exit code of its Node process, which
// the app never sees), or a SIGINT or SIGTERM. Templates of a failed run
// may stay; without a manifest nothing reads them.
//
// It builds on Unix only (it signals processes with syscall.Kill), and
// finds jsii's processes in /proc (Linux) or with ps (macOS).
package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
)

// Run runs build, which builds an app writing into outdir and synthesizes
// it, and returns its failure as one line: an error it returns, a panic
// (aws-cdk-lib's errors carry a JavaScript stack trace, which is cut), or
// the assembly's errors (see Errors). On failure, or a signal meanwhile,
// outdir holds no manifest. An empty outdir (an app run without the CLI,
// which synthesizes into a temporary folder) is not guarded.
func Run(outdir string, build func() error) error {
	if outdir == "" {
		return recovered(build)
	}
	manifest := filepath.Join(outdir, "manifest.json")
	for _, earlier := range []string{manifest, filepath.Join(outdir, ReportFile)} {
		if err := os.Remove(earlier); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	stopping, done := removeOnSignal(manifest)
	defer done()
	err := recovered(func() error {
		if err := build(); err != nil {
			return err
		}
		return Errors(outdir)
	})
	if stopping.Load() {
		// The signal's handler ends the process; the synth failed because
		// it killed jsii's processes, which is not this run's error.
		select {}
	}
	if err != nil {
		os.Remove(manifest)
	}
	return err
}

// recovered calls f, turning a panic into an error of its message's first
// line.
func recovered(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprint(r)
			if e, ok := r.(error); ok {
				msg = e.Error()
			}
			msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
			err = errors.New(msg)
		}
	}()
	return f()
}

// ownTemp is the process's temporary folder (OwnTemp); "" before it has one.
var ownTemp string

// OwnTemp points TMPDIR, for the rest of the process and the processes it
// starts, at a new folder of its own. jsii's runtime and kernel keep their
// files in it (the runtime's bundle, each library's tarball and its
// unpacked copy: tens of MB), which they remove when jsii.Close ends them.
// A synth that a signal stops never gets there, so Run's handler removes
// the folder; remove removes it after jsii.Close. Call it in main, before
// any construct.
//
// jsii-runtime-go prepares its runtime when the first package registers
// its types, before main: it unpacks the runtime's bundle into the
// temporary folder and fixes the environment of the Node process it will
// start. OwnTemp closes that runtime, which has not started (its types stay
// registered), so the next jsii call prepares one in the new folder.
func OwnTemp() (remove func(), err error) {
	dir, err := os.MkdirTemp("", "cdk-app-")
	if err != nil {
		return nil, fmt.Errorf("a temporary folder for the synth: %w", err)
	}
	if err := os.Setenv("TMPDIR", dir); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("a temporary folder for the synth: %w", err)
	}
	jsii.Close()
	ownTemp = dir
	return func() { os.RemoveAll(dir) }, nil
}

// removeOnSignal makes SIGINT and SIGTERM end the process with 128 plus the
// signal, after killing its child processes (jsii's Node runtime and
// kernel, which would otherwise finish the synth and write the manifest)
// and removing the manifest and the process's temporary folder (OwnTemp).
// stopping is set when a signal came; done restores the signals' default.
func removeOnSignal(manifest string) (stopping *atomic.Bool, done func()) {
	stopping = new(atomic.Bool)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-signals
		if !ok {
			return
		}
		stopping.Store(true)
		killDescendants(os.Getpid())
		os.Remove(manifest)
		if ownTemp != "" {
			os.RemoveAll(ownTemp)
		}
		// On a line of its own: jsii's process monitor has most likely
		// just written that its runtime died, without ending the line.
		fmt.Fprintf(os.Stderr, "\nstopped by %v\n", sig)
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
	return stopping, func() {
		signal.Stop(signals)
		close(signals)
	}
}

// ReportFile is aws-cdk-lib's validation report in an assembly folder.
const ReportFile = "validation-report.json"

// Errors reads a synthesized assembly: the findings of severity error in
// aws-cdk-lib's validation report, and the assembly's error-level messages
// (cdk-nag's findings), read with aws-cdk-lib's reader. It returns them as
// one line: how many, and the first with its construct path.
func Errors(dir string) error {
	var found []string
	if data, err := os.ReadFile(filepath.Join(dir, ReportFile)); err == nil {
		violations, err := ParseReport(data)
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
	found = append(found, Messages(dir, cxapi.SynthesisMessageLevel_ERROR)...)
	switch len(found) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("the synth found an error, so no assembly is written: %s", found[0])
	}
	return fmt.Errorf("the synth found %d errors, so no assembly is written; the first: %s", len(found), found[0])
}

// Violation is one finding of aws-cdk-lib's validator: the plugin and rule
// that made it, what it says, its severity and the constructs it is about.
type Violation struct {
	Plugin, Rule, Description, Severity string
	Paths                               []string
}

// ParseReport reads aws-cdk-lib's validation report: every plugin's
// violations, of every severity.
func ParseReport(data []byte) ([]Violation, error) {
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
	var out []Violation
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			x := Violation{Plugin: p.PluginName, Rule: v.RuleName, Description: v.Description, Severity: v.Severity}
			for _, c := range v.ViolatingConstructs {
				x.Paths = append(x.Paths, c.ConstructPath)
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// Messages are the assembly's messages at the given levels (cdk-nag writes
// its findings as errors and warnings), read with aws-cdk-lib's reader,
// each as its construct path and the message's first line.
func Messages(dir string, levels ...cxapi.SynthesisMessageLevel) []string {
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
