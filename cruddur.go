// Command cruddur is the CDK app for Cruddur's tracing: it reads its
// configuration from CDK context, builds the stack (package stack), checks
// it with cdk-nag, and synthesizes it. Run it through the CDK CLI
// (`make synth`); see README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/stack"
)

// StackID names the stack, and so the template: cdk.out/Cruddur.template.json.
const StackID = "Cruddur"

func main() {
	err := run(nil, os.Getenv)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur:", err)
		os.Exit(1)
	}
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
	go func() {
		if sig, ok := <-signals; ok {
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
	if err := synth(&p, getenv); err != nil {
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
	cfg, err := stack.LoadConfig(ctx, getenv)
	if err != nil {
		return err
	}
	// cdk-nag's AWS Solutions pack reviews every resource at synth; its
	// findings are errors and warnings on the construct tree, which the CLI
	// prints and the tests refuse.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	if cfg.Stage == stack.StageProduction {
		// And NIST 800-53 rev. 5 for production.
		awscdk.Aspects_Of(app).Add(cdknag.NewNIST80053R5Checks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	}
	stack.New(app, StackID, stack.PropsFor(cfg))
	app.Synth(nil)
	return nil
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
// the manifest that makes it an assembly, templates, asset manifests and
// staged assets. The CLI's own files there (locks, error.txt) stay.
func removeAssembly(outdir string) {
	if outdir == "" {
		return
	}
	for _, pattern := range []string{"manifest.json", "tree.json", "*.template.json", "*.assets.json", "*.metadata.json", "*NagReport*", "asset.*"} {
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
