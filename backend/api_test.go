package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

var fixedNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestHealthCheck(t *testing.T) {
	rec := httptest.NewRecorder()
	routes(func() time.Time { return fixedNow }, xraySteps{}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/health-check", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"success\":true}\n" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestHomeActivities(t *testing.T) {
	rec := httptest.NewRecorder()
	routes(func() time.Time { return fixedNow }, xraySteps{}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/activities/home", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d activities, want 3", len(got))
	}
	for _, field := range []string{"uuid", "handle", "message", "created_at", "expires_at", "likes_count", "replies_count", "reposts_count"} {
		for i, a := range got {
			if _, ok := a[field]; !ok {
				t.Errorf("activity %d has no %s: %v", i, field, a)
			}
		}
	}
	first := got[0]
	if first["handle"] != "Andrew Brown" || first["created_at"] != "2026-11-22T12:00:00Z" || first["expires_at"] != "2026-11-29T12:00:00Z" || first["likes_count"] != 5.0 {
		t.Errorf("first activity %v", first)
	}
}

func TestRoutesRefuseWhatTheyDoNotServe(t *testing.T) {
	cases := []struct {
		method, path string
		want         int
	}{
		{"POST", "/api/activities/home", http.StatusMethodNotAllowed},
		{"GET", "/api/nope", http.StatusNotFound},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		routes(time.Now, xraySteps{}).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
		}
	}
}

func TestPortFromEnv(t *testing.T) {
	for in, want := range map[string]int{"": 4567, "8080": 8080, "65535": 65535, "0": 0} {
		if got, err := portFromEnv(in); err != nil || got != want {
			t.Errorf("portFromEnv(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"65536", "http", "-1"} {
		if _, err := portFromEnv(in); err == nil {
			t.Errorf("portFromEnv(%q): no error", in)
		}
	}
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
		steps    stepTracer
		ctx      context.Context
		describe bool
	}{
		{"untraced", noSteps{}, context.Background(), false},
		{"x-ray, no segment", xraySteps{}, context.Background(), false},
		{"x-ray, unsampled segment", xraySteps{}, unsampled, false},
		{"opentelemetry, no request span", always, context.Background(), false},
		{"opentelemetry, unsampled", never, request(never), false},
		{"opentelemetry, sampled", always, request(always), true},
	}
	for _, tc := range cases {
		worked, described := false, false
		tc.steps.step(tc.ctx, "step", func() { worked = true }, func() map[string]any {
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
	t.Helper()
	s, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(fmt.Sprintf(`{"version": 2, "default": {"fixed_target": 0, "rate": %g}}`, rate)))
	if err != nil {
		t.Fatal(err)
	}
	return xraySampler{strategy: s, service: "Cruddur"}
}
