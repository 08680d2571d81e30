package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// container is the part of an ECS container definition these tests read.
type container struct {
	Name        string
	Image       any
	EntryPoint  []string
	Command     []any
	Essential   bool
	User        string
	Environment []struct {
		Name  string
		Value any // a string, or an intrinsic such as Fn::Join
	}
	DependsOn   []struct{ Condition, ContainerName string }
	HealthCheck *struct{ Command []string }
	Secrets     []any
}

// taskContainers returns the containers of every task definition in a
// template, by name.
func taskContainers(t *testing.T, template []byte) map[string]container {
	t.Helper()
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties struct{ ContainerDefinitions []container }
		}
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]container{}
	for _, r := range doc.Resources {
		if r.Type == "AWS::ECS::TaskDefinition" {
			for _, c := range r.Properties.ContainerDefinitions {
				out[c.Name] = c
			}
		}
	}
	return out
}

func (c container) env(name string) (string, bool) {
	for _, e := range c.Environment {
		if e.Name == name {
			s, ok := e.Value.(string)
			return s, ok
		}
	}
	return "", false
}

func TestTaskDefinition(t *testing.T) {
	check(t, "one Fargate task definition of the default size", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::ECS::TaskDefinition"), jsii.Number(1))
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"RequiresCompatibilities": []any{"FARGATE"},
			"NetworkMode":             "awsvpc",
			"Cpu":                     "256",
			"Memory":                  "512",
			"RuntimePlatform":         map[string]any{"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
		})
	})
}

func TestDaemonContainer(t *testing.T) {
	check(t, "daemon: pinned image, loopback binds, local mode, region, bounded buffer, non-essential with restarts, hardened", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{
					"Name":       "xray-daemon",
					"Image":      "public.ecr.aws/xray/aws-xray-daemon:3.6.6",
					"EntryPoint": []any{"/xray"},
					"Command": []any{
						"-b", "127.0.0.1:2000", "-t", "127.0.0.1:2000", "-o",
						"-n", map[string]any{"Ref": "AWS::Region"},
						"-m", "64", "-l", "info",
					},
					"Cpu":               32,
					"MemoryReservation": 256,
					"PortMappings": []any{
						map[string]any{"ContainerPort": 2000, "Protocol": "udp", "Name": "xray-udp"},
						map[string]any{"ContainerPort": 2000, "Protocol": "tcp", "Name": "xray-tcp"},
					},
					"Essential":              false,
					"RestartPolicy":          map[string]any{"Enabled": true, "RestartAttemptPeriod": 60},
					"User":                   "10001",
					"ReadonlyRootFilesystem": true,
					"HealthCheck":            assertions.Match_Absent(),
					"LogConfiguration": map[string]any{
						"LogDriver": "awslogs",
						"Options": assertions.Match_ObjectLike(&map[string]any{
							"awslogs-stream-prefix": "xray-daemon",
						}),
					},
				}),
			}),
		})
	})
}

func TestAppContainer(t *testing.T) {
	check(t, "app: the backend's image asset, port, tracing environment, health check, after the daemon, hardened", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{
					"Name": "app",
					"Image": map[string]any{
						"Fn::Sub": assertions.Match_StringLikeRegexp(jsii.String(`cdk-hnb659fds-container-assets-.*:[0-9a-f]{64}$`)),
					},
					"PortMappings": []any{map[string]any{"ContainerPort": 4567, "Protocol": "tcp", "Name": "http"}},
					"Environment": assertions.Match_ArrayWith(&[]any{
						map[string]any{"Name": "AWS_XRAY_DAEMON_ADDRESS", "Value": "127.0.0.1:2000"},
						map[string]any{"Name": "AWS_XRAY_TRACING_NAME", "Value": "Cruddur"},
						map[string]any{"Name": "PORT", "Value": "4567"},
					}),
					"Essential":              true,
					"DependsOn":              []any{map[string]any{"ContainerName": "xray-daemon", "Condition": "START"}},
					"HealthCheck":            assertions.Match_ObjectLike(&map[string]any{"Command": []any{"CMD", "/cruddur-backend", "-healthcheck"}}),
					"User":                   "65532:65532",
					"ReadonlyRootFilesystem": true,
					"LogConfiguration": map[string]any{
						"LogDriver": "awslogs",
						"Options":   assertions.Match_ObjectLike(&map[string]any{"awslogs-stream-prefix": "app"}),
					},
				}),
			}),
		})
	})
}

func TestLogGroupsHaveRetention(t *testing.T) {
	check(t, "three log groups (app, daemon, VPC flow log) kept 30 days", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::Logs::LogGroup"), jsii.Number(3))
		synth.tmpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
	})
}

// TestTracingNameIsTheServiceName checks the single source: the app names its
// segments what the group filters on and the rule matches.
func TestTracingNameIsTheServiceName(t *testing.T) {
	app := taskContainers(t, synth.template)["app"]
	name, ok := app.env("AWS_XRAY_TRACING_NAME")
	if !ok {
		t.Fatal("the app has no AWS_XRAY_TRACING_NAME")
	}
	check(t, "group filter and rule ServiceName use the tracing name", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::XRay::Group"), map[string]any{
			"FilterExpression": fmt.Sprintf("service(%q)", name),
		})
		synth.tmpl.HasResourceProperties(jsii.String("AWS::XRay::SamplingRule"), map[string]any{
			"SamplingRule": assertions.Match_ObjectLike(&map[string]any{"ServiceName": name}),
		})
	})
}

