package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// plainSteps records nothing, as for a request the rules do not sample.
type plainSteps struct{}

func (plainSteps) Step(_ context.Context, _ string, work func(), _ func() map[string]any) { work() }

// recordedSteps records every step, as a tracer does for a sampled request:
// each step's name and its description.
type recordedSteps struct {
	names     []string
	described []map[string]any
}

func (s *recordedSteps) Step(_ context.Context, name string, work func(), describe func() map[string]any) {
	work()
	s.names = append(s.names, name)
	s.described = append(s.described, describe())
}

func TestHealthCheck(t *testing.T) {
	rec := httptest.NewRecorder()
	routes(func() time.Time { return fixedNow }, &recordedSteps{}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/health-check", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"success\":true}\n" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestHomeActivities(t *testing.T) {
	rec, steps := httptest.NewRecorder(), &recordedSteps{}
	routes(func() time.Time { return fixedNow }, steps).ServeHTTP(rec, httptest.NewRequest("GET", "/api/activities/home", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// Set by the handler, not left to the server: the X-Ray SDK reads the
	// header for the segment's content_length when the handler returns.
	if cl, n := rec.Header().Get("Content-Length"), rec.Body.Len(); cl != strconv.Itoa(n) {
		t.Errorf("Content-Length %q for a body of %d bytes", cl, n)
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
	want := []map[string]any{{"home-activities": map[string]any{"now": "2026-11-24T12:00:00Z", "results-size": 3}}}
	if !slices.Equal(steps.names, []string{"mock-data"}) || !reflect.DeepEqual(steps.described, want) {
		t.Errorf("steps %q described as %v; want mock-data, described as %v", steps.names, steps.described, want)
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
		routes(time.Now, &recordedSteps{}).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
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
