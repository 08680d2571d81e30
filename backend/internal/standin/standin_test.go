package standin

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// task is a task definition at path, with an app container for service
// and a daemon beside it.
func task(path, service string) string {
	return `{"Type": "AWS::ECS::TaskDefinition", "Metadata": {"aws:cdk:path": "` + path + `"}, "Properties": {"ContainerDefinitions": [
		{"Name": "app", "Environment": [{"Name": "AWS_XRAY_TRACING_NAME", "Value": "` + service + `"}], "PortMappings": [{"ContainerPort": 4567}]},
		{"Name": "xray-daemon"}]}}`
}

// rule is a sampling rule for service, at priority.
func rule(name, service, priority string) string {
	return `{"Type": "AWS::XRay::SamplingRule", "Properties": {"SamplingRule": {"RuleName": "` + name + `", "ServiceName": "` + service + `", "Priority": ` + priority + `}}}`
}

// TestATemplateWithTwoServicesGivesItsFirst: of a stack with a second
// service (its task in a construct of its own), ReadTemplate gives the task
// at the stack's root, with the rules that can match its service, by
// priority; two tasks at the root are refused, naming the file.
func TestATemplateWithTwoServicesGivesItsFirst(t *testing.T) {
	dir := t.TempDir()
	write := func(resources ...string) string {
		path := filepath.Join(dir, "template.json")
		var body []string
		for i, r := range resources {
			body = append(body, `"R`+string(rune('a'+i))+`": `+r)
		}
		if err := os.WriteFile(path, []byte(`{"Resources": {`+strings.Join(body, ", ")+`}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	path := write(task("Cruddur/Orders/Task/Resource", "orders"), task("Cruddur/Task/Resource", "Cruddur"),
		rule("orders", "orders", "901"), rule("Cruddur", "Cruddur", "9000"), rule("health", "*", "1"))
	// Twenty reads: the resources come in map order, a new one each time.
	for range 20 {
		got, err := ReadTemplate(path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range got.Rules {
			names = append(names, *r.RuleName)
		}
		if got.Env["AWS_XRAY_TRACING_NAME"] != "Cruddur" || got.Port != 4567 || !slices.Equal(got.Sidecars, []string{"xray-daemon"}) || !slices.Equal(names, []string{"health", "Cruddur"}) {
			t.Fatalf("task %+v, rules %v; want Cruddur's task at the root, and the rules health, Cruddur", got, names)
		}
	}
	path = write(task("Cruddur/Task/Resource", "Cruddur"), task("Cruddur/Other/Resource", "other"))
	if _, err := ReadTemplate(path); err == nil || !strings.Contains(err.Error(), path+": two tasks with an app container at the stack's root") {
		t.Errorf("two tasks at the root: %v", err)
	}
}
