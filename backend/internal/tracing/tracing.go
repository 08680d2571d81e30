// Package tracing traces an HTTP API with AWS X-Ray, by the X-Ray SDK or by
// OpenTelemetry exported to a collector, sampling by X-Ray's rules (the
// account's, polled through the collector) in both modes: each request is
// decided before any tracing work, and a request the rules do not sample is
// served with none. New is the package: options in, the wrapped API out.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/aws/aws-xray-sdk-go/v2/xraylog"
	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The modes New traces in.
const (
	// XRay traces with the X-Ray SDK, sending segments to the daemon.
	XRay = "xray"
	// OpenTelemetry traces with OpenTelemetry, exporting over OTLP/HTTP to
	// a collector that sends to X-Ray.
	OpenTelemetry = "otel"
	// Off traces nothing, and still logs each request.
	Off = "off"
)

// Options say how requests are traced.
type Options struct {
	// Mode is XRay, OpenTelemetry or Off.
	Mode string
	// ServiceName names every segment unless the Host header matches
	// URLPattern (X-Ray) or TracingName is set; OpenTelemetry's service.
	ServiceName string
	// URLPattern is the X-Ray SDK's dynamic naming pattern (AWS_XRAY_URL):
	// a request whose Host matches it (with * and ?) is named after its
	// host.
	URLPattern string
	// TracingName (AWS_XRAY_TRACING_NAME, which the X-Ray SDK reads itself
	// too) names every segment; sampling matches rules by it.
	TracingName string
	// DaemonAddr is the X-Ray daemon, or the collector's X-Ray endpoints:
	// segments over UDP and the sampling proxy over TCP, as the SDK's
	// AWS_XRAY_DAEMON_ADDRESS says them.
	DaemonAddr string
	// OTLPEndpoint is the collector's OTLP/HTTP base URL, in
	// OpenTelemetry mode.
	OTLPEndpoint string
	// OnECS adds the task's metadata to segments, and matches rules by
	// ECS's origin.
	OnECS bool
	// TrustTraceHeader lets a caller's X-Amzn-Trace-Id decide sampling and
	// name the trace, for a service behind another traced service of ours
	// (package edge). Off, a caller's trace is linked, not followed.
	TrustTraceHeader bool
	// HealthCheckPath is the health check's: its requests are not logged.
	HealthCheckPath string
	// MetadataNamespace is where a step's description lands in its
	// segment's metadata, in both modes.
	MetadataNamespace string
	// Sampling decides which requests are recorded; nil: the account's
	// rules, polled from the sampling proxy at DaemonAddr.
	Sampling sampling.Strategy
	// Exporter takes OpenTelemetry's spans, in batches; nil: OTLP/HTTP to
	// OTLPEndpoint.
	Exporter sdktrace.SpanExporter
}

// Steps records a named step of a request with what it found: an X-Ray
// subsegment with metadata, or an OpenTelemetry child span. It runs work
// always, and describe (its metadata, by key) only for a step it records:
// the requests the rules do not sample pay for the work alone.
type Steps interface {
	Step(ctx context.Context, name string, work func(), describe func() map[string]any)
}

// New wraps the API that api builds over its Steps in the tracing opts
// choose, logging every request but the health check's, and returns what
// to call on the way out to send what is buffered.
func New(ctx context.Context, opts Options, api func(Steps) http.Handler) (http.Handler, func(), error) {
	faults := newFaultLog()
	// Every SDK's own logger writes through the structured log, in every
	// mode: the X-Ray SDK's sampling (which OpenTelemetry mode uses too)
	// would print plain lines to stdout, OpenTelemetry's to stderr.
	xray.SetLogger(slogXRay{min: xraylog.LogLevelWarn, faults: faults})
	otel.SetLogger(logr.FromSlogHandler(slog.Default().Handler()))
	if opts.Mode == Off {
		return accessLog(func(context.Context) string { return "" }, opts.HealthCheckPath, api(noSteps{})), func() {}, nil
	}
	if opts.Mode != XRay && opts.Mode != OpenTelemetry {
		return nil, nil, fmt.Errorf("tracing mode %q; expected %s, %s or %s", opts.Mode, XRay, OpenTelemetry, Off)
	}
	strategy := opts.Sampling
	if strategy == nil {
		var err error
		if strategy, err = centralizedStrategy(opts.DaemonAddr, faults); err != nil {
			return nil, nil, fmt.Errorf("the sampling rules: %w", err)
		}
	}
	if opts.Mode == XRay {
		h, err := traced(api(xraySteps{opts.MetadataNamespace}), opts, strategy)
		return h, func() {}, err
	}
	return otelMode(ctx, opts, api, strategy, faults)
}

// otelMode is New's OpenTelemetry mode.
func otelMode(ctx context.Context, opts Options, api func(Steps) http.Handler, strategy sampling.Strategy, faults *faultLog) (http.Handler, func(), error) {
	// Rules match by the name the X-Ray SDK would give the segment.
	ruleName := opts.TracingName
	if ruleName == "" {
		ruleName = opts.ServiceName
	}
	o, err := newOTelTracing(ctx, opts, xraySampler{strategy: strategy, service: ruleName})
	if err != nil {
		return nil, nil, err
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		faults.log(slog.LevelError, err.Error(), "component", "otel-sdk")
	}))
	slog.Info("tracing with OpenTelemetry", "endpoint", opts.OTLPEndpoint, "service", opts.ServiceName)
	flush := func() {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := o.provider.ForceFlush(ctx); err != nil {
			slog.Warn("flushing traces", "err", err)
		}
	}
	return o.wrap(api(o), opts), flush, nil
}

// flushTimeout bounds the flush New returns: what the collector has not
// taken by then is dropped, so that shutdown ends.
const flushTimeout = 5 * time.Second
