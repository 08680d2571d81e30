package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/backendtest"
)

// clientCases are X-Forwarded-For headers as they reach the backend (the
// load balancer appends the address it took the request from), and the
// client a backend behind that many trusted proxies must record.
var clientCases = []struct {
	name, proxies, xff, want string
}{
	{"a forged first entry, one proxy", "1", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
	{"two headers, one proxy", "1", "6.6.6.6\n203.0.113.9", "203.0.113.9"},
	{"two proxies", "2", "6.6.6.6, 198.51.100.4, 10.0.3.7", "198.51.100.4"},
	{"not through the proxy", "1", "", "127.0.0.1"},
	{"no trusted proxy", "", "6.6.6.6", "127.0.0.1"},
	{"not an address where the proxy's entry is", "1", "6.6.6.6, <script>", "127.0.0.1"},
}

// getAs sends GET path with X-Forwarded-For values (one header per line).
func getAs(t *testing.T, url, xff string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for _, v := range strings.Split(xff, "\n") {
		if v != "" {
			req.Header.Add("X-Forwarded-For", v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// loggedClient is the client of the access log's line for path.
func loggedClient(t *testing.T, log string, path string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var line struct{ Msg, Path, Client string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "request" && line.Path == path {
			return line.Client
		}
	}
	t.Fatalf("no access log line for %s in %s", path, log)
	return ""
}

// TestTheClientAddressIsTheOneTheProxiesSaw: in both tracing modes, the
// X-Ray segment's client_ip (or the OpenTelemetry span's client.address)
// and the access log's client are the address the trusted proxies appended,
// never an entry the caller wrote, and the peer's when there is none.
func TestTheClientAddressIsTheOneTheProxiesSaw(t *testing.T) {
	const path = "/api/activities/home"
	for _, tc := range clientCases {
		t.Run("xray, "+tc.name, func(t *testing.T) {
			log := backendtest.CaptureLog(t)
			daemon, next := backendtest.Daemon(t)
			proxy := backendtest.SamplingProxy(t, []*sampling.SamplingRule{backendtest.Everything()})
			env := map[string]string{"CRUDDUR_TRUSTED_PROXIES": tc.proxies, "AWS_XRAY_DAEMON_ADDRESS": "tcp:" + proxy + " udp:" + daemon}
			handler, _, err := tracedHandler(context.Background(), func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			app := httptest.NewServer(handler)
			t.Cleanup(app.Close)
			backendtest.WaitForXRayRules(t, app.URL+healthCheckPath)
			getAs(t, app.URL+path, tc.xff)
			for {
				var seg struct {
					HTTP struct {
						Request struct {
							URL           string `json:"url"`
							ClientIP      string `json:"client_ip"`
							XForwardedFor bool   `json:"x_forwarded_for"`
						} `json:"request"`
					} `json:"http"`
				}
				_, doc, _ := strings.Cut(string(next()), "\n")
				if err := json.Unmarshal([]byte(doc), &seg); err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(seg.HTTP.Request.URL, path) {
					continue // another request's segment
				}
				if r := seg.HTTP.Request; r.ClientIP != tc.want || r.XForwardedFor != (tc.want != "127.0.0.1") {
					t.Errorf("X-Forwarded-For %q: segment client_ip %q, x_forwarded_for %v; want %s", tc.xff, r.ClientIP, r.XForwardedFor, tc.want)
				}
				break
			}
			if got := loggedClient(t, log.String(), path); got != tc.want {
				t.Errorf("X-Forwarded-For %q: access log client %q; want %s", tc.xff, got, tc.want)
			}
		})
		t.Run("otel, "+tc.name, func(t *testing.T) {
			log := backendtest.CaptureLog(t)
			app, served, collector, flush := otelBackend(t, map[string]string{"CRUDDUR_TRUSTED_PROXIES": tc.proxies})
			getAs(t, app.URL+path, tc.xff)
			<-served
			flush()
			collector.mu.Lock()
			defer collector.mu.Unlock()
			found := false
			for _, s := range collector.spans {
				if s.Name == "GET "+path {
					found = true
					if got := attr(s.Attributes, "client.address").GetStringValue(); got != tc.want {
						t.Errorf("X-Forwarded-For %q: client.address %q; want %s", tc.xff, got, tc.want)
					}
				}
			}
			if !found {
				t.Fatalf("no server span for %s", path)
			}
			if got := loggedClient(t, log.String(), path); got != tc.want {
				t.Errorf("X-Forwarded-For %q: access log client %q; want %s", tc.xff, got, tc.want)
			}
		})
	}
}

// TestATargetThatIsNotAPathIsNeitherTracedNorLogged: `PRI * HTTP/2.0`, the
// h2c preface, gets 400 at the edge, and `OPTIONS *` Go's own answer; no
// span, no log line.
func TestATargetThatIsNotAPathIsNeitherTracedNorLogged(t *testing.T) {
	log := backendtest.CaptureLog(t)
	app, _, collector, flush := otelBackend(t, nil)
	// (Go's server answers OPTIONS * itself, before any handler.)
	for request, want := range map[string]string{
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":      "HTTP/1.1 400 Bad Request",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n": "HTTP/1.1 200 OK",
	} {
		if status := rawRequest(t, strings.TrimPrefix(app.URL, "http://"), request); status != want {
			t.Errorf("%q: %q; want %q", request, status, want)
		}
	}
	flush()
	collector.mu.Lock()
	defer collector.mu.Unlock()
	if len(collector.spans) != 0 {
		t.Errorf("%d spans; want none", len(collector.spans))
	}
	if strings.Contains(log.String(), `"msg":"request"`) {
		t.Errorf("logged: %s", log.String())
	}
}

// TestTrustedProxiesIsRefusedOutOfRange: one line, exit 2 from main.
func TestTrustedProxiesIsRefusedOutOfRange(t *testing.T) {
	for _, v := range []string{"-1", "6", "one", "1.5"} {
		_, _, err := optionsFromEnv(func(k string) string { return map[string]string{"CRUDDUR_TRUSTED_PROXIES": v}[k] })
		if err == nil || err.Error() != `CRUDDUR_TRUSTED_PROXIES: "`+v+`" is not a number of proxies; expected 0..5` {
			t.Errorf("%q: %v", v, err)
		}
	}
}

// rawRequest writes request as it is to addr and returns the response's
// status line.
func rawRequest(t *testing.T, addr, request string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	return strings.TrimSpace(line)
}
