package stages

import (
	"strings"
	"testing"
)

// TestAStageNeedsTheTeamsValuesToDeploy: a stage with a value still missing
// (or the placeholder certificate) is refused in one line naming the stage
// and each value; filled in, it may deploy.
func TestAStageNeedsTheTeamsValuesToDeploy(t *testing.T) {
	filled := Stage{Name: "production", StackName: "Cruddur", Production: true, Account: "111122223333", Region: "eu-west-1",
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
	dev := Stage{Name: "development", StackName: "Cruddur-Dev", Account: "111122223333", Region: "eu-west-1"}
	if err := dev.Deployable(); err != nil {
		t.Errorf("development needs no certificate or e-mail: %v", err)
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
		if got, err := ByStackName(s.StackName); err != nil || got.Name != s.Name {
			t.Errorf("ByStackName(%s): %v, %v", s.StackName, got, err)
		}
	}
	if _, err := ByStackName("Cruddur-Staging"); err == nil || !strings.Contains(err.Error(), "Cruddur-Dev (development), Cruddur (production)") {
		t.Errorf("an unknown stack: %v", err)
	}
}
