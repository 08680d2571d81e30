package tracing

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestHealthChecksAreNeverRecorded runs the X-Ray SDK's own centralized
// sampling against the rules the template declares, served over loopback:
// health checks are recorded never, other requests at the seed's rule.
func TestHealthChecksAreNeverRecorded(t *testing.T) {
	t.Parallel()
	daemon := newSegmentCounter(t)
	proxy := backendtest.SamplingProxy(t, backendtest.TemplateRules(t, "../../testdata/Cruddur.template.json"))
	// The strategy as main makes it: through the bounded relay.
	addr := "tcp:" + proxy + " udp:" + daemon.conn.LocalAddr().String()
	h, err := traced(api(xraySteps{namespace}), daemonOptions(addr), centralized(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	send := func(path string, n int) float64 {
		before, _ := daemon.settle(0)
		for range n {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		after, _ := daemon.settle(0)
		return float64(after-before) / float64(n)
	}
	send("/api/activities/home", 1) // before the rules: served, not traced
	backendtest.WaitForXRayRules(t, srv.URL+healthCheckPath)
	const n = 1000
	health := send(healthCheckPath, n)
	other := send("/api/activities/home", n)
	t.Logf("with the template's rules, %d requests each: health checks %.1f%% recorded, other requests %.1f%%", n, 100*health, 100*other)
	if health != 0 {
		t.Errorf("%.1f%% of health checks recorded, want none", 100*health)
	}
	if other < 0.05 || other > 0.25 {
		t.Errorf("%.1f%% of other requests recorded; the seed's rule allows about 10%% plus a few a second", 100*other)
	}
}

// requestLine is a request's log line, as these tests read it.
type requestLine struct {
	Msg        string   `json:"msg"`
	Method     string   `json:"method"`
	Path       string   `json:"path"`
	Status     int      `json:"status"`
	DurationMS *float64 `json:"duration_ms"`
	TraceID    string   `json:"trace_id"`
}

// requestLines are the request lines of a captured log.
func requestLines(buf fmt.Stringer) []requestLine {
	var out []requestLine
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var x requestLine
		if json.Unmarshal([]byte(l), &x) == nil && x.Msg == "request" {
			out = append(out, x)
		}
	}
	return out
}

// TestEveryRecordedRequestLogsTheTraceTheDaemonGot: in X-Ray mode, one JSON
// line per request with its method, path, status, duration and the trace id
// the daemon got, in X-Ray's form; health checks are not logged.
func TestEveryRecordedRequestLogsTheTraceTheDaemonGot(t *testing.T) {
	if backendtest.Alone(t) { // it sets the process's logger
		return
	}
	buf := backendtest.CaptureLog(t)
	daemon := newSegmentCounter(t)
	h, err := traced(api(xraySteps{namespace}), daemonOptions(daemon.conn.LocalAddr().String()), backendtest.SampleAll(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	backendtest.Get(t, srv.URL+healthCheckPath, "")
	backendtest.Get(t, srv.URL+"/api/activities/home", "")
	backendtest.Get(t, srv.URL+"/api/nope", "")
	_, ids := daemon.settle(2)
	got := requestLines(buf)
	if len(got) != 2 || got[0].Path != "/api/activities/home" || got[0].Status != 200 || got[1].Status != 404 || got[0].Method != "GET" || got[0].DurationMS == nil {
		t.Fatalf("log lines %+v; want the two requests that are not health checks", got)
	}
	if !traceIDPattern.MatchString(got[0].TraceID) || len(ids) < 2 || !strings.Contains(strings.Join(ids, " "), got[0].TraceID) {
		t.Errorf("logged trace id %q; the daemon got %v", got[0].TraceID, ids)
	}
}

// TestAnUnrecordedRequestLogsATraceIDOfItsOwn: a request the rules do not
// sample sends the daemon nothing, and its log line still has a trace id in
// X-Ray's form, one per request.
func TestAnUnrecordedRequestLogsATraceIDOfItsOwn(t *testing.T) {
	if backendtest.Alone(t) { // it sets the process's logger
		return
	}
	buf := backendtest.CaptureLog(t)
	daemon := newSegmentCounter(t)
	none := backendtest.LocalRule(t, 0, 0)
	h, err := traced(api(xraySteps{namespace}), daemonOptions(daemon.conn.LocalAddr().String()), none)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	backendtest.Get(t, srv.URL+"/api/activities/home", "")
	backendtest.Get(t, srv.URL+"/api/activities/home", "")
	got := requestLines(buf)
	if len(got) != 2 || !traceIDPattern.MatchString(got[0].TraceID) || got[0].TraceID == got[1].TraceID {
		t.Fatalf("log lines %+v; want each request with a trace id of its own", got)
	}
	if n, _ := daemon.settle(0); n != 0 {
		t.Errorf("the daemon got %d segments for requests the rule does not sample", n)
	}
}

// TestOpenTelemetryLogsTheTraceItExports: in OpenTelemetry mode, a request's
// log line has its spans' trace id in X-Ray's form; health checks are
// neither logged nor traced.
func TestOpenTelemetryLogsTheTraceItExports(t *testing.T) {
	if backendtest.Alone(t) { // it sets the process's logger
		return
	}
	buf := backendtest.CaptureLog(t)
	// Every request recorded but the health check's, as the stack's rules
	// have it.
	rules, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version": 2, "rules": [{"description": "health", "host": "*", "http_method": "*", "url_path": "` + healthCheckPath + `", "fixed_target": 0, "rate": 0}], "default": {"fixed_target": 0, "rate": 1}}`))
	if err != nil {
		t.Fatal(err)
	}
	exporter := tracetest.NewInMemoryExporter()
	o := newOTelTracingWith(resource.Empty(), xraySampler{strategy: rules, service: "Cruddur"}, sdktrace.WithSyncer(exporter))
	srv := httptest.NewServer(o.wrap(api(o), testOptions()))
	defer srv.Close()
	for _, path := range []string{healthCheckPath, "/api/activities/home"} {
		backendtest.Get(t, srv.URL+path, "")
	}
	got := requestLines(buf)
	if len(got) != 1 || got[0].Path != "/api/activities/home" || !traceIDPattern.MatchString(got[0].TraceID) {
		t.Fatalf("log lines %+v; want the one request that is not a health check", got)
	}
	spans := exporter.GetSpans()
	if len(spans) == 0 {
		t.Fatal("no span exported")
	}
	for _, s := range spans {
		if strings.Contains(s.Name, "health") {
			t.Errorf("a health check was traced: %s", s.Name)
		}
		if id := s.SpanContext.TraceID().String(); "1-"+id[:8]+"-"+id[8:] != got[0].TraceID {
			t.Errorf("span %s in trace %s; the log line says %s", s.Name, id, got[0].TraceID)
		}
	}
}
