package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/backendtest"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// fakeCollector stands in for the collector's OTLP/HTTP receiver on
// loopback and keeps every span it is sent.
type fakeCollector struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
}

func (c *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || r.URL.Path != "/v1/traces" {
		http.Error(w, "not an OTLP trace export", http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		c.resource = rs.Resource.GetAttributes()
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// serveAndWait serves h and reports each request once h has returned, which
// is when serverSpans has ended the request's span.
func serveAndWait(h http.Handler) (*httptest.Server, chan struct{}) {
	served := make(chan struct{}, 8)
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		served <- struct{}{}
	})), served
}

func attr(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// otelBackend is the backend in OpenTelemetry mode, with env added to its
// environment, exporting to a stand-in collector; served reports each request
// once its span has ended, flush sends what is batched.
func otelBackend(t *testing.T, env map[string]string) (app *httptest.Server, served chan struct{}, collector *fakeCollector, flush func()) {
	t.Helper()
	collector = &fakeCollector{}
	otlp := httptest.NewServer(collector)
	t.Cleanup(otlp.Close)
	// X-Ray's rules as a collector's sampling proxy serves them: the
	// template's health-check rule, then one that records every request.
	var check *sampling.SamplingRule
	for _, r := range backendtest.TemplateRules(t, "testdata/Cruddur.template.json") {
		if *r.URLPath == healthCheckPath {
			check = r
		}
	}
	proxy := backendtest.SamplingProxy(t, []*sampling.SamplingRule{check, backendtest.Everything()})
	vars := map[string]string{"CRUDDUR_TRACING": "otel", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "AWS_XRAY_DAEMON_ADDRESS": "tcp:" + proxy + " udp:" + backendtest.NoDaemon}
	for k, v := range env {
		vars[k] = v
	}
	handler, flush, err := tracedHandler(context.Background(), func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, served = serveAndWait(handler)
	t.Cleanup(app.Close)
	// The SDK polls from the start; until the rules are in it traces
	// nothing.
	waitForOTelRules(t, app.URL, collector, flush, served)
	return app, served, collector, flush
}

// waitForOTelRules waits until the backend in OpenTelemetry mode at url has
// loaded backendtest.Probe: a probe to its health check (which it does not
// log) is exported as a span. It leaves the collector empty; served, if
// not nil, is told of each probe.
func waitForOTelRules(t *testing.T, url string, c *fakeCollector, flush func(), served chan struct{}) {
	t.Helper()
	backendtest.Eventually(t, 10*time.Second, "the backend loading the sampling rules", func() bool {
		backendtest.Get(t, url+healthCheckPath, backendtest.ProbeHost)
		if served != nil {
			<-served
		}
		flush()
		return c.serverSpans() > 0
	})
}

func TestOpenTelemetryModeExportsSpans(t *testing.T) {
	app, served, collector, flush := otelBackend(t, map[string]string{"OTEL_SERVICE_NAME": "Cruddur"})
	before := time.Now()
	resp, body := backendtest.Get(t, app.URL+"/api/activities/home", "")
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-served
	flush() // as SIGTERM does: sends the batch

	collector.mu.Lock()
	defer collector.mu.Unlock()
	if name := attr(collector.resource, "service.name"); name.GetStringValue() != "Cruddur" {
		t.Errorf("resource service.name %v, want Cruddur", name)
	}
	var server, step *tracepb.Span
	for _, s := range collector.spans {
		switch s.Name {
		case "GET /api/activities/home":
			server = s
		case "mock-data":
			step = s
		}
	}
	if server == nil || step == nil {
		t.Fatalf("spans %v, want GET /api/activities/home and mock-data", collector.spans)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span kind %v", server.Kind)
	}
	if string(step.TraceId) != string(server.TraceId) || string(step.ParentSpanId) != string(server.SpanId) {
		t.Errorf("mock-data is not a child of the request's span")
	}
	if m := attr(server.Attributes, "http.request.method"); m.GetStringValue() != "GET" {
		t.Errorf("http.request.method %v", m)
	}
	if s := attr(server.Attributes, "http.response.status_code"); s.GetIntValue() != 200 {
		t.Errorf("http.response.status_code %v", s)
	}
	// The step's description, as the awsxray exporter reads it: metadata
	// in the cruddur namespace, under the key X-Ray mode uses.
	var meta map[string]map[string]any
	if err := json.Unmarshal([]byte(attr(step.Attributes, "aws.xray.metadata.cruddur").GetStringValue()), &meta); err != nil {
		t.Fatalf("mock-data's aws.xray.metadata.cruddur: %v", err)
	}
	if m := meta["home-activities"]; m["results-size"] != 3.0 || m["now"] == nil {
		t.Errorf("mock-data metadata %v, want home-activities with results-size 3 and now", meta)
	}
	// X-Ray's format: the trace id's first 4 bytes are its start in epoch seconds.
	if len(server.TraceId) != 16 {
		t.Fatalf("trace id of %d bytes", len(server.TraceId))
	}
	start := int64(binary.BigEndian.Uint32(server.TraceId[:4]))
	if start < before.Unix()-1 || start > time.Now().Unix()+1 {
		t.Errorf("trace id %x does not start with the time (%d, now %d): not X-Ray compatible", server.TraceId, start, before.Unix())
	}
}

// TestOpenTelemetryEdge: a caller's well-formed X-Amzn-Trace-Id is linked,
// not followed, unless CRUDDUR_TRUST_TRACE_HEADER is true; a malformed one is
// dropped either way.
func TestOpenTelemetryEdge(t *testing.T) {
	if backendtest.Alone(t) { // it sets the OpenTelemetry SDK's error handler, the process's
		return
	}
	const callerRoot = "5759e988bd862e3fe1be46a994272793"
	wellFormed := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	cases := []struct {
		name, trust, header string
		wantTrace           bool // the span is in the caller's trace
		wantLink            bool // the span links to the caller's trace
	}{
		{"public edge", "", wellFormed, false, true},
		{"trusted upstream", "true", wellFormed, true, false},
		{"malformed, trusted", "true", "Root=1-5759e988-" + strings.Repeat("x", 300) + ";Sampled=1", false, false},
		{"junk field", "true", wellFormed + ";Evil=1", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app, served, collector, flush := otelBackend(t, map[string]string{"CRUDDUR_TRUST_TRACE_HEADER": tc.trust})
			req, _ := http.NewRequest("GET", app.URL+"/api/activities/home", nil)
			req.Header.Set("X-Amzn-Trace-Id", tc.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if echo := resp.Header.Get("X-Amzn-Trace-Id"); echo != "" {
				t.Errorf("the response echoes a trace header: %q", echo)
			}
			<-served
			flush()

			collector.mu.Lock()
			defer collector.mu.Unlock()
			var span *tracepb.Span
			for _, s := range collector.spans {
				if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
					span = s
				}
			}
			if span == nil {
				t.Fatalf("no server span among %d", len(collector.spans))
			}
			if inCaller := hex.EncodeToString(span.TraceId) == callerRoot; inCaller != tc.wantTrace {
				t.Errorf("trace id %x; in the caller's trace: %v, want %v", span.TraceId, inCaller, tc.wantTrace)
			}
			linked := len(span.Links) == 1 && hex.EncodeToString(span.Links[0].TraceId) == callerRoot
			if linked != tc.wantLink {
				t.Errorf("links %v; want a link to the caller's trace: %v", span.Links, tc.wantLink)
			}
		})
	}
}

func TestTracingModeFromEnv(t *testing.T) {
	_, _, err := tracedHandler(context.Background(), func(k string) string {
		return map[string]string{"CRUDDUR_TRACING": "zipkin"}[k]
	})
	if err == nil || err.Error() != `CRUDDUR_TRACING: "zipkin" is not a tracing mode; expected xray, otel or off` {
		t.Fatalf("error %v", err)
	}
}

// TestOpenTelemetryTracesCarryTheECSTask: on ECS (a stand-in for the task
// metadata endpoint on loopback), every exported span's resource names the
// task, its cluster, family and launch type, the region and the account.
func TestOpenTelemetryTracesCarryTheECSTask(t *testing.T) {
	const task = "arn:aws:ecs:eu-west-1:111122223333:task/cruddur/0123456789abcdef"
	metadata := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/task":
			io.WriteString(w, `{"Cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/cruddur", "TaskARN": "`+task+`", "Family": "CruddurTask", "Revision": "7", "LaunchType": "FARGATE", "AvailabilityZone": "eu-west-1a"}`)
		default:
			io.WriteString(w, `{"ContainerARN": "arn:aws:ecs:eu-west-1:111122223333:container/cruddur/0123456789abcdef/app", "Name": "app"}`)
		}
	}))
	defer metadata.Close()
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", metadata.URL)
	app, served, collector, flush := otelBackend(t, nil)
	resp, err := http.Get(app.URL + "/api/activities/home")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-served
	flush()
	collector.mu.Lock()
	defer collector.mu.Unlock()
	want := map[string]string{
		"service.name": "Cruddur", "cloud.provider": "aws", "cloud.platform": "aws_ecs", "cloud.region": "eu-west-1",
		"cloud.account.id": "111122223333", "aws.ecs.task.arn": task, "aws.ecs.task.family": "CruddurTask",
		"aws.ecs.launchtype": "fargate", "aws.ecs.cluster.arn": "arn:aws:ecs:eu-west-1:111122223333:cluster/cruddur",
	}
	for k, v := range want {
		if got := attr(collector.resource, k); got.GetStringValue() != v {
			t.Errorf("resource %s = %q, want %q", k, got.GetStringValue(), v)
		}
	}
}
