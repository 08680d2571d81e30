// Package stages is where Cruddur's deployment stages are defined: each is a
// stack of its own, with its own name and the values only the team knows
// (account, region, certificate, alarm e-mail). This file is the one
// committed place those values live; fill them in before a stage's first
// deploy. A stage with a value still missing synthesizes (so a fresh clone
// and its tests work) but is refused by the deploy check (Deployable), which
// `make deploy` and the deploy workflow run before they ask for AWS
// credentials. Once a stage names its account and region, run `make synth`
// once with credentials: the CDK CLI looks up the region's Availability
// Zones and writes them to cdk.context.json. Commit that file with this
// one, then `make golden`: every later synth (tests, pull requests, the
// pipeline) reads the AZs from it and needs no credentials (README.md,
// "Deploy").
//
// Each stage also has an access stack (AccessStackName), which an
// administrator of the stage's account deploys once: the roles the stage's
// GitHub environments assume to deploy it and to read what is deployed
// (docs/diff-and-deploy.md). It trusts Repository's workflows only.
//
// The package depends on nothing but the standard library (and
// internal/quote, which does not either), so the workflow test can read the
// stages without building the CDK app.
package stages

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cruddur/tracing/internal/quote"
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
	// Posture is how closely the stage's stack is guarded: the defaults it
	// gives some context keys, and what its stack must have whatever
	// context says (Relaxed, Guarded, or a stage's own).
	Posture Posture
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

// PlaceholderRepository stands in for Repository until it is filled in, so
// the access stacks synthesize. Both AccessDeployable and the access stack's
// own rule refuse to deploy it.
const PlaceholderRepository = "OWNER/REPOSITORY"

// File is this file, as the messages name it.
const File = "stack/stages/stages.go"

// The stages. To add one (say staging), define it here with a posture and
// add it to All in the order the pipeline deploys: the deploy and
// deployed-diff workflows run over All (go run ./tools/workflows), and the
// goldens and Control Tower's checks cover each stage in it.
var (
	// Development is where changes land first: HTTP, logs kept a month,
	// one NAT gateway.
	Development = Stage{
		Name:       "development",
		StackName:  "Cruddur-Dev",
		NameSuffix: "-dev",
		Posture:    Relaxed,
		Account:    "",
		Region:     "",
	}
	// Production keeps the stack name the deploy workflow has always
	// deployed (Cruddur) and the seed's X-Ray names.
	Production = Stage{
		Name:           "production",
		StackName:      "Cruddur",
		Posture:        Guarded,
		Account:        "",
		Region:         "",
		CertificateArn: PlaceholderCertificateArn,
		AlarmEmail:     "",
	}
)

// Posture is how closely a stage's stack is guarded.
type Posture struct {
	// LogRetentionDays is how long every log group keeps its logs by
	// default (cruddur:logRetentionDays); MinLogRetentionDays the fewest
	// days the stage takes.
	LogRetentionDays, MinLogRetentionDays int
	// NatGateways is the new VPC's NAT gateways by default
	// (cruddur:natGateways); MinNatGateways the fewest the stage takes (one
	// per Availability Zone survives the loss of one).
	NatGateways, MinNatGateways int
	// HTTPSOnly requires the load balancer and a certificate, and puts AWS
	// WAF in front of it.
	HTTPSOnly bool
	// Protected turns the load balancer's deletion protection on by
	// default and requires it, and refuses ECS Exec.
	Protected bool
	// EncryptedLogs encrypts every log group with the stack's own key.
	EncryptedLogs bool
	// NIST checks the stack with cdk-nag's NIST 800-53 rev. 5 pack too, and
	// records the Control Tower controls and NIST rules that stand there.
	NIST bool
	// Notified requires an alarm e-mail before the stage deploys: alarms
	// that notify nobody are not a guarded stage's.
	Notified bool
}

// The postures the stages take.
var (
	// Relaxed is for changes landing first: a month of logs, one NAT
	// gateway, HTTP.
	Relaxed = Posture{LogRetentionDays: 30, MinLogRetentionDays: 1, NatGateways: 1, MinNatGateways: 1}
	// Guarded is production's: HTTPS only behind AWS WAF, logs kept a year
	// (AWS Control Tower's CT.CLOUDWATCH.PR.2) and encrypted with a key of
	// the stack's own, two NAT gateways, a
	// protected load balancer, cdk-nag's NIST 800-53 pack, alarms that
	// notify someone.
	Guarded = Posture{LogRetentionDays: 365, MinLogRetentionDays: 365, NatGateways: 2, MinNatGateways: 2,
		HTTPSOnly: true, Protected: true, EncryptedLogs: true, NIST: true, Notified: true}
)

