package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/aws/aws-xray-sdk-go/v2/xraylog"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"go.opentelemetry.io/otel"
)

type logLine struct {
	Level    string `json:"level"`
	Msg      string `json:"msg"`
	HeldBack int    `json:"held_back"`
}

func lines(t *testing.T, buf *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var line logLine
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, line)
	}
	return out
}

func TestFaultLogWritesOnceACausePerInterval(t *testing.T) {
	// A logger of its own: the default one also gets the faults of other
	// tests' SDKs, which poll from their start.
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	f := newFaultLog()
	f.now = func() time.Time { return now }
	f.logger = slog.New(slog.NewJSONHandler(&buf, nil))
	for i := range 1000 {
		// The same cause, with another port each time.
		f.log(slog.LevelError, "write udp 127.0.0.1:"+string(rune('0'+i%10))+"0000->127.0.0.1:2000: connection refused")
		now = now.Add(5 * time.Millisecond)
	}
	f.log(slog.LevelError, "another cause")
	now = now.Add(10 * time.Second)
	f.log(slog.LevelError, "write udp 127.0.0.1:40000->127.0.0.1:2000: connection refused")
	got := lines(t, &buf)
	if len(got) != 3 || got[0].HeldBack != 0 || got[1].Msg != "another cause" || got[2].HeldBack != 999 {
		t.Fatalf("lines %+v; want the first, another cause, then the next one with held_back 999", got)
	}
}

// TestFaultLogToldApartAtMostMaxCauses: past maxCauses causes, every new
// cause shares one, so neither the causes kept nor the lines written grow
// with what a failing collector's messages vary in.
func TestFaultLogToldApartAtMostMaxCauses(t *testing.T) {
	var buf bytes.Buffer
	f := newFaultLog()
	f.now = func() time.Time { return time.Unix(0, 0) }
	f.logger = slog.New(slog.NewJSONHandler(&buf, nil))
	for i := range maxCauses + 10 {
		f.log(slog.LevelError, "cause "+strings.Repeat("x", i)) // no digits: each a cause of its own
	}
	if n, kept := len(lines(t, &buf)), len(f.causes); n != maxCauses+1 || kept != maxCauses+1 {
		t.Errorf("%d causes logged %d lines and kept %d; want %d of each (the last 10 one cause)", maxCauses+10, n, kept, maxCauses+1)
	}
}

// TestFaultsLogOnceWithTheDaemonDown: with nothing listening on the daemon's
// port and every request sampled, the X-Ray SDK's errors reach the log once
// per cause, and every request is served.
func TestFaultsLogOnceWithTheDaemonDown(t *testing.T) {
	if backendtest.Alone(t) { // it sets the process's logger and the X-Ray SDK's
		return
	}
	buf := backendtest.CaptureLog(t)
	addr := backendtest.NoDaemon
	xray.SetLogger(slogXRay{min: xraylog.LogLevelWarn, faults: newFaultLog()})
	h, err := traced(api(xraySteps{namespace}), daemonOptions(addr), backendtest.SampleAll(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const n = 2000
	for i := range n {
		resp, err := http.Get(srv.URL + "/api/activities/home")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
	}
	var got []logLine
	for _, l := range lines(t, buf) {
		if l.Msg != "request" { // the access log's line for each request
			got = append(got, l)
		}
	}
	t.Logf("%d sampled requests with the daemon down: %d fault lines", n, len(got))
	if len(got) == 0 || len(got) > 2 {
		t.Fatalf("%d log lines, the first %+v; want one per cause", len(got), got[0])
	}
}

// TestOpenTelemetryErrorsLogOnce: the OpenTelemetry SDK's errors (a failed
// export) go through the same limit.
func TestOpenTelemetryErrorsLogOnce(t *testing.T) {
	buf := backendtest.CaptureLog(t)
	opts := testOptions()
	opts.Mode, opts.DaemonAddr, opts.OTLPEndpoint = OpenTelemetry, "127.0.0.1:2000", "http://127.0.0.1:4318"
	_, flush, err := New(context.Background(), opts, api)
	if err != nil {
		t.Fatal(err)
	}
	defer flush()
	for range 500 {
		otel.Handle(errors.New("traces export: Post \"http://127.0.0.1:4318/v1/traces\": dial tcp 127.0.0.1:4318: connect: connection refused"))
	}
	var errorsLogged int
	for _, l := range lines(t, buf) {
		if l.Level == "ERROR" {
			errorsLogged++
		}
	}
	if errorsLogged != 1 {
		t.Fatalf("%d error lines for 500 export failures, want 1", errorsLogged)
	}
}
