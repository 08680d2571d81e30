package tracing

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The API the tests trace: a health check, and a feed built in one step
// that describes itself, as the backend's API is.
const (
	healthCheckPath = "/api/health-check"
	feedPath        = "/api/activities/home"
	namespace       = "cruddur"
)

var fixedNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// testOptions are the options of a test's X-Ray mode.
func testOptions() Options {
	return Options{Mode: XRay, ServiceName: "Cruddur", HealthCheckPath: healthCheckPath, MetadataNamespace: namespace}
}

// daemonOptions are testOptions with segments sent to daemon.
func daemonOptions(daemon string) Options {
	o := testOptions()
	o.DaemonAddr = daemon
	return o
}

// api is the API the tests trace, over steps.
func api(steps Steps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthCheckPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"success":true}`)
	})
	mux.HandleFunc("GET "+feedPath, func(w http.ResponseWriter, r *http.Request) {
		n := 0
		steps.Step(r.Context(), "mock-data", func() { n = 3 }, func() map[string]any {
			return map[string]any{"home-activities": map[string]any{"now": fixedNow.Format(time.RFC3339), "results-size": n}}
		})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "3")
		fmt.Fprintln(w, "[]")
	})
	return mux
}

// TestOnlyRecordedStepsAreDescribed: a step's work always runs, and what
// describes it is built only for a step that is recorded, so unrecorded
// requests do not pay for metadata they drop.
func TestOnlyRecordedStepsAreDescribed(t *testing.T) {
	unsampled := context.WithValue(context.Background(), xray.ContextKey, &xray.Segment{Sampled: false})
	never := newOTelTracingWith(resource.Empty(), fixedSampler(t, 0), sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	always := newOTelTracingWith(resource.Empty(), fixedSampler(t, 1), sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	// A request's span, recorded or not, as the server's handler starts it.
	request := func(o *otelTracing) context.Context {
		ctx, _ := o.tracer.Start(context.Background(), "GET /")
		return ctx
	}
	cases := []struct {
		name     string
		steps    Steps
		ctx      context.Context
		describe bool
	}{
		{"untraced", noSteps{}, context.Background(), false},
		{"x-ray, no segment", xraySteps{"cruddur"}, context.Background(), false},
		{"x-ray, unsampled segment", xraySteps{"cruddur"}, unsampled, false},
		{"opentelemetry, no request span", always, context.Background(), false},
		{"opentelemetry, unsampled", never, request(never), false},
		{"opentelemetry, sampled", always, request(always), true},
	}
	for _, tc := range cases {
		worked, described := false, false
		tc.steps.Step(tc.ctx, "step", func() { worked = true }, func() map[string]any {
			described = true
			return map[string]any{"n": 1}
		})
		if !worked || described != tc.describe {
			t.Errorf("%s: work ran %t, describe ran %t; want true, %t", tc.name, worked, described, tc.describe)
		}
	}
}

// fixedSampler is the X-Ray sampler over a local strategy that records rate
// of requests, with no reservoir.
func fixedSampler(t *testing.T, rate float64) xraySampler {
	return xraySampler{strategy: backendtest.LocalRule(t, 0, rate), service: "Cruddur"}
}

func TestMain(m *testing.M) { os.Exit(backendtest.Run(m)) }

// centralized is the account's rules as New reads them: from the sampling
// proxy at daemon, through the bounded relay.
func centralized(t *testing.T, daemon string) sampling.Strategy {
	t.Helper()
	s, err := centralizedStrategy(daemon, newFaultLog())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