// TestTaskRoleAllowsExactlyTheXRayWrites reads every IAM statement attached to
// the task role, inline or not, and wants the five daemon actions and nothing
// else.
func TestTaskRoleAllowsExactlyTheXRayWrites(t *testing.T) {
	actions, resources := roleGrants(t, synth.template, "TaskTaskRole")
	want := []string{
		"xray:GetSamplingRules", "xray:GetSamplingStatisticSummaries", "xray:GetSamplingTargets",
		"xray:PutTelemetryRecords", "xray:PutTraceSegments",
	}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Errorf("task role allows %v, want exactly %v", actions, want)
	}
	if fmt.Sprint(resources) != "[*]" {
		t.Errorf("task role statements on %v, want [*]: X-Ray has no resource-level permissions for these", resources)
	}
	check(t, "no managed policies on the task role", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"Description":       assertions.Match_StringLikeRegexp(jsii.String("^Task role")),
			"ManagedPolicyArns": assertions.Match_Absent(),
		})
	})
}

// roleGrants collects the allowed actions and resources of every policy that
// applies to the role whose logical id starts with rolePrefix: its inline
// Policies and any AWS::IAM::Policy attached to it.
func roleGrants(t *testing.T, template []byte, rolePrefix string) (actions, resources []string) {
	t.Helper()
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		t.Fatal(err)
	}
	type statement struct {
		Effect   string
		Action   any
		Resource any
	}
	type policyDoc struct{ Statement []statement }
	var docs []policyDoc
	roleID := ""
	for id, r := range doc.Resources {
		if r.Type == "AWS::IAM::Role" && regexp.MustCompile("^"+rolePrefix+"[0-9A-F]{8}$").MatchString(id) {
			roleID = id
			var inline []struct{ PolicyDocument policyDoc }
			if raw, ok := r.Properties["Policies"]; ok {
				if err := json.Unmarshal(raw, &inline); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range inline {
				docs = append(docs, p.PolicyDocument)
			}
		}
	}
	if roleID == "" {
		t.Fatalf("no role %s* in the template", rolePrefix)
	}
	for _, r := range doc.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		var roles []map[string]string
		json.Unmarshal(r.Properties["Roles"], &roles)
		for _, ref := range roles {
			if ref["Ref"] == roleID {
				var d policyDoc
				if err := json.Unmarshal(r.Properties["PolicyDocument"], &d); err != nil {
					t.Fatal(err)
				}
				docs = append(docs, d)
			}
		}
	}
	// add appends v's strings to list, once each.
	add := func(list *[]string, seen map[string]bool, v any) {
		var items []any
		if l, ok := v.([]any); ok {
			items = l
		} else {
			items = []any{v}
		}
		for _, e := range items {
			s, ok := e.(string)
			if !ok {
				s = fmt.Sprint(e) // an intrinsic: never one of the expected values
			}
			if !seen[s] {
				seen[s] = true
				*list = append(*list, s)
			}
		}
	}
	seenActions, seenResources := map[string]bool{}, map[string]bool{}
	for _, d := range docs {
		for _, s := range d.Statement {
			if s.Effect != "Allow" {
				continue
			}
			add(&actions, seenActions, s.Action)
			add(&resources, seenResources, s.Resource)
		}
	}
	sort.Strings(actions)
	sort.Strings(resources)
	return actions, resources
}

var (
	accessKeyPattern  = regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`)
	secretNamePattern = regexp.MustCompile(`(?i)(SECRET|ACCESS_KEY|SESSION_TOKEN|PASSWORD|CREDENTIAL)`)
)

// credentialsInEnvironment lists every container environment variable that
// holds, or is named like, an AWS credential.
func credentialsInEnvironment(t *testing.T, template []byte) []string {
	var found []string
	for _, c := range taskContainers(t, template) {
		for _, e := range c.Environment {
			if accessKeyPattern.MatchString(fmt.Sprint(e.Value)) || secretNamePattern.MatchString(e.Name) {
				found = append(found, c.Name+": "+e.Name)
			}
		}
	}
	return found
}

func TestNoCredentialsInContainerEnvironments(t *testing.T) {
	if found := credentialsInEnvironment(t, synth.template); len(found) > 0 {
		t.Fatalf("AWS credentials in container environments: %v; the task role carries the permissions", found)
	}
	if m := accessKeyPattern.Find(synth.template); m != nil {
		t.Fatalf("something like an access key id in the template: %s", m)
	}

	// The check itself must catch the seed's compose file translated as is.
	seedLike := []byte(`{"Resources": {"T": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ContainerDefinitions": [
		{"Name": "xray-daemon", "Environment": [
			{"Name": "AWS_ACCESS_KEY_ID", "Value": "AKIAIOSFODNN7EXAMPLE"},
			{"Name": "AWS_SECRET_ACCESS_KEY", "Value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
			{"Name": "AWS_REGION", "Value": "us-east-1"}]}]}}}}`)
	if found := credentialsInEnvironment(t, seedLike); len(found) != 2 {
		t.Fatalf("the credential check found %v in the seed's variables, want both keys", found)
	}
}
