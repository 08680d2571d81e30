package tracing

import (
	"context"
	"net/http"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/edge"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// xraySampler is OpenTelemetry's Sampler over the X-Ray SDK's sampling
// strategy: in OpenTelemetry mode the backend samples by the same rules as in
// X-Ray mode, the account's, which the SDK's centralized strategy polls from
// the collector's sampling proxy (rule matching by service name and type,
// host, method and path, the reservoir, fixed rates, X-Ray's targets, rule
// statistics reported back). Nothing of that is written here: the SDK's
// strategy does it; this adapts its Request and Decision to OpenTelemetry's
// SamplingParameters and SamplingResult. It decides root spans; wrapped in
// sdktrace.ParentBased, children follow their parent.
type xraySampler struct {
	strategy             sampling.Strategy
	service, serviceType string
}

// decidedKey holds, in a request's context, the decision sampledFirstOTel
// already took, so the sampler does not ask (and count) a second time.
type decidedKey struct{}

// ShouldSample asks the X-Ray strategy, or takes the decision the request
// carries.
func (s xraySampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	state := trace.SpanContextFromContext(p.ParentContext).TraceState()
	sample, decided := p.ParentContext.Value(decidedKey{}).(bool)
	if !decided {
		req := &sampling.Request{ServiceName: s.service, ServiceType: s.serviceType}
		for _, kv := range p.Attributes {
			switch kv.Key {
			case "http.request.method":
				req.Method = kv.Value.AsString()
			case "url.path":
				req.URL = kv.Value.AsString()
			case "server.address":
				req.Host = kv.Value.AsString()
			}
		}
		sample = s.strategy.ShouldTrace(req).Sample
	}
	if sample {
		return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample, Tracestate: state}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: state}
}

// Description names the sampler.
func (s xraySampler) Description() string { return "XRayCentralizedSampler{" + s.service + "}" }

// sampledFirstOTel asks the X-Ray strategy before OpenTelemetry's handler
// does any work, as sampledFirst does for the X-Ray SDK: a request the rules
// record goes through traced with the decision in its context; one they do
// not (about 9 in 10 at the seed's rule; every health check) is served by
// plain, with no span, attributes, response wrapper or propagation. A
// trusted upstream's trace header goes to traced as it is: there its
// Sampled flag decides (ParentBased).
func sampledFirstOTel(strategy sampling.Strategy, service, serviceType string, trust bool, traced, plain http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trust && r.Header.Get(edge.TraceHeader) != "" {
			traced.ServeHTTP(w, r)
			return
		}
		if strategy.ShouldTrace(&sampling.Request{Host: r.Host, URL: r.URL.Path, Method: r.Method, ServiceName: service, ServiceType: serviceType}).Sample {
			traced.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decidedKey{}, true)))
			return
		}
		plain.ServeHTTP(w, r)
	})
}
