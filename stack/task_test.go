package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestTheTaskIsASmallLinuxFargateTask(t *testing.T) {
	check(t, "a Fargate task, 256 CPU units and 512 MiB, linux/amd64", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"Cpu": "256", "Memory": "512", "NetworkMode": "awsvpc", "RequiresCompatibilities": []any{"FARGATE"},
			"RuntimePlatform": map[string]any{"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
		})
	})
}

// TestTheAppHasWhatTheSidecarLeaves: in every variant and stage, whatever
// the collector and the task's size, the app container's hard memory limit
// is the task's memory less the sidecar's, as the sidecar sized itself.
func TestTheAppHasWhatTheSidecarLeaves(t *testing.T) {
	for id := range synthesized {
		var sizes []string
		for _, task := range resources(t, id, "AWS::ECS::TaskDefinition") {
			memory, _ := strconv.Atoi(fmt.Sprint(task["Memory"]))
			sum := 0
			for _, c := range containers(t, id) {
				sum += c.Memory
				sizes = append(sizes, fmt.Sprintf("%s %d MiB", c.Name, c.Memory))
			}
			if c := containers(t, id); len(c) != 2 || c["app"].Memory == 0 || sum != memory {
				t.Errorf("%s: a task of %d MiB, containers %v; want the app and its sidecar, summing to the task's", id, memory, sizes)
			}
		}
	}
}

// TestTheBackendsGCFitsItsContainer: in every variant the Go runtime
// collects less often than by default (GOGC over 100) and has a soft memory
// limit under the app container's hard one, with headroom for what is not
// Go heap (stacks, the binary, buffers the kernel counts), so that the
// runtime collects before the OOM killer would stop the container.
func TestTheBackendsGCFitsItsContainer(t *testing.T) {
	for id := range synthesized {
		app := containers(t, id)["app"]
		gogc, err := strconv.Atoi(app.env("GOGC"))
		if err != nil || gogc <= 100 {
			t.Errorf("%s: the app's GOGC=%q; want a whole number over Go's default of 100", id, app.env("GOGC"))
		}
		limit, err := strconv.Atoi(strings.TrimSuffix(app.env("GOMEMLIMIT"), "MiB"))
		if err != nil || !strings.HasSuffix(app.env("GOMEMLIMIT"), "MiB") || limit <= app.Memory/2 || limit > app.Memory*95/100 {
			t.Errorf("%s: the app's GOMEMLIMIT=%q in a container of %d MiB; want MiB, over half of it and at most 95%%", id, app.env("GOMEMLIMIT"), app.Memory)
		}
	}
}

func TestTheAppRunsTheBackendsImageWithItsTracingEnvironment(t *testing.T) {
	check(t, "app: the backend's image asset, port, tracing environment, health check, after the daemon, hardened", func() {
		tmpl("Daemon").HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"ContainerDefinitions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Name":         "app",
				"Image":        map[string]any{"Fn::Sub": assertions.Match_StringLikeRegexp(jsii.String(`cdk-hnb659fds-container-assets-.*:[0-9a-f]{64}$`))},
				"PortMappings": []any{map[string]any{"ContainerPort": 4567, "Protocol": "tcp", "Name": "http"}},
				"Environment": []any{
					map[string]any{"Name": "CRUDDUR_TRUSTED_PROXIES", "Value": "1"},
					map[string]any{"Name": "PORT", "Value": "4567"},
					map[string]any{"Name": "AWS_XRAY_DAEMON_ADDRESS", "Value": "127.0.0.1:2000"},
					map[string]any{"Name": "AWS_XRAY_TRACING_NAME", "Value": "Cruddur"},
					map[string]any{"Name": "GOGC", "Value": "400"},
					map[string]any{"Name": "GOMEMLIMIT", "Value": "230MiB"},
				},
				"Essential": true, "Memory": 256,
				"DependsOn":   []any{map[string]any{"ContainerName": "xray-daemon", "Condition": "START"}},
				"HealthCheck": assertions.Match_ObjectLike(&map[string]any{"Command": []any{"CMD", "/cruddur-backend", "-healthcheck"}}),
				"User":        "65532:65532", "ReadonlyRootFilesystem": true,
				"LogConfiguration": map[string]any{"LogDriver": "awslogs", "Options": assertions.Match_ObjectLike(&map[string]any{
					"awslogs-group": map[string]any{"Ref": "TaskAppLogsBB4C71B5"}, "awslogs-stream-prefix": "app",
				})},
			})}),
		})
	})
}

// TestAppUserIsTheImageUser: the task runs the backend as the user its
// image declares, never root.
func TestAppUserIsTheImageUser(t *testing.T) {
	dockerfile, err := os.ReadFile("../" + backendDir + "/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)\s*$`).FindAllSubmatch(dockerfile, -1)
	if len(users) == 0 {
		t.Fatal("backend/Dockerfile sets no USER")
	}
	imageUser := string(users[len(users)-1][1])
	if got := containers(t, "Default")["app"].User; got != imageUser || strings.HasPrefix(got, "0") || got == "root" {
		t.Fatalf("the app container runs as %q; the image's user is %q", got, imageUser)
	}
}

func TestLogGroupsHaveRetention(t *testing.T) {
	groups := resources(t, "Default", "AWS::Logs::LogGroup")
	if len(groups) != 3 {
		t.Fatalf("%d log groups, want 3 (app, sidecar, VPC flow log)", len(groups))
	}
	for id, g := range groups {
		if g["RetentionInDays"] != 30.0 {
			t.Errorf("%s keeps logs %v days, want 30", id, g["RetentionInDays"])
		}
	}
}

// TestTaskRoleMaySendTracesOnly: the task role's one grant is the five
// X-Ray actions the collector calls.
func TestTaskRoleMaySendTracesOnly(t *testing.T) {
	var grants []string
	for id, p := range resources(t, "Default", "AWS::IAM::Policy") {
		for _, role := range p["Roles"].([]any) {
			if role.(map[string]any)["Ref"] == "TaskTaskRoleE98524A1" {
				out, _ := json.Marshal(p["PolicyDocument"])
				grants = append(grants, id+" "+string(out))
			}
		}
	}
	want := `TracingPolicyC4C8F728 {"Statement":[{"Action":["xray:PutTraceSegments","xray:PutTelemetryRecords","xray:GetSamplingRules","xray:GetSamplingTargets","xray:GetSamplingStatisticSummaries"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}`
	if len(grants) != 1 || grants[0] != want {
		t.Fatalf("task role grants:\n%s\nwant exactly:\n%s", strings.Join(grants, "\n"), want)
	}
	if p := resources(t, "Default", "AWS::IAM::Role")["TaskTaskRoleE98524A1"]; p["Policies"] != nil || p["ManagedPolicyArns"] != nil {
		t.Fatalf("the task role has policies of its own: %v", p)
	}
}

// TestNoCredentialsInContainerEnvironments: no container of any variant gets
// AWS keys or secrets; the task role carries permissions.
func TestNoCredentialsInContainerEnvironments(t *testing.T) {
	for id := range variants {
		for name, c := range containers(t, id) {
			if len(c.Secrets) > 0 {
				t.Errorf("%s/%s has secrets", id, name)
			}
			for _, e := range c.Environment {
				if strings.HasPrefix(e.Name, "AWS_ACCESS_KEY") || strings.HasPrefix(e.Name, "AWS_SECRET") || e.Name == "AWS_SESSION_TOKEN" {
					t.Errorf("%s/%s sets %s", id, name, e.Name)
				}
			}
		}
	}
}
