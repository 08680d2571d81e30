package stack

import (
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/cruddur/tracing/constructs/githubaccess"
)

// AccessProps configure a stage's access stack.
type AccessProps struct {
	awscdk.StackProps
	// Config is the stage's checked configuration: its repository, and
	// what it still needs to deploy.
	Config *Config
	// Deploys is the stage's stack: the deploy role may assume the CDK
	// bootstrap roles that deploying it takes, the diff role may read its
	// template.
	Deploys awscdk.Stack
	// CreateProvider defines GitHub's OIDC provider in this stack; without
	// it, the stack takes the one the account has (one per account).
	CreateProvider bool
}

// AccessPropsFor are the access stack's props for a stage: the stage's
// environment (IAM is global, but the bootstrap roles are the region's).
func AccessPropsFor(cfg *Config, deploys awscdk.Stack, createProvider bool) *AccessProps {
	return &AccessProps{
		StackProps: awscdk.StackProps{
			Env:         PropsFor(cfg).Env,
			Description: jsii.String("Cruddur tracing (" + cfg.Stage.Name + "): the roles GitHub Actions assumes to deploy and diff " + cfg.Stage.StackName),
		},
		Config: cfg, Deploys: deploys, CreateProvider: createProvider,
	}
}

// bootstrapRoles are the bootstrap roles a CLI user assumes to deploy a
// stack synthesized with aws-cdk-lib's DefaultStackSynthesizer (bootstrap
// version 8 and later), by name: the ARNs the stack's cloud assembly names,
// with the CDK CLI's placeholders. (A function, not a variable: a jsii call
// at package initialization would start jsii's Node process in whatever
// folder the process is in then.)
func bootstrapRoles() map[string]*string {
	return map[string]*string{
		"Deploy":          awscdk.DefaultStackSynthesizer_DEFAULT_DEPLOY_ROLE_ARN(),
		"Lookup":          awscdk.DefaultStackSynthesizer_DEFAULT_LOOKUP_ROLE_ARN(),
		"FilePublishing":  awscdk.DefaultStackSynthesizer_DEFAULT_FILE_ASSET_PUBLISHING_ROLE_ARN(),
		"ImagePublishing": awscdk.DefaultStackSynthesizer_DEFAULT_IMAGE_ASSET_PUBLISHING_ROLE_ARN(),
	}
}

// NewAccess defines a stage's access stack, which an administrator of the
// stage's account deploys once: two roles that only the stage's GitHub
// environments in the repository may assume.
//
//   - Deploy, for the environment named as the stage (the deploy
//     workflow): it may assume the CDK bootstrap roles of the stage's
//     account and region that its manifest names (deploy, lookup, file and
//     image publishing), and nothing else.
//   - Diff, for the environment <stage>-diff (the deployed-diff workflow):
//     it may read the stage's deployed template, and nothing else.
//
// Their ARNs are the stack's outputs, for the environments' variables
// AWS_DEPLOY_ROLE_ARN and AWS_DIFF_ROLE_ARN.
func NewAccess(scope constructs.Construct, id string, props *AccessProps) awscdk.Stack {
	cfg := props.Config
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	refuseToDeploy(stack, cfg.AccessNotDeployable)
	provider := githubaccess.Provider(stack, "GitHub", !props.CreateProvider)

	deploy := githubaccess.NewRole(stack, "Deploy", &githubaccess.RoleProps{
		Provider: provider, Repository: cfg.Repository, Environment: cfg.Stage.Name,
		Description: jsii.String("GitHub Actions deploys " + cfg.Stage.StackName + " with the CDK CLI from the environment " + cfg.Stage.Name + " of " + cfg.Repository),
	})
	synthesizer, ok := props.Deploys.Synthesizer().(awscdk.DefaultStackSynthesizer)
	if !ok {
		panic("stack.NewAccess: the stage's stack is not synthesized with DefaultStackSynthesizer, so its bootstrap roles are unknown")
	}
	qualifier := *synthesizer.BootstrapQualifier()
	roles := bootstrapRoles()
	for _, name := range slices.Sorted(maps.Keys(roles)) {
		// The access stack deploys to the stage's account and region, so
		// CloudFormation's ${AWS::AccountId} and ${AWS::Region} are the
		// stage's.
		arn := awscdk.Fn_Sub(jsii.String(strings.ReplaceAll(*roles[name], "${Qualifier}", qualifier)), nil)
		awsiam.Role_FromRoleArn(stack, jsii.String("Bootstrap"+name+"Role"), arn, &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)}).GrantAssumeRole(deploy)
	}

	diff := githubaccess.NewRole(stack, "Diff", &githubaccess.RoleProps{
		Provider: provider, Repository: cfg.Repository, Environment: cfg.Stage.DiffEnvironment(),
		Description: jsii.String("GitHub Actions reads the deployed template of " + cfg.Stage.StackName + " from the environment " + cfg.Stage.DiffEnvironment() + " of " + cfg.Repository),
	})
	// A stack's ARN ends in an id CloudFormation makes at each create.
	template := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("cloudformation"), Resource: jsii.String("stack"),
		ResourceName: jsii.String(cfg.Stage.StackName + "/*"),
	})
	diff.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudformation:GetTemplate"), Resources: &[]*string{template},
	}))
	nagSuppress(diff, true, "AwsSolutions-IAM5", "The stage's stack, whichever id CloudFormation gave it at its create: a stack's ARN ends in that id, and the stack name before it is the stage's.",
		// The ARN as cdk-nag prints it: partition, region and account are
		// tokens in an environment-agnostic stack, values in a pinned one.
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:cloudformation:.+:stack\/` + cfg.Stage.StackName + `\/\*$/`)})

	if cfg.Stage.Posture.NIST {
		for _, role := range []awsiam.Role{deploy, diff} {
			nagExempt(find(role, "DefaultPolicy"), grantReason, "NIST.800.53.R5-IAMNoInlinePolicy")
		}
	}
	output(stack, "DeployRoleArn", deploy.RoleArn(), "AWS_DEPLOY_ROLE_ARN of the GitHub environment "+cfg.Stage.Name)
	output(stack, "DiffRoleArn", diff.RoleArn(), "AWS_DIFF_ROLE_ARN of the GitHub environment "+cfg.Stage.DiffEnvironment())
	return stack
}