// Repository is the GitHub repository, OWNER/NAME as GitHub spells it, whose
// workflows deploy the stages: every access stack trusts its environments
// and no other repository's. Empty is "not filled in yet".
var Repository = ""

// All are the app's stages, in the order the pipeline deploys them.
var All = []Stage{Development, Production}

// ByStackName finds the stage that deploys as the named stack, or whose
// access stack it is (access is then true).
func ByStackName(name string) (stage Stage, access bool, err error) {
	var names []string
	for _, s := range All {
		switch name {
		case s.StackName:
			return s, false, nil
		case s.AccessStackName():
			return s, true, nil
		}
		names = append(names, fmt.Sprintf("%s (%s)", s.StackName, s.Name), s.AccessStackName())
	}
	return Stage{}, false, fmt.Errorf("no stage deploys as stack %s; expected one of %s (%s)", quote.Value(name), strings.Join(names, ", "), File)
}

// DeployCheck checks, without synthesizing, the stage that deploys as the
// named stack, or whose access stack it is (Deployable, AccessDeployable):
// it returns a sentence saying it has every value it needs, or one line
// naming what to fill in.
func DeployCheck(stackName string) (string, error) {
	stage, access, err := ByStackName(stackName)
	switch {
	case err != nil:
		return "", err
	case access:
		if err := stage.AccessDeployable(); err != nil {
			return "", err
		}
		return fmt.Sprintf("the access stack %s of stage %s has every value it needs to deploy", stage.AccessStackName(), stage.Name), nil
	}
	if err := stage.Deployable(); err != nil {
		return "", err
	}
	return fmt.Sprintf("stage %s (stack %s) has every value it needs to deploy", stage.Name, stage.StackName), nil
}

// AccessStackName names the stage's access stack: the stage's stack name
// and "-Access".
func (s Stage) AccessStackName() string { return s.StackName + "-Access" }

// DiffEnvironment is the GitHub environment of the job that diffs a pull
// request against the stage as deployed, with the stage's read-only role:
// the stage's name and "-diff".
func (s Stage) DiffEnvironment() string { return s.Name + "-diff" }

// Deployable returns nil when every value the stage needs from the team is
// filled in, in the form AWS takes it: account and region for every stage,
// the certificate where the posture is HTTPSOnly, and the alarm e-mail
// where it is Notified. Otherwise it returns one line naming
// the stage, File, and each value to fill in or to correct.
func (s Stage) Deployable() error {
	missing, wrong := s.where()
	switch {
	case s.Posture.HTTPSOnly && (s.CertificateArn == "" || s.CertificateArn == PlaceholderCertificateArn):
		missing = append(missing, "CertificateArn (an ACM certificate in the stage's region; it is still the placeholder)")
	case s.CertificateArn != "" && s.CertificateArn != PlaceholderCertificateArn:
		if err := CheckCertificateArn(s.CertificateArn, s.Account, s.Region); err != nil {
			wrong = append(wrong, "CertificateArn: "+err.Error())
		}
	}
	if s.Posture.Notified && s.AlarmEmail == "" {
		missing = append(missing, "AlarmEmail (who the alarms notify)")
	} else if s.AlarmEmail != "" {
		if err := CheckEmail(s.AlarmEmail); err != nil {
			wrong = append(wrong, "AlarmEmail: "+err.Error())
		}
	}
	return notReady(fmt.Sprintf("stage %s (stack %s)", s.Name, s.StackName), missing, wrong)
}

// AccessDeployable is Deployable for the stage's access stack, which needs
// the stage's account and region and Repository. (Repository's form is
// checked where it is used, by constructs/githubaccess, at synth.)
func (s Stage) AccessDeployable() error {
	missing, wrong := s.where()
	if Repository == "" {
		missing = append(missing, "Repository (the GitHub repository that deploys, OWNER/NAME)")
	}
	return notReady(fmt.Sprintf("the access stack %s of stage %s", s.AccessStackName(), s.Name), missing, wrong)
}

