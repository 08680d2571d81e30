package githubaccess_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/githubaccess"
)

// TestMain stops jsii's Node process once, after every test. The examples
// check construct output, not aws-cdk-lib's template validator, which the
// app's own tests run.
func TestMain(m *testing.M) {
	os.Setenv("CDK_VALIDATION", "false")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// A role the deploy jobs of one GitHub environment assume, granted what
// they need; the workflow passes its ARN to
// aws-actions/configure-aws-credentials.
func ExampleNewRole() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Access"), nil)
	deploy := githubaccess.NewRole(stack, "Deploy", &githubaccess.RoleProps{
		Provider:    githubaccess.Provider(stack, "GitHub", false),
		Repository:  "octo-org/orders",
		Environment: "production",
	})
	awsiam.Role_FromRoleArn(stack, jsii.String("Bootstrap"), jsii.String("arn:aws:iam::111122223333:role/cdk-hnb659fds-deploy-role-111122223333-us-east-1"), nil).GrantAssumeRole(deploy)

	roles := assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::IAM::Role"), nil)
	for _, r := range *roles {
		trust, _ := json.MarshalIndent((*r)["Properties"].(map[string]any)["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any)[0].(map[string]any)["Condition"], "", "  ")
		fmt.Println(string(trust))
	}
	// Output:
	// {
	//   "StringEquals": {
	//     "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
	//     "token.actions.githubusercontent.com:sub": "repo:octo-org/orders:environment:production"
	//   }
	// }
}

// TestNewRoleRefusesWhatGitHubWouldNotIssue: a repository or environment
// no GitHub token could carry is refused at once, naming the field, the
// value and what is expected.
func TestNewRoleRefusesWhatGitHubWouldNotIssue(t *testing.T) {
	for _, tc := range []struct{ repository, environment, want string }{
		{"", "production", `Repository: "" is not a GitHub repository; expected OWNER/NAME`},
		{"octo-org", "production", `Repository: "octo-org" is not a GitHub repository`},
		{"octo-org/cruddur/extra", "production", `Repository: "octo-org/cruddur/extra" is not`},
		{"-octo/cruddur", "production", `Repository: "-octo/cruddur" is not`},
		{"octo--org/cruddur", "production", `Repository: "octo--org/cruddur" is not`},
		{"octo-org/..", "production", `Repository: "octo-org/.." is not`},
		{"octo-org/crud dur", "production", `Repository: "octo-org/crud dur" is not`},
		{strings.Repeat("a", 40) + "/cruddur", "production", `is not a GitHub repository`},
		{"octo-org/cruddur", "", `Environment: "" is not a GitHub environment name a role can trust; expected 1..255 printable ASCII characters without ':', '*' or '?'`},
		{"octo-org/cruddur", "prod*", `Environment: "prod*" is not`},
		{"octo-org/cruddur", "prod:ref:refs/heads/main", `Environment: "prod:ref:refs/heads/main" is not`},
		{"octo-org/cruddur", "produc\u200btion", `Environment: "produc\u200btion" is not`},
		{"octo-org/cruddur", strings.Repeat("e", 256), `is not a GitHub environment name`},
	} {
		err := func() (err any) {
			defer func() { err = recover() }()
			stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Access"), nil)
			githubaccess.NewRole(stack, "Deploy", &githubaccess.RoleProps{
				Provider: githubaccess.Provider(stack, "GitHub", true), Repository: tc.repository, Environment: tc.environment,
			})
			return nil
		}()
		if msg := fmt.Sprint(err); err == nil || !strings.HasPrefix(msg, "githubaccess.NewRole Deploy: ") || !strings.Contains(msg, tc.want) {
			t.Errorf("repository %q, environment %q: %v; want a panic with %q", tc.repository, tc.environment, err, tc.want)
		}
	}
	for _, ok := range []struct{ repository, environment string }{
		{"octo-org/cruddur", "production"}, {"a/b", "development-diff"}, {"O1/.github", "Staging Two"},
		{strings.Repeat("a", 39) + "/" + strings.Repeat("r", 100), strings.Repeat("e", 255)},
	} {
		if err := githubaccess.CheckRepository(ok.repository); err != nil {
			t.Error(err)
		}
		if err := githubaccess.CheckEnvironment(ok.environment); err != nil {
			t.Error(err)
		}
	}
}

// TestSubjectIsGitHubsDefaultClaim: the `sub` of a job in an environment,
// as GitHub's OIDC documentation gives it.
func TestSubjectIsGitHubsDefaultClaim(t *testing.T) {
	if got, want := githubaccess.Subject("octo-org/octo-repo", "prod"), "repo:octo-org/octo-repo:environment:prod"; got != want {
		t.Errorf("Subject = %s; want %s", got, want)
	}
}
