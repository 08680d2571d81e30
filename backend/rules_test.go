package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/cruddur/tracing/backend/internal/standin"
)

// templateRules are the sampling rules the stack's golden template declares,
// in the X-Ray API's shape, with X-Ray's own default rule after them.
func templateRules(t *testing.T) []*sampling.SamplingRule {
	t.Helper()
	task, err := standin.ReadTemplate("testdata/Cruddur.template.json")
	if err != nil {
		t.Fatal(err)
	}
	return append(task.Rules, standin.DefaultRule())
}

// samplingProxy stands in for the daemon's sampling proxy on loopback: it
// serves rules to GetSamplingRules and each rule's own rate and reservoir
// as its target; served receives when the rules have been served.
func samplingProxy(t *testing.T, rules []*sampling.SamplingRule) (addr string, served chan struct{}) {
	t.Helper()
	served = make(chan struct{}, 1)
	srv := httptest.NewServer(standin.SamplingProxy(rules, func() {
		select {
		case served <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), served
}

// TestHealthChecksAreNeverRecorded runs the X-Ray SDK's own centralized
// sampling against the rules the template declares, served over loopback:
// health checks are recorded never, other requests at the seed's rule.
func TestHealthChecksAreNeverRecorded(t *testing.T) {
	t.Parallel()
	daemon := newSegmentCounter(t)
	proxy, served := samplingProxy(t, templateRules(t))
	// The strategy as main makes it: through the bounded relay.
	addr := "tcp:" + proxy + " udp:" + daemon.conn.LocalAddr().String()
	h, err := traced(routes(time.Now, xraySteps{}), tracingOptions{ServiceName: "Cruddur"},
		xray.Config{DaemonAddr: addr})
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
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the SDK never asked for the sampling rules")
	}
	time.Sleep(100 * time.Millisecond) // the rules are loaded just after they are served
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

var xrayTraceIDPattern = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)

// TestEveryRequestLogsItsTraceID: in both tracing modes, one JSON line per
// request with its method, path, status, duration and trace id in X-Ray's
// form; the X-Ray trace id is the one the daemon got. Health checks are not
// logged, and in OpenTelemetry mode not traced.
func TestEveryRequestLogsItsTraceID(t *testing.T) {
	if inAProcessOfItsOwn(t) { // it sets the process's logger
		return
	}
	type line struct {
		Msg        string   `json:"msg"`
		Method     string   `json:"method"`
		Path       string   `json:"path"`
		Status     int      `json:"status"`
		DurationMS *float64 `json:"duration_ms"`
		TraceID    string   `json:"trace_id"`
	}
	requests := func(t *testing.T, buf fmt.Stringer) []line {
		var out []line
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var x line
			if json.Unmarshal([]byte(l), &x) == nil && x.Msg == "request" {
				out = append(out, x)
			}
		}
		return out
	}
	get := func(t *testing.T, url string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	t.Run("xray", func(t *testing.T) {
		buf := captureLog(t)
		daemon := newSegmentCounter(t)
		h, err := traced(routes(time.Now, xraySteps{}), tracingOptions{ServiceName: "Cruddur"},
			xray.Config{DaemonAddr: daemon.conn.LocalAddr().String(), SamplingStrategy: sampleAll(t)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		get(t, srv.URL+healthCheckPath)
		get(t, srv.URL+"/api/activities/home")
		get(t, srv.URL+"/api/nope")
		_, ids := daemon.settle(2)
		got := requests(t, buf)
		if len(got) != 2 || got[0].Path != "/api/activities/home" || got[0].Status != 200 || got[1].Status != 404 || got[0].Method != "GET" || got[0].DurationMS == nil {
			t.Fatalf("log lines %+v; want the two requests that are not health checks", got)
		}
		if !xrayTraceIDPattern.MatchString(got[0].TraceID) || len(ids) < 2 || !strings.Contains(strings.Join(ids, " "), got[0].TraceID) {
			t.Errorf("logged trace id %q; the daemon got %v", got[0].TraceID, ids)
		}
	})

	t.Run("xray, not recorded", func(t *testing.T) {
		buf := captureLog(t)
		daemon := newSegmentCounter(t)
		none, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version": 2, "default": {"fixed_target": 0, "rate": 0}}`))
		if err != nil {
			t.Fatal(err)
		}
		h, err := traced(routes(time.Now, xraySteps{}), tracingOptions{ServiceName: "Cruddur"},
			xray.Config{DaemonAddr: daemon.conn.LocalAddr().String(), SamplingStrategy: none})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		get(t, srv.URL+"/api/activities/home")
		get(t, srv.URL+"/api/activities/home")
		got := requests(t, buf)
		if len(got) != 2 || !xrayTraceIDPattern.MatchString(got[0].TraceID) || got[0].TraceID == got[1].TraceID {
			t.Fatalf("log lines %+v; want each request with a trace id of its own", got)
		}
		if n, _ := daemon.settle(0); n != 0 {
			t.Errorf("the daemon got %d segments for requests the rule does not sample", n)
		}
	})

	t.Run("otel", func(t *testing.T) {
		buf := captureLog(t)
		app, served, collector, flush := otelBackend(t, nil)
		var n atomic.Int32
		for _, path := range []string{healthCheckPath, "/api/activities/home"} {
			get(t, app.URL+path)
			<-served
			n.Add(1)
		}
		flush()
		got := requests(t, buf)
		if len(got) != 1 || got[0].Path != "/api/activities/home" || !xrayTraceIDPattern.MatchString(got[0].TraceID) {
			t.Fatalf("log lines %+v; want the one request that is not a health check", got)
		}
		collector.mu.Lock()
		defer collector.mu.Unlock()
		for _, s := range collector.spans {
			if strings.Contains(s.Name, "health") {
				t.Errorf("a health check was traced: %s", s.Name)
			}
			if id := fmt.Sprintf("%x", s.TraceId); "1-"+id[:8]+"-"+id[8:] != got[0].TraceID {
				t.Errorf("span %s in trace %s; the log line says %s", s.Name, id, got[0].TraceID)
			}
		}
	})
}
