package tracing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/daemoncfg"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
)

// Bounds on what the backend reads from its collector's sampling proxy. A
// GetSamplingRules reply of X-Ray's most rules (a few hundred at about half
// a kilobyte each) is far below maxSamplingReply; a collector that answers
// more, or not at all, is faulty or hijacked.
const (
	maxSamplingReply = 1 << 20
	// SamplingTimeout is how long a call to the sampling proxy may take
	// before the rules in use stay.
	SamplingTimeout = 5 * time.Second
)

// centralizedStrategy is the X-Ray SDK's centralized sampling strategy (the
// account's rules and targets, polled through the collector's sampling
// proxy, statistics reported back), reading the proxy only through a
// bounded relay (samplingRelay), polling from the start, and tracing only
// by the account's rules (accountRulesOnly).
func centralizedStrategy(daemonAddr string, faults *faultLog) (sampling.Strategy, error) {
	endpoints, err := daemoncfg.GetDaemonEndpointsFromString(daemonAddr)
	if err != nil {
		return nil, err
	}
	strategy, err := sampling.NewCentralizedStrategy()
	if err != nil {
		return nil, err
	}
	relay, err := samplingRelay(endpoints.TCPAddr, faults)
	if err != nil {
		return nil, err
	}
	strategy.LoadDaemonEndpoints(&daemoncfg.DaemonEndpoints{UDPAddr: endpoints.UDPAddr, TCPAddr: relay})
	// The SDK starts polling at its first decision: this one, at start-up,
	// not a request's.
	strategy.ShouldTrace(&sampling.Request{})
	return accountRulesOnly{strategy}, nil
}

// accountRulesOnly is the SDK's strategy, tracing only what one of the
// account's rules decides to. Before the first rules load, and whenever
// they expire (an hour without a reply from the proxy), the SDK decides by
// its local fallback, which traces the first request of each second
// whatever it is: a health check, which the account's rules never trace.
// Such a decision carries no rule's name; it becomes "not traced". (A type
// of its own also keeps xray.Config from pointing the SDK's strategy back
// at the proxy.)
type accountRulesOnly struct{ *sampling.CentralizedStrategy }

// ShouldTrace is the SDK's decision when a rule of the account's made it.
func (s accountRulesOnly) ShouldTrace(r *sampling.Request) *sampling.Decision {
	if d := s.CentralizedStrategy.ShouldTrace(r); d.Rule != nil {
		return d
	}
	return &sampling.Decision{}
}

// samplingRelay serves, on a loopback port of its own, the two calls the
// SDK's sampling poller makes (GetSamplingRules, SamplingTargets), forwarding
// each to upstream with a time limit and reading at most maxSamplingReply of
// the reply. The SDK's own client has neither bound (an http.Client without
// timeout, a JSON decoder over the whole body). Over a bound, or for a reply
// that is not a 2xx with JSON (and, for the rules, with at least one), the
// SDK gets a 502 and keeps the rules it has (or its fallback), and the fault
// is logged once per cause every 10 s.
func samplingRelay(upstream *net.TCPAddr, faults *faultLog) (*net.TCPAddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the sampling relay: %w", err)
	}
	client := &http.Client{Timeout: SamplingTimeout}
	fault := func(w http.ResponseWriter, msg string) {
		faults.log(slog.LevelWarn, msg, "component", "sampling-relay", "proxy", upstream.String())
		http.Error(w, msg, http.StatusBadGateway)
	}
	srv := &http.Server{
		ReadHeaderTimeout: SamplingTimeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSamplingReply))
			if err != nil {
				http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
				return
			}
			req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+upstream.String()+r.URL.Path, bytes.NewReader(body))
			if err != nil {
				fault(w, "the sampling proxy's address: "+err.Error())
				return
			}
			req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
			resp, err := client.Do(req)
			if err != nil {
				fault(w, "the sampling proxy did not answer: "+err.Error())
				return
			}
			defer resp.Body.Close()
			reply, err := io.ReadAll(io.LimitReader(resp.Body, maxSamplingReply+1))
			// The SDK logs a failed poll only at debug level: without these
			// lines a proxy that answers with anything but rules would leave
			// the backend tracing nothing (accountRulesOnly), silently.
			switch {
			case err != nil:
				fault(w, "reading the sampling proxy's reply: "+err.Error())
			case len(reply) > maxSamplingReply:
				fault(w, fmt.Sprintf("the sampling proxy's reply to %s is over %d bytes; the rules in use stay", r.URL.Path, maxSamplingReply))
			case resp.StatusCode/100 != 2:
				fault(w, fmt.Sprintf("the sampling proxy answered %s with %s; the rules in use stay", r.URL.Path, resp.Status))
			case !json.Valid(reply):
				fault(w, fmt.Sprintf("the sampling proxy's reply to %s is not JSON; the rules in use stay", r.URL.Path))
			case r.URL.Path == "/GetSamplingRules" && !hasRules(reply):
				fault(w, "the sampling proxy served no sampling rules; the rules in use stay")
			default:
				w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
				w.WriteHeader(resp.StatusCode)
				w.Write(reply)
			}
		}),
	}
	go srv.Serve(ln)
	return ln.Addr().(*net.TCPAddr), nil
}

// hasRules says whether a GetSamplingRules reply holds a rule, as X-Ray's
// always does (its Default rule); the SDK asks for one page only.
func hasRules(reply []byte) bool {
	var rules struct{ SamplingRuleRecords []json.RawMessage }
	return json.Unmarshal(reply, &rules) == nil && len(rules.SamplingRuleRecords) > 0
}
