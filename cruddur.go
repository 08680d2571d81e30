// Command cruddur is the CDK app for Cruddur's tracing: for each stage
// (package stack/stages) it reads the configuration, builds the stage's
// stack and access stack (package stack), checks them with cdk-nag, and
// synthesizes them all. Run it through the CDK CLI (`make synth`); see
// README.md.
//
// `cruddur deployable STACK` checks, without synthesizing, that the stage
// deployed as STACK (or whose access stack STACK is) has every value only
// the team knows filled in: exit 0, or 1 with one line naming what to fill
// in. `make deploy` and the deploy workflow run it before they ask for AWS
// credentials.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/internal/synth"
	"github.com/cruddur/tracing/stack"
	"github.com/cruddur/tracing/stack/stages"
)

func main() {
	removeTemp, err := synth.OwnTemp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur:", err)
		os.Exit(1)
	}
	code := command(os.Args[1:])
	jsii.Close()
	removeTemp()
	os.Exit(code)
}

// command runs what args ask for and returns the exit code: 1 with a
// user's mistake as one line, 2 for bad arguments.
func command(args []string) int {
	var err error
	switch {
	case len(args) == 0:
		err = run(nil, os.Getenv)
	case len(args) == 2 && args[0] == "deployable":
		var ok string
		if ok, err = stages.DeployCheck(args[1]); err == nil {
			fmt.Println(ok)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: cruddur deployable STACK (run with no arguments, by the CDK CLI, it synthesizes every stage)")
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur:", err)
		return 1
	}
	return 0
}

// run synthesizes the app into props' output folder, or the one the CDK CLI
// sets (CDK_OUTDIR), with package synth's guard: a user's mistake is one
// line, and a failed run leaves no assembly.
func run(props *awscdk.AppProps, getenv func(string) string) error {
	outdir := getenv("CDK_OUTDIR")
	if props != nil && props.Outdir != nil {
		outdir = *props.Outdir
	}
	return synth.Run(outdir, func() error {
		app := awscdk.NewApp(props)
		if err := build(app, getenv); err != nil {
			return err
		}
		app.Synth(nil)
		return nil
	})
}

// build reads every stage's configuration, then adds each stage's stacks
// to app with cdk-nag's checks: AWS Solutions everywhere, NIST 800-53 rev. 5
// in production.
func build(app awscdk.App, getenv func(string) string) error {
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
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	// In each account, the first access stack creates GitHub's OIDC
	// provider (unless the account has it); the others take it, and deploy
	// after it.
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
		if cfg.Stage.Posture.NIST {
			for _, s := range []awscdk.Stack{s, access} {
				awscdk.Aspects_Of(s).Add(cdknag.NewNIST80053R5Checks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
			}
		}
	}
	return nil
}
