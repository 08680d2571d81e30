package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// collectorConfig reads the collector's configuration out of its container's
// environment, with the deploy-time region shown as REGION.
func collectorConfig(t *testing.T, template []byte) map[string]any {
	t.Helper()
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				ContainerDefinitions []struct {
					Name        string
					Environment []struct {
						Name  string
						Value any
					}
				}
			}
		}
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Resources {
		for _, c := range r.Properties.ContainerDefinitions {
			for _, e := range c.Environment {
				if c.Name != "otel-collector" || e.Name != "AOT_CONFIG_CONTENT" {
					continue
				}
				var text strings.Builder
				switch v := e.Value.(type) {
				case string:
					text.WriteString(v)
				case map[string]any: // {"Fn::Join": ["", [part, {"Ref": "AWS::Region"}, ...]]}
					for _, part := range v["Fn::Join"].([]any)[1].([]any) {
						if s, ok := part.(string); ok {
							text.WriteString(s)
						} else if ref, _ := part.(map[string]any)["Ref"].(string); ref == "AWS::Region" {
							text.WriteString("REGION")
						} else {
							t.Fatalf("unexpected part %v in the collector's configuration", part)
						}
					}
				}
				var cfg map[string]any
				if err := json.Unmarshal([]byte(text.String()), &cfg); err != nil {
					t.Fatalf("the collector's configuration is not JSON (and so not YAML either): %v\n%s", err, text.String())
				}
				return cfg
			}
		}
	}
	t.Fatal("no otel-collector container with AOT_CONFIG_CONTENT")
	return nil
}

func TestADOTCollector(t *testing.T) {
	template, tmpl := synth.adot.template, synth.adot.tmpl

	check(t, "the collector replaces the daemon: pinned, configured from its environment, OTLP and X-Ray ports, its own health check, hardened", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Name":    "otel-collector",
				"Image":   "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0",
				"Command": []any{"--config=env:AOT_CONFIG_CONTENT"},
				"PortMappings": []any{
					map[string]any{"ContainerPort": 2000, "Protocol": "udp", "Name": "xray-udp"},
					map[string]any{"ContainerPort": 2000, "Protocol": "tcp", "Name": "xray-tcp"},
					map[string]any{"ContainerPort": 4317, "Protocol": "tcp", "Name": "otlp-grpc"},
					map[string]any{"ContainerPort": 4318, "Protocol": "tcp", "Name": "otlp-http"},
				},
				"HealthCheck":            assertions.Match_ObjectLike(&map[string]any{"Command": []any{"CMD", "/healthcheck"}}),
				"Essential":              false,
				"RestartPolicy":          map[string]any{"Enabled": true, "RestartAttemptPeriod": 60},
				"User":                   "10001",
				"ReadonlyRootFilesystem": true,
				"Memory":                 256,
				"LogConfiguration": map[string]any{
					"LogDriver": "awslogs",
					"Options":   assertions.Match_ObjectLike(&map[string]any{"awslogs-stream-prefix": "otel-collector"}),
				},
			})}),
		})
	})
	containers := taskContainers(t, template)
	if _, ok := containers["xray-daemon"]; ok {
		t.Error("the X-Ray daemon is still there beside the collector")
	}
	app := containers["app"]
	for name, want := range map[string]string{
		"CRUDDUR_TRACING":             "otel",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		"OTEL_SERVICE_NAME":           "Cruddur",
		"AWS_XRAY_DAEMON_ADDRESS":     "127.0.0.1:2000",
		"AWS_XRAY_TRACING_NAME":       "Cruddur",
		"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":     "0.1", // the rule's FixedRate
	} {
		if got, _ := app.env(name); got != want {
			t.Errorf("app environment %s = %q, want %q", name, got, want)
		}
	}
	if len(app.DependsOn) != 1 || app.DependsOn[0].ContainerName != "otel-collector" || app.DependsOn[0].Condition != "START" {
		t.Errorf("the app depends on %+v, want the collector's START", app.DependsOn)
	}

	cfg := collectorConfig(t, template)
	got, _ := json.Marshal(cfg)
	want := `{"exporters":{"awsxray":{"region":"REGION"}},` +
		`"extensions":{"health_check":{"endpoint":"127.0.0.1:13133"}},` +
		`"processors":{"batch":{"timeout":"1s"},"memory_limiter":{"check_interval":"1s","limit_mib":204,"spike_limit_mib":51}},` +
		`"receivers":{"awsxray":{"endpoint":"127.0.0.1:2000","proxy_server":{"endpoint":"127.0.0.1:2000","region":"REGION"},"transport":"udp"},` +
		`"otlp":{"protocols":{"grpc":{"endpoint":"127.0.0.1:4317"},"http":{"endpoint":"127.0.0.1:4318"}}}},` +
		`"service":{"extensions":["health_check"],"pipelines":{"traces":{"exporters":["awsxray"],"processors":["memory_limiter","batch"],"receivers":["awsxray","otlp"]}}}}`
	if string(got) != want {
		t.Errorf("collector configuration:\n got %s\nwant %s", got, want)
	}

	actions, _ := roleGrants(t, template, "TaskTaskRole")
	if len(actions) != 5 || !strings.HasPrefix(strings.Join(actions, ","), "xray:") {
		t.Errorf("task role with the collector allows %v, want the same five X-Ray actions", actions)
	}
	guardPasses(t, "the collector variant", background.guardADOT.wait())
}

// TestSwitchingTheCollectorReplacesOnlyTheTaskDefinition diffs the two golden
// templates as a pull request would: flipping cruddur:collector changes one
// resource, the task definition, and trips no guard.
func TestSwitchingTheCollectorReplacesOnlyTheTaskDefinition(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", StackID+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(filepath.Join("testdata", StackID+"-adot.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, code := templateDiff(t, base, head, false)
	if code != 0 || !strings.Contains(out, "Resources changed: 1") || !strings.Contains(out, "[~] AWS::ECS::TaskDefinition Task9183C538") {
		t.Fatalf("exit %d, want 0 and one changed task definition:\n%s", code, out)
	}
}
