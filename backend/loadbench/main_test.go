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
	env, err := appEnvironment("../../testdata/Cruddur.template.json")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(env, "AWS_XRAY_TRACING_NAME=Cruddur") {
		t.Errorf("environment %v lacks the stack's AWS_XRAY_TRACING_NAME", env)
	}
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		if name == "PORT" || name == "AWS_XRAY_DAEMON_ADDRESS" || name == "CRUDDUR_TRACING" {
			t.Errorf("%s comes from the template; the bench sets it", e)
		}
	}
	// The ADOT stack's app runs in OpenTelemetry mode; the bench picks the
	// mode itself.
	adot, err := appEnvironment("../../testdata/Cruddur-adot.template.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range adot {
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
		if _, err := appEnvironment(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("appEnvironment(%s) = %v; want an error with %q", path, err, want)
		}
	}
}
