package stages

import (
	"strings"
	"testing"
)

// TestAStageNeedsTheTeamsValuesToDeploy: a stage with a value still missing
// (or the placeholder certificate) is refused in one line naming the stage
// and each value; filled in, it may deploy.
func TestAStageNeedsTheTeamsValuesToDeploy(t *testing.T) {
	filled := Stage{Name: "production", StackName: "Cruddur", Posture: Guarded, Account: "111122223333", Region: "eu-west-1",
		CertificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012", AlarmEmail: "oncall@example.com"}
	if err := filled.Deployable(); err != nil {
		t.Fatalf("a filled-in stage: %v", err)
	}
	cases := []struct {
		name   string
		change func(*Stage)
		want   string
	}{
		{"no account", func(s *Stage) { s.Account = "" }, "fill in Account (the 12-digit AWS account id) in " + File},
		{"no region", func(s *Stage) { s.Region = "" }, "fill in Region (such as us-east-1) in " + File},
		{"the placeholder certificate", func(s *Stage) { s.CertificateArn = PlaceholderCertificateArn }, "fill in CertificateArn (an ACM certificate in the stage's region; it is still the placeholder)"},
		{"no alarm e-mail", func(s *Stage) { s.AlarmEmail = "" }, "fill in AlarmEmail (who the alarms notify)"},
	}
	for _, tc := range cases {
		s := filled
		tc.change(&s)
		err := s.Deployable()
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "stage production (stack Cruddur) is not ready to deploy: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want one line naming the stage and %q", tc.name, err, tc.want)
		}
	}
	dev := Stage{Name: "development", StackName: "Cruddur-Dev", Posture: Relaxed, Account: "111122223333", Region: "eu-west-1"}
	if err := dev.Deployable(); err != nil {
		t.Errorf("development needs no certificate or e-mail: %v", err)
	}
}

// TestAnAccessStackNeedsTheRepository: a stage's access stack, its account
// and region filled in, may deploy once Repository is, and not before.
func TestAnAccessStackNeedsTheRepository(t *testing.T) {
	defer func(r string) { Repository = r }(Repository)
	s := Stage{Name: "development", StackName: "Cruddur-Dev", Posture: Relaxed, Account: "111122223333", Region: "eu-west-1"}
	Repository = ""
	if err := s.AccessDeployable(); err == nil || !strings.Contains(err.Error(), "fill in Repository (the GitHub repository that deploys, OWNER/NAME) in "+File) {
		t.Errorf("no Repository: %v; want it named", err)
	}
	Repository = "octo-org/cruddur"
	if err := s.AccessDeployable(); err != nil {
		t.Errorf("with Repository: %v", err)
	}
}

// TestEveryStageHasNamesOfItsOwn: every stage has a name, and a stack name
// and an X-Ray name suffix no other stage has.
func TestEveryStageHasNamesOfItsOwn(t *testing.T) {
	stacks, suffixes := map[string]bool{}, map[string]bool{}
	for _, s := range All {
		if s.Name == "" || s.StackName == "" || stacks[s.StackName] || suffixes[s.NameSuffix] {
			t.Errorf("stage %+v: a name, and a stack name and suffix no other stage has", s)
		}
		stacks[s.StackName], suffixes[s.NameSuffix] = true, true
		if got, access, err := ByStackName(s.StackName); err != nil || got.Name != s.Name || access {
			t.Errorf("ByStackName(%s): %v, %v, %v", s.StackName, got, access, err)
		}
		if got, access, err := ByStackName(s.AccessStackName()); err != nil || got.Name != s.Name || !access {
			t.Errorf("ByStackName(%s): %v, %v, %v", s.AccessStackName(), got, access, err)
		}
	}
	var names []string
	for _, s := range All {
		names = append(names, s.StackName+" ("+s.Name+")", s.AccessStackName())
	}
	if _, _, err := ByStackName("Cruddur-Nowhere"); err == nil || !strings.Contains(err.Error(), `"Cruddur-Nowhere"; expected one of `+strings.Join(names, ", ")) {
		t.Errorf("an unknown stack: %v", err)
	}
}