// where checks the stage's account and region: what is missing, and what
// is wrong.
func (s Stage) where() (missing, wrong []string) {
	if s.Account == "" {
		missing = append(missing, "Account (the 12-digit AWS account id)")
	} else if err := CheckAccount(s.Account); err != nil {
		wrong = append(wrong, "Account: "+err.Error())
	}
	if s.Region == "" {
		missing = append(missing, "Region (such as us-east-1)")
	} else if err := CheckRegion(s.Region); err != nil {
		wrong = append(wrong, "Region: "+err.Error())
	}
	return missing, wrong
}

// notReady is nil with nothing missing or wrong, else the one line that
// names what and File.
func notReady(what string, missing, wrong []string) error {
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "fill in "+strings.Join(missing, ", ")+" in "+File)
	}
	if len(wrong) > 0 {
		problems = append(problems, "correct in "+File+": "+strings.Join(wrong, "; "))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s is not ready to deploy: %s", what, strings.Join(problems, "; and "))
}

// The forms AWS gives these values: an account id is 12 digits (AWS
// Account Management, "View AWS account identifiers"); a region name is
// lower-case words and a number (us-east-1, ap-southeast-2, us-gov-west-1).
var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// An ACM certificate's ARN (ACM's API reference, "CertificateArn"):
	// arn:PARTITION:acm:REGION:ACCOUNT:certificate/UUID.
	certificateArnPattern = regexp.MustCompile(`^arn:([a-z-]+):acm:([^:]*):([^:]*):certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// An address SNS's e-mail protocol takes: a dot-atom local part of
	// RFC 5322's printable ASCII (no quoted strings, no comments, no
	// display name), and a domain of LDH labels with an alphabetic top
	// level; no spaces, commas or invisible characters anywhere.
	emailPattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)
)

// maxEmailLen is the longest address SMTP carries (RFC 5321, 4.5.3.1.3: a
// path of 256 octets, less its angle brackets).
const maxEmailLen = 254

// CheckAccount checks an AWS account id: 12 digits.
func CheckAccount(v string) error {
	if !accountPattern.MatchString(v) {
		return fmt.Errorf("%s is not an AWS account id; expected 12 digits", quote.Value(v))
	}
	return nil
}

// CheckRegion checks an AWS region's name, such as us-east-1.
func CheckRegion(v string) error {
	if !regionPattern.MatchString(v) {
		return fmt.Errorf("%s is not an AWS region; expected a name such as us-east-1", quote.Value(v))
	}
	return nil
}

// CheckEmail checks an e-mail address for an SNS e-mail subscription.
func CheckEmail(v string) error {
	if n := len(v); n > maxEmailLen {
		return fmt.Errorf("%s has %d characters; expected an e-mail address of at most %d", quote.Value(v), n, maxEmailLen)
	}
	if !emailPattern.MatchString(v) {
		return fmt.Errorf("%s is not an e-mail address SNS takes; expected one address such as oncall@example.com (ASCII, no spaces, commas or display name)", quote.Value(v))
	}
	return nil
}

// Partition is the AWS partition a region belongs to, as ARNs name it.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	}
	return "aws"
}

// CheckCertificateArn checks an ACM certificate's ARN and, where account
// and region are given, that the certificate is theirs: a load balancer
// serves only a certificate of its own region and account, so any other
// would fail the deploy only once the network exists.
func CheckCertificateArn(arn, account, region string) error {
	m := certificateArnPattern.FindStringSubmatch(arn)
	if m == nil || CheckRegion(m[2]) != nil || CheckAccount(m[3]) != nil || m[1] != Partition(m[2]) {
		return fmt.Errorf("%s is not an ACM certificate ARN; expected arn:aws:acm:REGION:ACCOUNT:certificate/UUID", quote.Value(arn))
	}
	if region != "" && (m[2] != region || m[1] != Partition(region)) {
		return fmt.Errorf("%s is a certificate of %s (partition %s); expected one of the stage's region, %s (partition %s)", quote.Value(arn), m[2], m[1], region, Partition(region))
	}
	if account != "" && m[3] != account {
		return fmt.Errorf("%s is a certificate of account %s; expected one of the stage's account, %s", quote.Value(arn), m[3], account)
	}
	return nil
}
