package main

import (
	"bytes"
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
	samplingTimeout  = 5 * time.Second
)

// centralizedStrategy is the X-Ray SDK's centralized sampling strategy (the
// account's rules and targets, polled through the collector's sampling
// proxy, statistics reported back; before the first rules and whenever they
// expire, the SDK's fallback: 1 request a second and 5% more), reading the
// proxy only through a bounded relay (samplingRelay). It is a type of its
// own so that xray.Config does not point it back at the proxy itself.
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
	return boundedStrategy{strategy}, nil
}

type boundedStrategy struct{ *sampling.CentralizedStrategy }

// samplingRelay serves, on a loopback port of its own, the two calls the
// SDK's sampling poller makes (GetSamplingRules, SamplingTargets), forwarding
// each to upstream with a time limit and reading at most maxSamplingReply of
// the reply. The SDK's own client has neither bound (an http.Client without
// timeout, a JSON decoder over the whole body). Over a bound the SDK gets a
// 502 and keeps the rules it has (or its fallback), and the fault is logged
// once per cause every 10 s.
func samplingRelay(upstream *net.TCPAddr, faults *faultLog) (*net.TCPAddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the sampling relay: %w", err)
	}
	client := &http.Client{Timeout: samplingTimeout}
	fault := func(w http.ResponseWriter, msg string) {
		faults.log(slog.LevelWarn, msg, "component", "sampling-relay", "proxy", upstream.String())
		http.Error(w, msg, http.StatusBadGateway)
	}
	srv := &http.Server{
		ReadHeaderTimeout: samplingTimeout,
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
			switch {
			case err != nil:
				fault(w, "reading the sampling proxy's reply: "+err.Error())
			case len(reply) > maxSamplingReply:
				fault(w, fmt.Sprintf("the sampling proxy's reply to %s is over %d bytes; the rules in use stay", r.URL.Path, maxSamplingReply))
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