// TestTheDeployCheckRefusesWhatCannotDeploy: values AWS would refuse only
// at deploy (after the network exists) are refused by the deploy check, in
// one line naming the stage, stages.go, the field and the value.
func TestTheDeployCheckRefusesWhatCannotDeploy(t *testing.T) {
	filled := Stage{Name: "production", StackName: "Cruddur", Posture: Guarded, Account: "123456789012", Region: "eu-west-1",
		CertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012", AlarmEmail: "oncall@example.com"}
	cases := []struct {
		name   string
		change func(*Stage)
		want   string
	}{
		{"an account with a space", func(s *Stage) { s.Account = " 123456789012" }, `Account: " 123456789012" is not an AWS account id; expected 12 digits`},
		{"an account left as TODO", func(s *Stage) { s.Account = "TODO" }, `Account: "TODO" is not an AWS account id`},
		{"a region with a space", func(s *Stage) { s.Region = "us-east-1 " }, `Region: "us-east-1 " is not an AWS region; expected a name such as us-east-1`},
		{"a region numbered past 99", func(s *Stage) { s.Region = "us-east-100" }, `Region: "us-east-100" is not an AWS region`},
		{"not an e-mail", func(s *Stage) { s.AlarmEmail = "not an email" }, `AlarmEmail: "not an email" is not an e-mail address SNS takes`},
		{"two addresses", func(s *Stage) { s.AlarmEmail = "a,b@c.d" }, `AlarmEmail: "a,b@c.d" is not an e-mail address SNS takes`},
		{"a bidirectional override", func(s *Stage) { s.AlarmEmail = "oncall@exa\u202emple.com" }, `AlarmEmail: "oncall@exa\u202emple.com" is not an e-mail address`},
		{"an address of 5,000 characters", func(s *Stage) { s.AlarmEmail = strings.Repeat("a", 4988) + "@example.com" }, `has 5000 characters; expected an e-mail address of at most 254`},
		{"a certificate of another region", func(s *Stage) {
			s.CertificateArn = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
		}, `is a certificate of us-east-1 (partition aws); expected one of the stage's region, eu-west-1 (partition aws)`},
		{"a certificate of another account", func(s *Stage) {
			s.CertificateArn = "arn:aws:acm:eu-west-1:111111111111:certificate/12345678-1234-1234-1234-123456789012"
		}, `is a certificate of account 111111111111; expected one of the stage's account, 123456789012`},
		{"a certificate of another partition", func(s *Stage) {
			s.CertificateArn = "arn:aws-cn:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
		}, `is not an ACM certificate ARN; expected arn:aws:acm:REGION:ACCOUNT:certificate/UUID`},
		{"not a certificate", func(s *Stage) { s.CertificateArn = "arn:aws:iam::123456789012:role/x" }, `CertificateArn: "arn:aws:iam::123456789012:role/x" is not an ACM certificate ARN`},
	}
	for _, tc := range cases {
		s := filled
		tc.change(&s)
		err := s.Deployable()
		if err == nil || strings.Contains(err.Error(), "\n") || len(err.Error()) > 400 ||
			!strings.HasPrefix(err.Error(), "stage production (stack Cruddur) is not ready to deploy: correct in "+File+": ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want one short line naming the stage, %s and %q", tc.name, err, File, tc.want)
		}
	}
	// Missing and wrong values are named together.
	s := filled
	s.Region, s.Account = "", "TODO"
	if err := s.Deployable(); err == nil || !strings.Contains(err.Error(), "fill in Region (such as us-east-1) in "+File+"; and correct in "+File+`: Account: "TODO"`) {
		t.Errorf("a missing region and a bad account: %v", err)
	}
	// What AWS does take passes: other partitions' regions and certificates, a
	// plus address, a long top-level domain.
	for _, ok := range []Stage{
		{Name: "cn", StackName: "X", Account: "123456789012", Region: "cn-north-1", CertificateArn: "arn:aws-cn:acm:cn-north-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"},
		{Name: "gov", StackName: "X", Account: "123456789012", Region: "us-gov-west-1", AlarmEmail: "on.call+cruddur@example.technology"},
	} {
		if err := ok.Deployable(); err != nil {
			t.Errorf("%s: %v", ok.Name, err)
		}
	}
}
