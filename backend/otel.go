package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/detectors/aws/ecs"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	awsxray "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// otelTracing is the OpenTelemetry mode (CRUDDUR_TRACING=otel): spans with
// X-Ray-format trace ids and X-Ray propagation, exported over OTLP/HTTP to
// the collector sidecar, which sends them to X-Ray.
type otelTracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	sampler  xraySampler
}

// newOTelTracing sets up the SDK. endpoint is the OTLP/HTTP base URL
// (OTEL_EXPORTER_OTLP_ENDPOINT, default http://127.0.0.1:4318), to which
// traces go at /v1/traces as the OTLP specification says for that variable.
// The exporter retries and then drops, so tracing never blocks serving.
// Sampling is X-Ray's, by strategy (xraySampler).
func newOTelTracing(ctx context.Context, serviceName, endpoint string, sampler xraySampler) (*otelTracing, error) {
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	res, err := serviceResource(ctx, serviceName)
	if err != nil {
		return nil, err
	}
	return newOTelTracingWith(res, sampler, sdktrace.WithBatcher(exporter)), nil
}

// serviceResource describes what sends the traces: the service by name and,
// on ECS, its task, cluster, container and region (the contrib ECS resource
// detector reads them from the task metadata endpoint).
func serviceResource(ctx context.Context, serviceName string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithDetectors(ecs.NewResourceDetector()),
		resource.WithAttributes(semconv.ServiceName(serviceName)))
	if err != nil {
		return nil, fmt.Errorf("describing the service for its traces: %w", err)
	}
	return res, nil
}

func newOTelTracingWith(res *resource.Resource, sampler xraySampler, export sdktrace.TracerProviderOption) *otelTracing {
	provider := sdktrace.NewTracerProvider(
		export,
		// X-Ray accepts only trace ids that start with the time in seconds.
		sdktrace.WithIDGenerator(awsxray.NewIDGenerator()),
		sdktrace.WithResource(res),
		// X-Ray's rules decide root spans, as in X-Ray mode; children
		// follow their parent. (It replaces OTEL_TRACES_SAMPLER.)
		sdktrace.WithSampler(sdktrace.ParentBased(sampler)),
	)
	return &otelTracing{provider: provider, tracer: provider.Tracer("github.com/cruddur/tracing/backend"), sampler: sampler}
}

// wrap instruments h: a server span per request X-Ray's rules record
// (sampledFirstOTel; the health-check rule records none), named "METHOD
// path". A well-formed X-Amzn-Trace-Id from a caller is linked, not followed
// (a public endpoint: the rules decide), unless trust; a malformed one is
// dropped.
func (o *otelTracing) wrap(h http.Handler, serviceName string, trust bool) http.Handler {
	traced := otelhttp.NewHandler(accessLog(otelTraceID, h), serviceName,
		otelhttp.WithTracerProvider(o.provider),
		otelhttp.WithPropagators(awsxray.Propagator{}),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return !trust }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	)
	plain := accessLog(unsampledTraceID, h)
	return edgeTraceHeader(true, sampledFirstOTel(o.sampler.strategy, o.sampler.service, o.sampler.serviceType, trust, traced, plain))
}

// step runs work in a child span, with describe's attributes added after it
// when the span is recorded. A request X-Ray does not record has no span to
// be a child of, and its step none either.
func (o *otelTracing) step(ctx context.Context, name string, work func(), describe func() map[string]any) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		work()
		return
	}
	_, span := o.tracer.Start(ctx, name)
	defer span.End()
	work()
	if !span.IsRecording() {
		return
	}
	for k, v := range describe() {
		switch x := v.(type) {
		case int:
			span.SetAttributes(attribute.Int(k, x))
		case string:
			span.SetAttributes(attribute.String(k, x))
		default:
			span.SetAttributes(attribute.String(k, fmt.Sprint(x)))
		}
	}
}

// shutdown sends what is buffered and stops the exporter.
func (o *otelTracing) shutdown(ctx context.Context) error { return o.provider.Shutdown(ctx) }

// flush sends what is buffered, and tracing goes on.
func (o *otelTracing) flush(ctx context.Context) error { return o.provider.ForceFlush(ctx) }
