package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/cruddur/tracing/backend/internal/edge"
	"go.opentelemetry.io/contrib/detectors/aws/ecs"
	awsxray "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
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
	// namespace is where a step's description lands in the segment's
	// metadata.
	namespace string
}

// newOTelTracing sets up the SDK: spans go to opts.Exporter, or else to
// opts.OTLPEndpoint, an OTLP/HTTP base URL, at /v1/traces as the OTLP
// specification says for OTEL_EXPORTER_OTLP_ENDPOINT. The exporter retries
// and then drops, so tracing never blocks serving. Sampling is X-Ray's, by
// sampler.
func newOTelTracing(ctx context.Context, opts Options, sampler xraySampler) (*otelTracing, error) {
	exporter := opts.Exporter
	if exporter == nil {
		endpoint := opts.OTLPEndpoint
		var err error
		if exporter, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces")); err != nil {
			return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
		}
	}
	// The service by name and, on ECS, its task, cluster, container and
	// region (the contrib ECS resource detector reads the task metadata
	// endpoint).
	res, err := resource.New(ctx,
		resource.WithDetectors(ecs.NewResourceDetector()),
		resource.WithAttributes(semconv.ServiceName(opts.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("describing the service for its traces: %w", err)
	}
	o := newOTelTracingWith(res, sampler, sdktrace.WithBatcher(exporter))
	o.namespace = opts.MetadataNamespace
	return o, nil
}

// xrayOrigin is the origin X-Ray's exporter (the collector's awsxray, in
// the ADOT collector and the CloudWatch agent alike) writes on segments
// from res: on ECS, by launch type. The sampler asks the rules with it, so
// a rule's ServiceType matches the segments it samples. (In X-Ray mode the
// SDK's ECS plugin writes AWS::ECS::Container, and the rules are asked with
// that.)
func xrayOrigin(res *resource.Resource) string {
	attr := func(k attribute.Key) string { v, _ := res.Set().Value(k); return v.Emit() }
	if attr(semconv.CloudProviderKey) != "aws" || attr(semconv.CloudPlatformKey) != "aws_ecs" {
		return ""
	}
	switch attr(semconv.AWSECSLaunchtypeKey) {
	case "fargate":
		return "AWS::ECS::Fargate"
	case "ec2":
		return "AWS::ECS::EC2"
	}
	return "AWS::ECS::Container"
}

// newOTelTracingWith makes the tracer provider: X-Ray's ids, res, and
// X-Ray's rules asked with res's origin.
func newOTelTracingWith(res *resource.Resource, sampler xraySampler, export sdktrace.TracerProviderOption) *otelTracing {
	sampler.serviceType = xrayOrigin(res)
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
// (a public endpoint: the rules decide), unless opts.TrustTraceHeader; a malformed one is
// dropped.
func (o *otelTracing) wrap(h http.Handler, opts Options) http.Handler {
	trust := opts.TrustTraceHeader
	traced := o.serverSpans(accessLog(otelTraceID, opts.HealthCheckPath, h), trust)
	plain := accessLog(unsampledTraceID, opts.HealthCheckPath, h)
	return edge.FilterTraceHeader(true, sampledFirstOTel(o.sampler.strategy, o.sampler.service, o.sampler.serviceType, trust, traced, plain))
}

// xrayContentLength is the response size under the name the collector's
// awsxray exporter reads for a segment's http.response.content_length.
const xrayContentLength = attribute.Key("http.response_content_length")

// serverSpans gives each request it serves a server span, as otelhttp's
// handler would, with what X-Ray shows of a request (the collector's awsxray
// exporter reads these semantic-convention attributes: method, URL, client,
// user agent, status, response size) and a 5xx as an error. A caller's
// trace context is followed when trust, else linked (otelhttp's public
// endpoint). What otelhttp adds besides, which X-Ray never shows (its HTTP
// metrics, network and protocol attributes, a wrapper of the request
// body), cost OpenTelemetry mode's recorded requests most of their
// difference from X-Ray mode's (docs/performance.md).
func (o *otelTracing) serverSpans(h http.Handler, trust bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := o.startServerSpan(r, trust)
		defer span.End()
		sw := &sizeWriter{statusWriter: statusWriter{ResponseWriter: w, status: http.StatusOK}}
		h.ServeHTTP(sw, r.WithContext(ctx))
		// The awsxray exporter fills the segment's content_length from the
		// older name, http.response_content_length, not from
		// http.response.body.size (an independent collector run found 0),
		// so the size is given under both.
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.status), semconv.HTTPResponseBodySize(sw.size), xrayContentLength.Int(sw.size))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, "")
		}
	})
}

// startServerSpan starts r's server span with its request attributes. It is
// a function of its own so that its frame (the attributes, the start
// options) is gone before the handler runs: on the handler's stack it would
// push a recorded request's goroutine past its first stack, which the Go
// runtime then grows, and shrinks again at the next GC (docs/performance-history.md).
func (o *otelTracing) startServerSpan(r *http.Request, trust bool) (context.Context, trace.Span) {
	ctx := r.Context()
	attrs := make([]attribute.KeyValue, 0, 10)
	// No query string: otelhttp records none either.
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs = append(attrs, semconv.URLScheme(scheme))
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if n, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(n))
		}
	} else if r.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(r.Host))
	}
	if client := edge.ClientAddress(r); client != "" {
		attrs = append(attrs, semconv.ClientAddress(client))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...)}
	if remote := (awsxray.Propagator{}).Extract(ctx, propagation.HeaderCarrier(r.Header)); trace.SpanContextFromContext(remote).IsValid() {
		if trust {
			ctx = remote
		} else {
			opts = append(opts, trace.WithLinks(trace.LinkFromContext(remote)))
		}
	}
	return o.tracer.Start(ctx, r.Method+" "+r.URL.Path, opts...)
}

// sizeWriter keeps the status and counts the body a handler wrote.
type sizeWriter struct {
	statusWriter
	size int
}

func (w *sizeWriter) Write(b []byte) (int, error) {
	n, err := w.statusWriter.Write(b)
	w.size += n
	return n, err
}

// Step runs work in a child span, with describe's attributes added after it
// when the span is recorded. A request X-Ray does not record has no span to
// be a child of, and its step none either.
func (o *otelTracing) Step(ctx context.Context, name string, work func(), describe func() map[string]any) {
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
	// The awsxray exporter makes an attribute named for a namespace, a
	// JSON object, that namespace's metadata; other attributes would land
	// under "default".
	meta, err := json.Marshal(describe())
	if err != nil {
		slog.Debug("tracing "+name, "err", err)
		return
	}
	span.SetAttributes(attribute.String("aws.xray.metadata."+o.namespace, string(meta)))
}
