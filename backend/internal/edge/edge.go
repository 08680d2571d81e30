// Package edge is what every request to the backend meets first, whatever
// the tracing: a request target that is not a path is refused, the client's
// address is the one the trusted proxies saw (Handler, ClientAddress), and
// a caller's X-Amzn-Trace-Id is dropped, kept as a reference, or followed
// (FilterTraceHeader). It also makes trace ids in X-Ray's form (NewTraceID).
package edge

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
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
	TraceHeader = "X-Amzn-Trace-Id"
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

// ParseTraceHeader returns the header's Root if every field is one X-Ray
// defines, in its form, with a Root; ok is false otherwise.
func ParseTraceHeader(v string) (root string, ok bool) {
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

// CallerTrace is the Root of the caller's well-formed trace header that
// FilterTraceHeader removed, untrusted, from the request of ctx.
func CallerTrace(ctx context.Context) (root string, ok bool) {
	root, ok = ctx.Value(callerTraceKey{}).(string)
	return root, ok
}

// FilterTraceHeader removes a malformed trace header always, and a well-formed
// one unless keep: the X-Ray SDK then starts a new trace and its sampling rule
// decides. A removed well-formed Root is kept in the context (CallerTrace),
// where the tracing puts it on the segment or span as a reference.
func FilterTraceHeader(keep bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(TraceHeader); v != "" {
			root, ok := ParseTraceHeader(v)
			if !ok || !keep {
				r.Header.Del(TraceHeader)
			}
			if ok && !keep {
				r = r.WithContext(context.WithValue(r.Context(), callerTraceKey{}, root))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// MaxTrustedProxies bounds CRUDDUR_TRUSTED_PROXIES: the load balancer is
// one; more than a few proxies in a row would be a design to rethink.
const MaxTrustedProxies = 5

// Handler is the first thing every request meets, whatever the tracing:
//
//   - A request whose target is not a path (`PRI *`, the h2c preface;
//     `OPTIONS *`) gets 400 and is neither traced nor logged: it asks
//     nothing of the API.
//   - X-Forwarded-For keeps only the client's address as the trusted
//     proxies saw it, so that the X-Ray SDK (its client_ip), the
//     OpenTelemetry span (client.address) and the access log record the
//     same, true, address. Each proxy appends the address it took the
//     request from (the load balancer's default, "append"), so with
//     trustedProxies proxies in front, the client is that many entries from
//     the right; every entry left of it is the caller's to write. With no
//     trusted proxy, or fewer entries than proxies (the request did not come
//     through them), the header goes and the peer address counts.
func Handler(trustedProxies int, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if client := forwardedClient(r.Header.Values("X-Forwarded-For"), trustedProxies); client != "" {
			r.Header["X-Forwarded-For"] = []string{client}
		} else {
			r.Header.Del("X-Forwarded-For")
		}
		h.ServeHTTP(w, r)
	})
}

// forwardedClient is the address trustedProxies proxies saw the request
// come from, from the X-Forwarded-For values they appended to; "" when there
// is none to trust.
func forwardedClient(values []string, trustedProxies int) string {
	if trustedProxies == 0 {
		return ""
	}
	var hops []string
	for _, v := range values {
		for _, hop := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	if len(hops) < trustedProxies {
		return ""
	}
	ip := net.ParseIP(hops[len(hops)-trustedProxies])
	if ip == nil {
		return ""
	}
	return ip.String()
}

// ClientAddress is who sent the request: what Handler left in
// X-Forwarded-For, else the peer.
func ClientAddress(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		return xff
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

// NewTraceID is a trace id in X-Ray's form, 1-<epoch seconds, 8 hex>-<96
// random bits, 24 hex>, as the SDK's xray.NewTraceID makes them, from
// math/rand/v2 (ChaCha8, per CPU) instead of crypto/rand and fmt: a fifth of
// the time, for every request.
func NewTraceID() string {
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
