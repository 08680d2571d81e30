// Package stages is where Cruddur's deployment stages are defined: each is a
// stack of its own, with its own name and the values only the team knows
// (account, region, certificate, alarm e-mail). This file is the one
// committed place those values live; fill them in before a stage's first
// deploy. A stage with a value still missing synthesizes (so a fresh clone
// and its tests work) but is refused by the deploy check (Deployable), which
// `make deploy` and the deploy workflow run before they ask for AWS
// credentials.
//
// The package depends on nothing but the standard library, so the workflow
// test can read the stages without building the CDK app.
package stages

import (
	"fmt"
	"strings"
)

// Stage is one deployment stage.
type Stage struct {
	// Name is the stage's name; the deploy workflow deploys it in the GitHub
	// environment of the same name.
	Name string
	// StackName names the stack, and so its template
	// (cdk.out/<StackName>.template.json) and the CloudFormation stack that
	// `cdk deploy <StackName>` creates or updates.
	StackName string
	// Production applies production's defaults and checks: HTTPS only behind
	// AWS WAF, logs kept a year and encrypted with a key of the stack's own,
	// two NAT gateways, a protected load balancer, cdk-nag's NIST 800-53
	// pack.
	Production bool
	// NameSuffix ends the service name and every X-Ray name of the stage
	// (its groups and sampling rules), which X-Ray requires to be unique
	// in an account and region: so stages can run side by side in one. The
	// stage that keeps the seed's names (group and rule Cruddur) has none.
	NameSuffix string

	// What only the team knows. Empty is "not filled in yet".

	// Account (12 digits) and Region (such as us-east-1) are where the
	// stage deploys: its stack is synthesized for that environment.
	Account, Region string
	// CertificateArn is the ACM certificate (in Region) the load balancer
	// serves HTTPS with; PlaceholderCertificateArn is not one.
	CertificateArn string
	// AlarmEmail is subscribed to the stage's alarm topic.
	AlarmEmail string
}

// PlaceholderCertificateArn stands in for a certificate that is not filled in
// yet, so that a stage that requires one (production) still synthesizes. It
// names no real certificate (account 000000000000), and Deployable refuses it.
const PlaceholderCertificateArn = "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000"

// File is this file, as the messages name it.
const File = "stack/stages/stages.go"

// The stages. To add one (say staging), define it here, add it to All in
// the order the pipeline deploys, and give it a deploy job in
// .github/workflows/deploy.yml (its test says what is missing).
var (
	// Development is where changes land first: HTTP, logs kept a month,
	// one NAT gateway.
	Development = Stage{
		Name:       "development",
		StackName:  "Cruddur-Dev",
		NameSuffix: "-dev",
		Account:    "",
		Region:     "",
	}
	// Production keeps the stack name the deploy workflow has always
	// deployed (Cruddur) and the seed's X-Ray names.
	Production = Stage{
		Name:           "production",
		StackName:      "Cruddur",
		Production:     true,
		Account:        "",
		Region:         "",
		CertificateArn: PlaceholderCertificateArn,
		AlarmEmail:     "",
	}
)

// All are the app's stages, in the order the pipeline deploys them.
var All = []Stage{Development, Production}

// ByStackName finds the stage that deploys as the named stack.
func ByStackName(name string) (Stage, error) {
	var names []string
	for _, s := range All {
		if s.StackName == name {
			return s, nil
		}
		names = append(names, fmt.Sprintf("%s (%s)", s.StackName, s.Name))
	}
	return Stage{}, fmt.Errorf("no stage deploys as stack %q; expected one of %s (%s)", name, strings.Join(names, ", "), File)
}

// Deployable returns nil when every value the stage needs from the team is
// filled in: account and region for every stage, and for production the
// certificate and the alarm e-mail too (alarms that notify nobody are not
// production's). Otherwise it returns one line naming the stage and each
// value to fill in.
func (s Stage) Deployable() error {
	var missing []string
	if s.Account == "" {
		missing = append(missing, "Account (the 12-digit AWS account id)")
	}
	if s.Region == "" {
		missing = append(missing, "Region (such as us-east-1)")
	}
	if s.Production && (s.CertificateArn == "" || s.CertificateArn == PlaceholderCertificateArn) {
		missing = append(missing, "CertificateArn (an ACM certificate in the stage's region; it is still the placeholder)")
	}
	if s.Production && s.AlarmEmail == "" {
		missing = append(missing, "AlarmEmail (who the alarms notify)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("stage %s (stack %s) is not ready to deploy: fill in %s in %s", s.Name, s.StackName, strings.Join(missing, ", "), File)
}
