package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-xray-sdk-go/v2/awsplugins/ecs"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/ctxmissing"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/aws/aws-xray-sdk-go/v2/xraylog"
	"github.com/cruddur/tracing/backend/internal/edge"
)

// serviceType is the origin rules match requests by: what the SDK's ECS
// plugin sets on ECS, else none.
func (o Options) serviceType() string {
	if o.OnECS {
		return ecs.Origin
	}
	return ""
}

// traced wraps h in the X-Ray middleware, sending segments to
// opts.DaemonAddr and deciding by strategy. Its recorder configuration
// lives in the returned handler's context, not in the SDK's globals, so
// tests can run servers that talk to different daemons.
func traced(h http.Handler, opts Options, strategy sampling.Strategy) (http.Handler, error) {
	if opts.OnECS {
		ecs.Init()
	}
	// An emitter of its own, which ContextWithConfig points at the daemon;
	// the SDK's global one keeps the address it read at start-up.
	emitter, err := xray.NewDefaultEmitter(nil)
	if err != nil {
		return nil, fmt.Errorf("configuring X-Ray: %w", err)
	}
	cfg := xray.Config{
		DaemonAddr: opts.DaemonAddr, Emitter: emitter, SamplingStrategy: strategy,
		// Work outside a request (none today) must never fail for want of
		// a segment: log it instead.
		ContextMissingStrategy: ctxmissing.NewDefaultLogErrorStrategy(),
	}
	ctx, err := xray.ContextWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("configuring X-Ray: %w", err)
	}
	var namer xray.SegmentNamer = xray.NewFixedSegmentNamer(opts.ServiceName)
	if opts.URLPattern != "" {
		namer = xray.NewDynamicSegmentNamer(opts.ServiceName, opts.URLPattern)
	}
	sdk := xray.HandlerWithContext(ctx, namer, recordCallerTrace(accessLog(xrayTraceID, opts.HealthCheckPath, h)))
	origin := opts.serviceType()
	return edge.FilterTraceHeader(opts.TrustTraceHeader, sampledFirst(strategy, namer, opts.TracingName, origin, sdk, accessLog(unsampledTraceID, opts.HealthCheckPath, h))), nil
}

// sampledFirst asks the SDK's own sampling strategy, as the SDK's handler
// would, before the SDK makes a segment: a request the rules sample goes
// through the SDK's handler with the decision in its trace header, which the
// SDK follows without asking again; one they do not (about 9 in 10 at the
// seed's rule) is served plainly: no segment, subsegment, response wrapping
// or trace header, which the SDK makes even for requests it never sends; its
// log line still gets a trace id. A request that
// still carries a trace header after the edge (a trusted upstream's) goes
// to the SDK as it is.
func sampledFirst(strategy sampling.Strategy, namer xray.SegmentNamer, fixedName, origin string, sdk, plain http.Handler) http.Handler {
	// The SDK names segments, and matches rules, by AWS_XRAY_TRACING_NAME
	// first (fixedName).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(edge.TraceHeader) != "" {
			sdk.ServeHTTP(w, r)
			return
		}
		name := fixedName
		if name == "" {
			name = namer.Name(r.Host)
		}
		if strategy.ShouldTrace(&sampling.Request{Host: r.Host, URL: r.URL.Path, Method: r.Method, ServiceName: name, ServiceType: origin}).Sample {
			r.Header.Set(edge.TraceHeader, "Root="+edge.NewTraceID()+";Sampled=1")
			sdk.ServeHTTP(w, r)
			return
		}
		plain.ServeHTTP(w, r)
	})
}

// unsampledTraceID is a new trace id for the log line of a request X-Ray
// does not record.
func unsampledTraceID(context.Context) string { return edge.NewTraceID() }

// slogXRay sends the X-Ray SDK's own warnings and errors to the structured
// log, through faults: once per cause every 10 s.
type slogXRay struct {
	min    xraylog.LogLevel
	faults *faultLog
}

func (l slogXRay) Log(level xraylog.LogLevel, msg fmt.Stringer) {
	if level < l.min {
		return
	}
	lvl := slog.LevelWarn
	if level == xraylog.LogLevelError {
		lvl = slog.LevelError
	}
	l.faults.log(lvl, msg.String(), "component", "xray-sdk")
}

// recordCallerTrace adds the caller's trace id, which the edge did not
// trust, to the request's segment as metadata (not indexed, not billed).
func recordCallerTrace(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if root, ok := edge.CallerTrace(r.Context()); ok {
			xray.AddMetadata(r.Context(), "caller_trace_id", root)
		}
		h.ServeHTTP(w, r)
	})
}

// xraySteps records steps as X-Ray subsegments, with their description as
// metadata under namespace.
type xraySteps struct{ namespace string }

// Step runs work in a subsegment of a recorded request's segment.
func (x xraySteps) Step(ctx context.Context, name string, work func(), describe func() map[string]any) {
	// A request X-Ray will not record gets no subsegment: the work alone.
	if seg := xray.GetSegment(ctx); seg == nil || !seg.Sampled {
		work()
		return
	}
	err := xray.Capture(ctx, name, func(ctx context.Context) error {
		work()
		// Metadata is not indexed; it carries what helps reading one trace.
		for key, value := range describe() {
			if err := xray.AddMetadataToNamespace(ctx, x.namespace, key, value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// A tracing problem is logged, never returned: tracing must not
		// break serving.
		slog.Debug("tracing "+name, "err", err)
	}
}

// noSteps records nothing: the API untraced.
type noSteps struct{}

// Step runs work.
func (noSteps) Step(_ context.Context, _ string, work func(), _ func() map[string]any) { work() }
