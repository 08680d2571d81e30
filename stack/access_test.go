package stack

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/githubaccess"
	"github.com/cruddur/tracing/stack/stages"
)

// accessTemplate builds one access stack for cfg, beside a bare stage stack
// to deploy, and returns its template as JSON.
func accessTemplate(t *testing.T, cfg *Config, createProvider bool) template {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), BuiltinCloudFormationValidation: jsii.Bool(false)})
	deploys := awscdk.NewStack(app, jsii.String(cfg.Stage.StackName), nil)
	access := NewAccess(app, cfg.Stage.AccessStackName(), AccessPropsFor(cfg, deploys, createProvider))
	var doc template
	data, _ := json.Marshal(assertions.Template_FromStack(access, nil).ToJSON())
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// template is the part of a CloudFormation template these tests read.
type template struct {
	Rules     map[string]any
	Resources map[string]struct {
		Type       string
		Properties map[string]any
	}
	Outputs map[string]struct{ Value any }
}

// ofType is the logical ids of the template's resources of one type.
func (tm template) ofType(kind string) []string {
	var ids []string
	for id, r := range tm.Resources {
		if r.Type == kind {
			ids = append(ids, id)
		}
	}
	return ids
}

// roleFor finds the role a GitHub environment may assume: its logical id and
// its trust policy's statements.
func (tm template) roleFor(t *testing.T, environment string) (string, []any) {
	t.Helper()
	for _, id := range tm.ofType("AWS::IAM::Role") {
		doc, _ := json.Marshal(tm.Resources[id].Properties["AssumeRolePolicyDocument"])
		if strings.Contains(string(doc), `:environment:`+environment+`"`) {
			var trust struct{ Statement []any }
			json.Unmarshal(doc, &trust)
			return id, trust.Statement
		}
	}
	t.Fatalf("no role trusts the environment %s", environment)
	return "", nil
}

