package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTheBackendRunsWithTheTasksEnvironment: the bench takes the app
// container's environment from each golden template, less the variables it
// sets itself, so the backend runs as the task runs it.
func TestTheBackendRunsWithTheTasksEnvironment(t *testing.T) {
	spec, err := readTemplate("../testdata/Cruddur.template.json")
	if err != nil {
		t.Fatal(err)
	}
	env := spec.env
	if !slices.Contains(env, "AWS_XRAY_TRACING_NAME=Cruddur") {
		t.Errorf("environment %v lacks the stack's AWS_XRAY_TRACING_NAME", env)
	}
	// The task's garbage-collector settings, unless -go-gc-defaults.
	for _, name := range []string{"GOGC=", "GOMEMLIMIT="} {
		has := func(e string) bool { return strings.HasPrefix(e, name) }
		if !slices.ContainsFunc(env, has) || slices.ContainsFunc(withoutGoGC(env), has) {
			t.Errorf("environment %v: want the task's %s, and -go-gc-defaults to drop it", env, name)
		}
	}
	if len(withoutGoGC(env)) != len(env)-2 {
		t.Errorf("-go-gc-defaults leaves %v of %v; want all but GOGC and GOMEMLIMIT", withoutGoGC(env), env)
	}
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		if name == "PORT" || name == "AWS_XRAY_DAEMON_ADDRESS" || name == "CRUDDUR_TRACING" {
			t.Errorf("%s comes from the template; the bench sets it", e)
		}
	}
	// The ADOT stack's app runs in OpenTelemetry mode; the bench picks the
	// mode itself.
	adot, err := readTemplate("../testdata/Cruddur-adot.template.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range adot.env {
		if strings.HasPrefix(e, "CRUDDUR_TRACING=") {
			t.Errorf("%s comes from the template; the bench sets it", e)
		}
	}
}

func TestATemplateWithoutAnAppIsRefused(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "t.json")
	os.WriteFile(empty, []byte(`{"Resources": {}}`), 0o644)
	for path, want := range map[string]string{
		empty:                           "no task definition with an app container",
		filepath.Join(dir, "none.json"): "-template: open",
	} {
		if _, err := readTemplate(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readTemplate(%s) = %v; want an error with %q", path, err, want)
		}
	}
}

// TestTheStandInServesTheTemplatesRules: the bench samples as the stack
// does: the template's rules in priority order, the health check's first,
// and OpenTelemetry at the rate of the rule that applies to the bench's path.
func TestTheStandInServesTheTemplatesRules(t *testing.T) {
	spec, err := readTemplate("../testdata/Cruddur.template.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range spec.rules {
		names = append(names, *r.RuleName)
	}
	if !slices.Equal(names, []string{"Cruddur-health-check", "Cruddur"}) {
		t.Errorf("rules %v; want the health check's, then the seed's", names)
	}
	if got := spec.rateFor(benchPath); got != 0.1 {
		t.Errorf("rate for %s: %g; want the seed's 0.1", benchPath, got)
	}
	if got := spec.rateFor("/api/health-check"); got != 0 {
		t.Errorf("rate for the health check: %g; want 0", got)
	}
}

func TestModesAreChosenByName(t *testing.T) {
	got, err := selectModes(modes, "xray,otel")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.name)
	}
	if !slices.Equal(names, []string{"untraced", "xray", "otel"}) {
		t.Errorf("modes %v; want untraced, xray, otel", names)
	}
	if _, err := selectModes(modes, "xray,xray-flor"); err == nil || !strings.Contains(err.Error(), `"xray-flor" is not a mode`) {
		t.Errorf("a misspelt mode: %v", err)
	}
}
