package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"github.com/cruddur/tracing/backend/internal/standin"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// otelRulesBackend is the backend in OpenTelemetry mode with the stack's own
// environment for it (the ADOT golden's app container) but for where the
// collector is: an OTLP stand-in and, as the collector's sampling proxy,
// proxy.
func otelRulesBackend(t *testing.T, proxy http.Handler) (url string, collector *fakeCollector, flush func()) {
	t.Helper()
	env := fixtureTask(t, "Cruddur-adot.template.json").Env
	collector = &fakeCollector{}
	otlp := httptest.NewServer(collector)
	t.Cleanup(otlp.Close)
	prox := httptest.NewServer(proxy)
	t.Cleanup(prox.Close)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.URL
	env["AWS_XRAY_DAEMON_ADDRESS"] = "tcp:" + strings.TrimPrefix(prox.URL, "http://") + " udp:" + backendtest.NoDaemon
	handler, flush, err := tracedHandler(context.Background(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(handler)
	t.Cleanup(app.Close)
	return app.URL, collector, flush
}

// serverSpans counts the collector's server spans, after a flush.
func (c *fakeCollector) serverSpans() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			n++
		}
	}
	c.spans = nil
	return n
}

// recorded sends n requests for path and returns how many the collector got
// as server spans, and how long sending took.
func recorded(t *testing.T, url, path string, n int, c *fakeCollector, flush func()) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	for range n {
		resp, err := http.Get(url + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	took := time.Since(start)
	flush()
	return c.serverSpans(), took
}

// withinRule says whether k recorded of n requests sent over took fit a rule
// of rate and reservoir (a second): the reservoir's requests, then rate of
// the rest, within four binomial standard deviations.
func withinRule(k, n int, took time.Duration, rate float64, reservoir int) (lo, hi float64, ok bool) {
	borrowed := math.Min(float64(n), float64(reservoir)*math.Ceil(took.Seconds()+1))
	sd := math.Sqrt(rate * (1 - rate) * float64(n))
	lo = rate*(float64(n)-borrowed) - 4*sd
	hi = borrowed + rate*float64(n) + 4*sd
	return lo, hi, float64(k) >= lo && float64(k) <= hi
}

// TestOpenTelemetrySamplesByTheTemplatesRules: in OpenTelemetry mode the
// backend reads X-Ray's rules from the collector's sampling proxy, here a
// stand-in serving the rules the golden template declares: health checks are
// never recorded (the health-check rule, with no filter of our own), API
// requests at the seed's rule (10%, and 5 a second from its reservoir), and
// a rate served anew reaches the backend, without a restart, once the SDK
// refreshes its targets.
func TestOpenTelemetrySamplesByTheTemplatesRules(t *testing.T) {
	t.Parallel()
	rules := backendtest.TemplateRules(t, "testdata/Cruddur.template.json")
	var switched atomic.Bool      // serve the seed's rule at rate 1 from now on
	var targetsAfter atomic.Int32 // target requests answered since the switch
	proxy := backendtest.SamplingProxyHandler(rules)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/SamplingTargets" || !switched.Load() {
			proxy.ServeHTTP(w, r)
			return
		}
		var in struct{ SamplingStatisticsDocuments []struct{ RuleName string } }
		json.NewDecoder(r.Body).Decode(&in)
		var docs []map[string]any
		for _, s := range in.SamplingStatisticsDocuments {
			if s.RuleName == "Cruddur" {
				docs = append(docs, map[string]any{"RuleName": s.RuleName, "FixedRate": 1.0, "ReservoirQuota": 0,
					"ReservoirQuotaTTL": float64(time.Now().Add(time.Minute).Unix()), "Interval": 10})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"SamplingTargetDocuments": docs})
		targetsAfter.Add(1)
	})
	url, collector, flush := otelRulesBackend(t, handler)

	waitForOTelRules(t, url, collector, flush, nil)

	const n = 1000
	if k, _ := recorded(t, url, healthCheckPath, n, collector, flush); k != 0 {
		t.Errorf("%d of %d health checks recorded, want none", k, n)
	}
	k, took := recorded(t, url, "/api/activities/home", n, collector, flush)
	lo, hi, ok := withinRule(k, n, took, 0.1, 5)
	t.Logf("the seed's rule: %d of %d API requests recorded in %v (its bounds %.0f..%.0f)", k, n, took.Round(time.Millisecond), lo, hi)
	if !ok {
		t.Errorf("%d of %d API requests recorded in %v; the seed's rule gives %.0f..%.0f", k, n, took, lo, hi)
	}

	// The rule's rate changes at the proxy, as when someone edits it in the
	// X-Ray console: the next target refresh (every 10 s) brings it in.
	switched.Store(true)
	backendtest.Eventually(t, 30*time.Second, "the SDK refreshing its targets", func() bool { return targetsAfter.Load() > 0 })
	// The SDK applies the targets after it has the answer (a fixed 100 ms
	// fell short beside two CPU burners). At the old rule, 20 of 20
	// recorded would take the reservoir's 5 and then 15 at 10%: never, in
	// practice.
	backendtest.Eventually(t, 10*time.Second, "the refreshed targets applying", func() bool {
		k, _ := recorded(t, url, "/api/activities/home", 20, collector, flush)
		return k == 20
	})
	if k, _ := recorded(t, url, "/api/activities/home", 200, collector, flush); k != 200 {
		t.Errorf("after the rule's rate went to 1: %d of 200 recorded, want all", k)
	}
	if k, _ := recorded(t, url, healthCheckPath, 200, collector, flush); k != 0 {
		t.Errorf("after the seed's rule changed: %d health checks recorded, want none", k)
	}
}

// TestWithoutTheAccountsRulesNothingIsTraced: a proxy that is not there,
// answers garbage, or has not answered yet leaves the SDK deciding by its
// fallback (the first request of each second, and 5% of the rest); no such
// decision traces, and every request is served. Rules that then arrive
// decide the next requests.
func TestWithoutTheAccountsRulesNothingIsTraced(t *testing.T) {
	t.Parallel()
	// The relay waits 5 s for a reply, and the SDK polls the rules again
	// only minutes later: the rules come within that.
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	later := standin.SamplingProxy([]*sampling.SamplingRule{backendtest.Everything()})
	for name, proxy := range map[string]http.Handler{
		"unreachable": http.NotFoundHandler(),
		"garbage":     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{{{ not json")) }),
		"not yet": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			later.ServeHTTP(w, r)
		}),
	} {
		url, collector, flush := otelRulesBackend(t, proxy)
		const n = 150
		for _, path := range []string{healthCheckPath, "/api/activities/home"} {
			if k, _ := recorded(t, url, path, n, collector, flush); k != 0 {
				t.Errorf("%s: %d of %d requests to %s traced without the account's rules, want none", name, k, n, path)
			}
		}
		if name != "not yet" {
			continue
		}
		once.Do(func() { close(release) })
		backendtest.Eventually(t, 20*time.Second, "not yet: a request traced once the rules came", func() bool {
			k, _ := recorded(t, url, "/api/activities/home", 1, collector, flush)
			return k == 1
		})
	}
}
