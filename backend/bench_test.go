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
	"github.com/cruddur/tracing/backend/internal/edge"
	"github.com/cruddur/tracing/backend/internal/standin"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
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

	all, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version": 2, "default": {"fixed_target": 0, "rate": 1.0}}`))
	if err != nil {
		b.Fatal(err)
	}
	seed, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version": 2, "default": {"fixed_target": 5, "rate": 0.1}}`)) // the seed's rule
	if err != nil {
		b.Fatal(err)
	}
	none, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version": 2, "default": {"fixed_target": 0, "rate": 0}}`))
	if err != nil {
		b.Fatal(err)
	}
	otelHandlerTo := func(s sampling.Strategy, exporter sdktrace.SpanExporter) http.Handler {
		o := newOTelTracingWith(resource.Empty(), xraySampler{strategy: s, service: "Cruddur"}, sdktrace.WithBatcher(exporter))
		b.Cleanup(func() { o.shutdown(context.Background()) })
		return o.wrap(routes(time.Now, o), false)
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
	opts := tracingOptions{ServiceName: "Cruddur"}
	variants := []struct {
		name    string
		handler func() http.Handler
	}{
		{"untraced", func() http.Handler {
			h, _, _ := tracedHandler(context.Background(), func(k string) string { return map[string]string{"CRUDDUR_TRACING": "off"}[k] })
			return h
		}},
		{"traced-every-request-sampled", func() http.Handler { return mustTrace(b, opts, all) }},
		{"traced-seed-rule", func() http.Handler { return mustTrace(b, opts, seed) }},
		// The floor: the same middleware asking the SDK's sampler, and
		// recording nothing, not even what it samples.
		{"floor-sampling-decision-only", func() http.Handler {
			plain := accessLog(unsampledTraceID, routes(time.Now, xraySteps{}))
			return edge.FilterTraceHeader(false, sampledFirst(seed, xray.NewFixedSegmentNamer("Cruddur"), "", "", plain, plain))
		}},
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

func mustTrace(b *testing.B, opts tracingOptions, s sampling.Strategy) http.Handler {
	h, err := traced(routes(time.Now, xraySteps{}), opts, xray.Config{SamplingStrategy: s})
	if err != nil {
		b.Fatal(err)
	}
	return h
}
