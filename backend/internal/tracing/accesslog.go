package tracing

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/cruddur/tracing/backend/internal/edge"
	"go.opentelemetry.io/otel/trace"
)

// accessLog writes one JSON line per request once it is served: method,
// path, status, duration, the client's address (edge.Handler's) and the trace id in X-Ray's form
// (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx), so that CloudWatch Logs Insights
// leads from a line to its trace in one step. It runs inside the tracing
// middleware, where traceID finds the request's trace. Requests to quiet
// (the health check's path, asked every few seconds) are not logged.
func accessLog(traceID func(context.Context) string, quiet string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == quiet {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		slog.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("client", edge.ClientAddress(r)),
			slog.String("trace_id", traceID(r.Context())))
	})
}

// statusWriter keeps the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// xrayTraceID is the trace id of the request's X-Ray segment.
func xrayTraceID(ctx context.Context) string {
	if seg := xray.GetSegment(ctx); seg != nil {
		return seg.TraceID
	}
	return ""
}

// otelTraceID is the request's OpenTelemetry trace id in X-Ray's form: the
// stack's ids start with the time, as X-Ray's do (the X-Ray id generator).
func otelTraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	id := sc.TraceID().String()
	return "1-" + id[:8] + "-" + id[8:]
}