// policyOf is the statements of the one AWS::IAM::Policy attached to role.
func (tm template) policyOf(t *testing.T, role string) []map[string]any {
	t.Helper()
	var found []map[string]any
	for _, id := range tm.ofType("AWS::IAM::Policy") {
		p := tm.Resources[id].Properties
		if reflect.DeepEqual(p["Roles"], []any{map[string]any{"Ref": role}}) {
			var doc struct{ Statement []map[string]any }
			data, _ := json.Marshal(p["PolicyDocument"])
			json.Unmarshal(data, &doc)
			found = append(found, doc.Statement...)
		} else if strings.Contains(mustJSON(p["Roles"]), role) {
			t.Errorf("policy %s is attached to %s and other roles", id, role)
		}
	}
	if p := tm.Resources[role].Properties; p["ManagedPolicyArns"] != nil || p["Policies"] != nil {
		t.Errorf("role %s has managed or inline policies of its own: %v", role, p)
	}
	return found
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// accessConfig is a configuration for stage's access stack, environment-
// agnostic whatever stages.go pins (the filled-in rehearsal runs these
// tests too).
func accessConfig(stage stages.Stage) *Config {
	stage.Account, stage.Region = "", ""
	return &Config{Stage: stage, Platform: Platform{Repository: "octo-org/cruddur"}}
}

// TestAnAccessRoleTrustsOnlyItsEnvironmentOfTheRepository: the deploy role
// and the diff role each trust one statement: GitHub's provider, a token for
// AWS STS, and exactly the `sub` of the one environment (the stage's, or
// <stage>-diff) of the one repository, compared exactly (no StringLike).
func TestAnAccessRoleTrustsOnlyItsEnvironmentOfTheRepository(t *testing.T) {
	tm := accessTemplate(t, accessConfig(stages.Development), true)
	providers := tm.ofType("AWS::IAM::OIDCProvider")
	if len(providers) != 1 {
		t.Fatalf("OIDC providers: %v; want the one this stack creates", providers)
	}
	for _, env := range []string{"development", "development-diff"} {
		_, statements := tm.roleFor(t, env)
		want := []any{map[string]any{
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Effect":    "Allow",
			"Principal": map[string]any{"Federated": map[string]any{"Ref": providers[0]}},
			"Condition": map[string]any{"StringEquals": map[string]any{
				"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
				"token.actions.githubusercontent.com:sub": "repo:octo-org/cruddur:environment:" + env,
			}},
		}}
		if !reflect.DeepEqual(statements, want) {
			t.Errorf("the role for %s trusts\n%s\nwant\n%s", env, mustJSON(statements), mustJSON(want))
		}
	}
	if url := tm.Resources[providers[0]].Properties["Url"]; url != "https://"+githubaccess.Issuer {
		t.Errorf("the provider's URL is %v", url)
	}
}

// TestTheDiffRoleMayOnlyReadTheStagesTemplate: one statement, GetTemplate,
// on the stage's stack whatever its id.
func TestTheDiffRoleMayOnlyReadTheStagesTemplate(t *testing.T) {
	tm := accessTemplate(t, accessConfig(stages.Production), false)
	role, _ := tm.roleFor(t, "production-diff")
	got := mustJSON(tm.policyOf(t, role))
	want := `[{"Action":"cloudformation:GetTemplate","Effect":"Allow","Resource":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":cloudformation:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":stack/Cruddur/*"]]}}]`
	if got != want {
		t.Errorf("the diff role may\n%s\nwant\n%s", got, want)
	}
}

// TestTheDeployRoleMayOnlyAssumeTheBootstrapRoles: sts:AssumeRole on the
// four bootstrap roles of the stage's account and region with the default
// qualifier, nothing else. (That these are what the manifest names is
// TestTheDeployRoleMayAssumeExactlyTheRolesTheManifestNames, in the app.)
func TestTheDeployRoleMayOnlyAssumeTheBootstrapRoles(t *testing.T) {
	tm := accessTemplate(t, accessConfig(stages.Development), true)
	role, _ := tm.roleFor(t, "development")
	var want, got []string
	for _, kind := range []string{"deploy", "file-publishing", "image-publishing", "lookup"} {
		want = append(want, `{"Fn::Sub":"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-`+kind+`-role-${AWS::AccountId}-${AWS::Region}"}`)
	}
	// However aws-cdk-lib groups the statements (cdk.json minimizes them):
	// each allows sts:AssumeRole and nothing else, on these roles.
	for _, st := range tm.policyOf(t, role) {
		if st["Action"] != "sts:AssumeRole" || st["Effect"] != "Allow" || len(st) != 3 {
			t.Errorf("the deploy role may %s; want only sts:AssumeRole", mustJSON(st))
		}
		resources, ok := st["Resource"].([]any)
		if !ok {
			resources = []any{st["Resource"]}
		}
		for _, r := range resources {
			got = append(got, mustJSON(r))
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the deploy role may assume\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAnAccountsExistingProviderIsTakenNotCreated: without CreateProvider,
// no provider is defined and the roles trust the account's, by its ARN.
func TestAnAccountsExistingProviderIsTakenNotCreated(t *testing.T) {
	tm := accessTemplate(t, accessConfig(stages.Production), false)
	if ids := tm.ofType("AWS::IAM::OIDCProvider"); len(ids) != 0 {
		t.Errorf("providers %v; want none", ids)
	}
	_, statements := tm.roleFor(t, "production")
	want := `{"Federated":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"AWS::AccountId"},":oidc-provider/token.actions.githubusercontent.com"]]}}`
	if got := mustJSON(statements[0].(map[string]any)["Principal"]); got != want {
		t.Errorf("the role trusts %s; want %s", got, want)
	}
}

// TestAnAccessStackNotFilledInRefusesToDeploy: with something missing, the
// template's rule stops CloudFormation with the deploy check's message;
// filled in, there is no rule.
func TestAnAccessStackNotFilledInRefusesToDeploy(t *testing.T) {
	cfg := accessConfig(stages.Development)
	cfg.AccessNotDeployable = errors.New("the access stack Cruddur-Dev-Access of stage development is not ready to deploy: fill in Repository")
	rule := mustJSON(accessTemplate(t, cfg, true).Rules["StageIsFilledIn"])
	if !strings.Contains(rule, `"AssertDescription":"the access stack Cruddur-Dev-Access of stage development is not ready to deploy: fill in Repository"`) {
		t.Errorf("rule %s", rule)
	}
	cfg.AccessNotDeployable = nil
	if rule, ok := accessTemplate(t, cfg, true).Rules["StageIsFilledIn"]; ok {
		t.Errorf("a filled-in access stack has the rule %v", rule)
	}
}

// TestTheAccessStackSaysWhichVariableEachRoleIs: the outputs a team copies
// into the GitHub environments' variables.
func TestTheAccessStackSaysWhichVariableEachRoleIs(t *testing.T) {
	tm := accessTemplate(t, accessConfig(stages.Development), true)
	deploy, _ := tm.roleFor(t, "development")
	diff, _ := tm.roleFor(t, "development-diff")
	for output, role := range map[string]string{"DeployRoleArn": deploy, "DiffRoleArn": diff} {
		if got, want := mustJSON(tm.Outputs[output].Value), `{"Fn::GetAtt":["`+role+`","Arn"]}`; got != want {
			t.Errorf("output %s is %s; want %s", output, got, want)
		}
	}
}
