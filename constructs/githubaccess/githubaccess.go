// Package githubaccess defines the AWS side of GitHub Actions' OpenID Connect
// federation, so a workflow gets short-lived credentials and no AWS key is
// stored anywhere: the account's provider for GitHub's tokens, and roles that
// exactly one GitHub environment of one repository may assume.
//
// GitHub puts `repo:OWNER/NAME:environment:ENV` in the token's `sub` claim
// when the job names an environment, and no branch. A role of this package
// trusts that one value, so what keeps it to the default branch is the
// environment's own protection rules in GitHub (deployment branches,
// required reviewers), which the environment's owner sets.
package githubaccess

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/internal/quote"
)

// Issuer is the host of GitHub Actions' token issuer, which names the
// provider in IAM and prefixes its condition keys.
const Issuer = "token.actions.githubusercontent.com"

// Audience is the `aud` claim that aws-actions/configure-aws-credentials asks
// GitHub to put in the token.
const Audience = "sts.amazonaws.com"

// Provider returns the account's IAM OpenID Connect provider for GitHub
// Actions: a new one (AWS::IAM::OIDCProvider), or, with existing, the one the
// account already has. IAM keeps at most one provider per issuer in an
// account, so exactly one stack in each account may create it.
func Provider(scope constructs.Construct, id string, existing bool) awsiam.IOidcProvider {
	if existing {
		arn := awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("iam"), Region: jsii.String(""),
			Resource: jsii.String("oidc-provider"), ResourceName: jsii.String(Issuer),
		})
		return awsiam.OidcProviderNative_FromOidcProviderArn(scope, &id, arn)
	}
	// No thumbprints: IAM checks GitHub's certificate against its own
	// trusted certificate authorities.
	return awsiam.NewOidcProviderNative(scope, &id, &awsiam.OidcProviderNativeProps{
		Url:       jsii.String("https://" + Issuer),
		ClientIds: jsii.Strings(Audience),
	})
}

// RoleProps configure a Role.
type RoleProps struct {
	// Provider is the account's provider for GitHub's tokens (Provider).
	// Required.
	Provider awsiam.IOidcProvider
	// Repository is the GitHub repository, OWNER/NAME, as GitHub spells it
	// (the `sub` claim and IAM's comparison are case-sensitive). Required.
	Repository string
	// Environment is the GitHub environment whose jobs may assume the role.
	// Required.
	Environment string
	// Description says what the role is for.
	// Default: none.
	Description *string
}

// NewRole defines a role that only jobs running in props.Environment of
// props.Repository may assume, with a token meant for AWS STS. It has no
// permissions: grant them to it. It panics on a repository or environment
// GitHub would not issue a token for.
func NewRole(scope constructs.Construct, id string, props *RoleProps) awsiam.Role {
	if props == nil || props.Provider == nil {
		panic(fmt.Errorf("githubaccess.NewRole %s: Provider is required", id))
	}
	if err := CheckRepository(props.Repository); err != nil {
		panic(fmt.Errorf("githubaccess.NewRole %s: Repository: %w", id, err))
	}
	if err := CheckEnvironment(props.Environment); err != nil {
		panic(fmt.Errorf("githubaccess.NewRole %s: Environment: %w", id, err))
	}
	return awsiam.NewRole(scope, &id, &awsiam.RoleProps{
		AssumedBy: awsiam.NewOpenIdConnectPrincipal(props.Provider, &map[string]any{
			"StringEquals": map[string]any{
				Issuer + ":aud": Audience,
				Issuer + ":sub": Subject(props.Repository, props.Environment),
			},
		}),
		Description: props.Description,
	})
}

// Subject is the `sub` claim of a token GitHub issues to a job that runs in
// environment of repository (GitHub's default claim template).
func Subject(repository, environment string) string {
	return "repo:" + repository + ":environment:" + environment
}

// GitHub's rules for names: an owner (user or organization) is 1..39
// letters, digits and single hyphens, neither first nor last; a repository
// name is 1..100 ASCII letters, digits, '.', '-' and '_', not "." or "..".
var (
	ownerName      = regexp.MustCompile(`^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$`)
	repositoryName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// CheckRepository returns nil for a repository GitHub could name, OWNER/NAME;
// otherwise an error that quotes the value and says what is expected.
func CheckRepository(repository string) error {
	owner, name, found := strings.Cut(repository, "/")
	if !found || !ownerName.MatchString(owner) || !repositoryName.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("%s is not a GitHub repository; expected OWNER/NAME, such as octo-org/cruddur (owner: 1..39 letters, digits and single hyphens; name: 1..100 letters, digits, '.', '-' and '_')", quote.Value(repository))
	}
	return nil
}

// CheckEnvironment returns nil for a GitHub environment name a role can
// trust: 1..255 characters (GitHub's limit), printable ASCII without ':',
// which separates the `sub` claim's parts, or '*' and '?', which IAM's
// StringLike would read as wildcards.
func CheckEnvironment(environment string) error {
	ok := len(environment) >= 1 && len(environment) <= 255
	for _, r := range environment {
		if r < 0x20 || r > 0x7e || strings.ContainsRune(":*?", r) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%s is not a GitHub environment name a role can trust; expected 1..255 printable ASCII characters without ':', '*' or '?'", quote.Value(environment))
	}
	return nil
}
