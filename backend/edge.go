package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/xray"
)

// A caller's X-Amzn-Trace-Id, behind a public load balancer, comes from
// anyone: Sampled=1 would have every request recorded (X-Ray bills per trace
// recorded), Sampled=0 would hide a caller's requests, and a junk Root would
// be sent to X-Ray and echoed back. So the backend treats the header as the
// OpenTelemetry notion of a public endpoint does: the service's own rule
// decides, and a well-formed caller context is kept only as a reference.
// CRUDDUR_TRUST_TRACE_HEADER=true trusts the upstream instead, for a service
// that sits behind another traced service of ours.

const (
	traceHeader = "X-Amzn-Trace-Id"
	// maxTraceHeaderBytes bounds the header; a well-formed one with Root,
	// Parent, Sampled, the load balancer's Self and a Lineage is under 200.
	maxTraceHeaderBytes = 256
)

var traceHeaderFields = map[string]*regexp.Regexp{
	"Root":    regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`),
	"Self":    regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`),
	"Parent":  regexp.MustCompile(`^[0-9a-f]{16}$`),
	"Sampled": regexp.MustCompile(`^[01?]$`),
	"Lineage": regexp.MustCompile(`^[0-9a-zA-Z:]{1,64}$`),
}

// parseTraceHeader returns the header's Root if every field is one X-Ray
// defines, in its form, with a Root; ok is false otherwise.
func parseTraceHeader(v string) (root string, ok bool) {
	if len(v) > maxTraceHeaderBytes {
		return "", false
	}
	for _, field := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(field), "=")
		pattern, known := traceHeaderFields[k]
		if !known || !pattern.MatchString(val) {
			return "", false
		}
		if k == "Root" {
			root = val
		}
	}
	return root, root != ""
}

// callerTraceKey holds, in a request's context, the Root of a caller's
// well-formed trace header that the edge did not trust.
type callerTraceKey struct{}

// edgeTraceHeader removes a malformed trace header always, and a well-formed
// one unless keep: the X-Ray SDK then starts a new trace and its sampling rule
// decides. A removed well-formed Root is kept in the context, where
// recordCallerTrace puts it on the segment as a reference.
func edgeTraceHeader(keep bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(traceHeader); v != "" {
			root, ok := parseTraceHeader(v)
			if !ok || !keep {
				r.Header.Del(traceHeader)
			}
			if ok && !keep {
				r = r.WithContext(context.WithValue(r.Context(), callerTraceKey{}, root))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// recordCallerTrace adds the caller's trace id, which the edge did not
// trust, to the request's segment as metadata (not indexed, not billed).
func recordCallerTrace(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if root, ok := r.Context().Value(callerTraceKey{}).(string); ok {
			xray.AddMetadata(r.Context(), "caller_trace_id", root)
		}
		h.ServeHTTP(w, r)
	})
}

// newTraceID is a trace id in X-Ray's form, 1-<epoch seconds, 8 hex>-<96
// random bits, 24 hex>, as the SDK's xray.NewTraceID makes them, from
// math/rand/v2 (ChaCha8, per CPU) instead of crypto/rand and fmt: a fifth of
// the time, for every request.
func newTraceID() string {
	var raw [16]byte
	binary.BigEndian.PutUint32(raw[:4], uint32(time.Now().Unix()))
	binary.BigEndian.PutUint64(raw[4:12], rand.Uint64())
	binary.BigEndian.PutUint32(raw[12:], rand.Uint32())
	var id [35]byte
	copy(id[:], "1-")
	hex.Encode(id[2:10], raw[:4])
	id[10] = '-'
	hex.Encode(id[11:], raw[4:])
	return string(id[:])
}
