package tracing

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"

	"go.opentelemetry.io/otel/trace"
)

// TestServerSpansCarryWhatXRayShows: the server span of a recorded request
// has the attributes the collector's awsxray exporter turns into a
// segment's http block (method, URL, client, user agent, status, response
// size), and a 5xx is an error.
func TestServerSpansCarryWhatXRayShows(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	o := newOTelTracingWith(resource.Empty(), xraySampler{strategy: backendtest.SampleAll(t), service: "Cruddur"}, sdktrace.WithSyncer(exporter))
	h := o.serverSpans(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("busy\n"))
	}), false)
	req := httptest.NewRequest("POST", "http://api.cruddur.example:8080/api/messages?secret=1", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.7") // as edge.Handler leaves it
	req.Header.Set("User-Agent", "cruddur-web/1.0")
	h.ServeHTTP(httptest.NewRecorder(), req)

	spans := exporter.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans; want the server span", len(spans))
	}
	s := spans[0]
	got := map[string]string{}
	for _, kv := range s.Attributes {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	want := map[string]string{
		"http.request.method": "POST", "url.scheme": "http", "server.address": "api.cruddur.example", "server.port": "8080",
		"url.path": "/api/messages", "client.address": "203.0.113.7", "user_agent.original": "cruddur-web/1.0",
		"http.response.status_code": "503", "http.response.body.size": "5", "http.response_content_length": "5",
	}
	if !maps.Equal(got, want) {
		t.Errorf("attributes %v; want exactly %v (no query string)", got, want)
	}
	if s.Name != "POST /api/messages" || s.SpanKind != trace.SpanKindServer || s.Status.Code != codes.Error {
		t.Errorf("span %q, kind %v, status %v; want a server span named for the route, an error", s.Name, s.SpanKind, s.Status)
	}
}

// askedWith records the service type every decision is asked with, and
// traces nothing.
type askedWith struct {
	mu    sync.Mutex
	types []string
}

func (a *askedWith) ShouldTrace(r *sampling.Request) *sampling.Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.types = append(a.types, r.ServiceType)
	return &sampling.Decision{}
}

// TestOpenTelemetryAsksTheRulesWithItsSegmentsOrigin: the origin that the
// awsxray exporter writes from the resource (ECS by launch type, nothing
// off AWS) is the service type the rules are asked with, so a rule typed
// to AWS::ECS::Fargate matches the Fargate task's segments.
func TestOpenTelemetryAsksTheRulesWithItsSegmentsOrigin(t *testing.T) {
	ecs := func(launch ...attribute.KeyValue) *resource.Resource {
		return resource.NewSchemaless(append([]attribute.KeyValue{semconv.CloudProviderAWS, semconv.CloudPlatformAWSECS}, launch...)...)
	}
	for _, tc := range []struct {
		name string
		res  *resource.Resource
		want string
	}{
		{"Fargate", ecs(semconv.AWSECSLaunchtypeFargate), "AWS::ECS::Fargate"},
		{"EC2", ecs(semconv.AWSECSLaunchtypeEC2), "AWS::ECS::EC2"},
		{"ECS, launch type unknown", ecs(), "AWS::ECS::Container"},
		{"off AWS", resource.Empty(), ""},
	} {
		asked := &askedWith{}
		o := newOTelTracingWith(tc.res, xraySampler{strategy: asked, service: "Cruddur"}, sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
		o.wrap(api(o), testOptions()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/activities/home", nil))
		if len(asked.types) != 1 || asked.types[0] != tc.want {
			t.Errorf("%s: the rules were asked with service types %q, want [%q]", tc.name, asked.types, tc.want)
		}
	}
}

// TestTheOriginsTheAppChecksRulesByAreTheBackends: testdata/origins.json
// holds, by tracing mode (CRUDDUR_TRACING), the origin the backend asks the
// rules with on ECS Fargate. The app checks a service's rule's ServiceType
// against the same file's origins (stack/, segmentOrigin), so the two
// modules' copies cannot part.
func TestTheOriginsTheAppChecksRulesByAreTheBackends(t *testing.T) {
	data, err := os.ReadFile("../../testdata/origins.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("testdata/origins.json: %v", err)
	}
	fargate := resource.NewSchemaless(semconv.CloudProviderAWS, semconv.CloudPlatformAWSECS, semconv.AWSECSLaunchtypeFargate)
	got := map[string]string{XRay: Options{OnECS: true}.serviceType(), OpenTelemetry: xrayOrigin(fargate)}
	if !maps.Equal(got, want) {
		t.Errorf("on ECS Fargate the backend asks the rules with %v; testdata/origins.json says %v", got, want)
	}
}
