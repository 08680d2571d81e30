package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/aws/aws-xray-sdk-go/v2/xraylog"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"github.com/cruddur/tracing/backend/internal/standin"
	"github.com/cruddur/tracing/backend/internal/tracing"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkHomeActivities measures what the tracing middleware adds to one
// request of GET /api/activities/home, against the same handler untraced, in
// one run: `go test -run '^$' -bench HomeActivities -benchmem ./backend`.
// Segments go to a loopback UDP socket that drains them, as the daemon would.
func BenchmarkHomeActivities(b *testing.B) {
	xray.SetLogger(xraylog.NullLogger)
	sink, err := standin.Daemon("127.0.0.1:0", func([]byte) {})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	b.Setenv("AWS_XRAY_DAEMON_ADDRESS", sink.LocalAddr().String())
	b.Setenv("AWS_XRAY_TRACING_NAME", "")

	all, none := backendtest.SampleAll(b), backendtest.LocalRule(b, 0, 0)
	seed := backendtest.LocalRule(b, 5, 0.1) // the seed's rule
	// The API in each tracing mode, as main wires it, deciding by s.
	handler := func(mode string, s sampling.Strategy, exporter sdktrace.SpanExporter) http.Handler {
		opts := tracing.Options{Mode: mode, ServiceName: "Cruddur", HealthCheckPath: healthCheckPath, MetadataNamespace: metadataNamespace, Sampling: s, Exporter: exporter}
		h, _, err := tracing.New(context.Background(), opts, func(steps tracing.Steps) http.Handler { return routes(time.Now, steps) })
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	xrayHandler := func(s sampling.Strategy) http.Handler { return handler(tracing.XRay, s, nil) }
	otelHandlerTo := func(s sampling.Strategy, exporter sdktrace.SpanExporter) http.Handler {
		return handler(tracing.OpenTelemetry, s, exporter)
	}
	otelHandler := func(s sampling.Strategy) http.Handler { return otelHandlerTo(s, tracetest.NewNoopExporter()) }
	// The SDK's OTLP/HTTP exporter to a loopback sink that reads and drops
	// each batch, as the collector's receiver would take it.
	otlpSink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer otlpSink.Close()
	// The access log's lines go nowhere here; they cost what slog costs.
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	defer slog.SetDefault(old)
	variants := []struct {
		name    string
		handler func() http.Handler
	}{
		{"untraced", func() http.Handler { return handler(tracing.Off, nil, nil) }},
		{"traced-every-request-sampled", func() http.Handler { return xrayHandler(all) }},
		{"traced-seed-rule", func() http.Handler { return xrayHandler(seed) }},
		// The floor: the same middleware asking the SDK's sampler, at a
		// rule that records nothing.
		{"floor-sampling-decision-only", func() http.Handler { return xrayHandler(none) }},
		// OpenTelemetry with every request recorded (spans batched to an
		// exporter that drops them, or over OTLP/HTTP to the sink), at the
		// seed's rule, and its floor: a rule that records nothing.
		{"otel-every-request-sampled", func() http.Handler { return otelHandler(all) }},
		{"otel-every-request-sampled-otlp", func() http.Handler {
			exporter, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(otlpSink.URL+"/v1/traces"))
			if err != nil {
				b.Fatal(err)
			}
			return otelHandlerTo(all, exporter)
		}},
		{"otel-seed-rule", func() http.Handler { return otelHandler(seed) }},
		{"otel-floor", func() http.Handler { return otelHandler(none) }},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			h := v.handler()
			req := httptest.NewRequest("GET", "/api/activities/home", nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
