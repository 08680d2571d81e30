package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// updateFixtures rewrites testdata/ from the stack's golden templates: run
// `go test -run TestTheFixturesAreTheGoldensTasks -update-fixtures .` after
// `make golden` changes the task or the rules.
var updateFixtures = flag.Bool("update-fixtures", false, "rewrite testdata/*.template.json from ../testdata's goldens")

// fixtures are the goldens whose task this module's tests run the backend
// as: production with each collector, and development.
var fixtures = []string{"Cruddur.template.json", "Cruddur-Dev.template.json", "Cruddur-adot.template.json", "Cruddur-cloudwatch-agent.template.json"}

// taskOf is the part of a template the backend's tests read: the sampling
// rules, and the task definition with its app container alone, as
// CloudFormation has them.
func taskOf(template []byte) ([]byte, error) {
	var doc struct{ Resources map[string]map[string]any }
	if err := json.Unmarshal(template, &doc); err != nil {
		return nil, err
	}
	kept := map[string]any{}
	for id, r := range doc.Resources {
		switch r["Type"] {
		case "AWS::XRay::SamplingRule":
			kept[id] = map[string]any{"Type": r["Type"], "Properties": r["Properties"]}
		case "AWS::ECS::TaskDefinition":
			props, _ := r["Properties"].(map[string]any)
			defs, _ := props["ContainerDefinitions"].([]any)
			var app []any
			for _, c := range defs {
				if m, _ := c.(map[string]any); m["Name"] == "app" {
					// What the backend runs by; not the image, whose
					// tag changes with every change to the backend.
					kept := map[string]any{}
					for _, k := range []string{"Name", "Environment", "PortMappings", "StopTimeout"} {
						if v, ok := m[k]; ok {
							kept[k] = v
						}
					}
					app = append(app, kept)
				}
			}
			kept[id] = map[string]any{"Type": r["Type"], "Properties": map[string]any{"ContainerDefinitions": app}}
		}
	}
	out, err := json.MarshalIndent(map[string]any{"Resources": kept}, "", " ")
	return append(out, '\n'), err
}

// TestTheFixturesAreTheGoldensTasks: the task and rules this module's
// tests run the backend with (testdata/) are the stack's, as its golden
// templates declare them. The module's other tests read only testdata/;
// this one reads the goldens beside the module, and is skipped where the
// module stands alone.
func TestTheFixturesAreTheGoldensTasks(t *testing.T) {
	for _, name := range fixtures {
		golden, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if errors.Is(err, os.ErrNotExist) {
			t.Skipf("no ../testdata/%s: the module is not in the stack's repository", name)
		} else if err != nil {
			t.Fatal(err)
		}
		want, err := taskOf(golden)
		if err != nil {
			t.Fatalf("../testdata/%s: %v", name, err)
		}
		path := filepath.Join("testdata", name)
		if *updateFixtures {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not the task and rules of ../testdata/%s (%v); rewrite it with -update-fixtures", path, name, err)
		}
	}
}
