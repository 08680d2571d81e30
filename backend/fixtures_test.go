package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// updateFixtures rewrites testdata/ from the stack's golden templates: run
// `go test -run TestTheFixturesAreTheGoldensTasks -update-fixtures .` after
// `make golden` changes the task or the rules.
var updateFixtures = flag.Bool("update-fixtures", false, "rewrite testdata/*.template.json from ../testdata's goldens")

// fixtures are the goldens whose task this module's tests run the backend
// as, by file name, as testdata/ holds them.
func fixtures(t *testing.T) []string {
	t.Helper()
	names := appStacks(t, "testdata")
	if len(names) == 0 {
		t.Fatal("no fixtures in testdata/; make golden writes them")
	}
	return names
}

// appStacks are the templates in dir of every app stack (each stage's, and
// production's with each other collector), by file name: not their access
// stacks, which ../testdata's goldens hold too.
func appStacks(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		if !strings.HasSuffix(p, "-Access.template.json") {
			names = append(names, filepath.Base(p))
		}
	}
	return names
}

// taskOf is the part of a template the backend's tests read: the sampling
// rules, and each task definition with its app container, as CloudFormation
// has them, the names of the others, and its construct path (which names
// the stack's first service: package standin).
func taskOf(template []byte) ([]byte, error) {
	var doc struct {
		Resources map[string]struct {
			Type       string
			Metadata   map[string]any
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		return nil, err
	}
	kept := map[string]any{}
	for id, r := range doc.Resources {
		switch r.Type {
		case "AWS::XRay::SamplingRule":
			kept[id] = map[string]any{"Type": r.Type, "Properties": r.Properties}
		case "AWS::ECS::TaskDefinition":
			defs, _ := r.Properties["ContainerDefinitions"].([]any)
			var containers []any
			for _, c := range defs {
				m, _ := c.(map[string]any)
				// Of the app, what the backend runs by; not the image,
				// whose tag changes with every change to the backend.
				kept := map[string]any{"Name": m["Name"]}
				for _, k := range []string{"Environment", "PortMappings", "StopTimeout"} {
					if v, ok := m[k]; ok && m["Name"] == "app" {
						kept[k] = v
					}
				}
				containers = append(containers, kept)
			}
			kept[id] = map[string]any{"Type": r.Type, "Metadata": map[string]any{"aws:cdk:path": r.Metadata["aws:cdk:path"]},
				"Properties": map[string]any{"ContainerDefinitions": containers}}
		}
	}
	out, err := json.MarshalIndent(map[string]any{"Resources": kept}, "", " ")
	return append(out, '\n'), err
}

// TestTheFixturesAreTheGoldensTasks: the task and rules this module's
// tests run the backend with (testdata/) are the stack's, as its golden
// templates declare them, one fixture per app stack's golden. The module's
// other tests read only testdata/; this one reads the goldens beside the
// module, and is skipped where the module stands alone.
func TestTheFixturesAreTheGoldensTasks(t *testing.T) {
	goldens := appStacks(t, filepath.Join("..", "testdata"))
	if len(goldens) == 0 {
		t.Skip("no ../testdata/*.template.json: the module is not in the stack's repository")
	}
	for _, name := range appStacks(t, "testdata") {
		if slices.Contains(goldens, name) {
			continue
		}
		if !*updateFixtures {
			t.Errorf("testdata/%s is no golden's task; rewrite testdata/ with -update-fixtures", name)
		} else if err := os.Remove(filepath.Join("testdata", name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range goldens {
		golden, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
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
