// Package backendtest is what the backend's tests share: a process of its
// own for a test that needs one, the log captured, and the daemon's and
// the sampling proxy's stand-ins on loopback, over package standin.
package backendtest

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/edge"
	"github.com/cruddur/tracing/backend/internal/standin"
)

// aloneEnv names the one test a re-run of the test binary is for.
const aloneEnv = "CRUDDUR_BACKEND_TEST_ALONE"

// Alone runs the calling test in a process of its own, beside the other
// tests, and reports whether it has (the caller then returns). In that
// process, it returns false and the test runs there. A test that measures
// the process's heap and goroutines, or sets what is the process's (the
// default logger, the SDKs' loggers and configuration), needs one.
func Alone(t *testing.T) bool {
	t.Helper()
	if os.Getenv(aloneEnv) == t.Name() {
		return false
	}
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), aloneEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "    ") { // the test's own log and errors
			t.Log(strings.TrimSpace(line))
		}
	}
	if err != nil {
		t.Errorf("in a process of its own: %v\n%s", err, out)
	}
	return true
}

// Run runs m's tests, letting more parallel tests wait at once than there
// are cores (they mostly wait, on the clock and on loopback) unless
// -test.parallel says otherwise.
func Run(m *testing.M) int {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "8")
	}
	return m.Run()
}

// CaptureLog sends the default logger's JSON lines to a buffer for the
// test.
func CaptureLog(t testing.TB) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

// Eventually calls probe until it reports true, every 20 ms for at most
// within, and fails t with what otherwise: a test waits on what it needs
// (rules loaded, a span exported), never for a fixed time.
func Eventually(t testing.TB, within time.Duration, what string, probe func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !probe(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

// Get sends GET url, with host as its Host header when set, and returns the
// response and its body.
func Get(t testing.TB, url, host string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// NoDaemon is a daemon address where nothing listens, for the tests of a
// daemon that is down: UDP port 9 (discard), outside the ephemeral range
// that every stand-in's port 0 is taken from. (A port freed for the
// purpose would not do: another test's stand-in could take it while
// segments are still sent there, and count them as its own.)
const NoDaemon = "127.0.0.1:9"

// Daemon stands in for the X-Ray daemon: a UDP listener on loopback that
// hands over each datagram it receives, waiting up to 5 s for one.
func Daemon(t testing.TB) (addr string, next func() []byte) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String(), func() []byte {
		t.Helper()
		buf := make([]byte, 64*1024)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no segment reached the daemon: %v", err)
		}
		return buf[:n]
	}
}

// SamplingProxy stands in for the daemon's sampling proxy on loopback,
// serving SamplingProxyHandler.
func SamplingProxy(t testing.TB, rules []*sampling.SamplingRule) (addr string) {
	t.Helper()
	srv := httptest.NewServer(SamplingProxyHandler(rules))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// SamplingProxyHandler is standin.SamplingProxy serving rules and Probe,
// for a test that serves it in a handler of its own.
func SamplingProxyHandler(rules []*sampling.SamplingRule) http.Handler {
	return standin.SamplingProxy(append(slices.Clip(rules), Probe()))
}

// ProbeHost is the Host header of a probe, a request only Probe matches.
const ProbeHost = "rules-loaded.probe"

// Probe is a sampling rule that records every probe and nothing else. The
// SDK decides by the account's rules only once it has loaded them, just
// after the proxy has served them: a test sends probes until one is
// recorded (WaitForXRayRules) instead of waiting a fixed time.
func Probe() *sampling.SamplingRule {
	r := Everything()
	name, host, first := "probe", ProbeHost, int64(1)
	r.RuleName, r.Host, r.Priority = &name, &host, &first
	return r
}

// WaitForXRayRules waits until the backend in X-Ray mode that serves
// quietURL (a path it does not log: its health check) has loaded Probe: a
// probe there comes back with a trace header, which the SDK's handler
// sets on the requests it records only.
func WaitForXRayRules(t testing.TB, quietURL string) {
	t.Helper()
	Eventually(t, 10*time.Second, "the backend loading the sampling rules", func() bool {
		resp, _ := Get(t, quietURL, ProbeHost)
		return resp.Header.Get(edge.TraceHeader) != ""
	})
}

// TemplateRules are the sampling rules the template at path declares, in
// the X-Ray API's shape, with X-Ray's own default rule after them.
func TemplateRules(t testing.TB, path string) []*sampling.SamplingRule {
	t.Helper()
	task, err := standin.ReadTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	return append(task.Rules, standin.DefaultRule())
}

// LocalRule is the X-Ray SDK's local sampling strategy with one rule: the
// first fixedTarget requests of each second, then rate of the rest.
func LocalRule(t testing.TB, fixedTarget int, rate float64) sampling.Strategy {
	t.Helper()
	s, err := sampling.NewLocalizedStrategyFromJSONBytes(fmt.Appendf(nil, `{"version": 2, "default": {"fixed_target": %d, "rate": %g}}`, fixedTarget, rate))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SampleAll is a sampling strategy that records every request, so that a
// test does not depend on the reservoir's one-a-second timing.
func SampleAll(t testing.TB) sampling.Strategy { return LocalRule(t, 0, 1) }

// Everything is a sampling rule that records every request.
func Everything() *sampling.SamplingRule {
	r := standin.DefaultRule()
	name, rate, none, priority := "everything", 1.0, int64(0), int64(200)
	r.RuleName, r.FixedRate, r.ReservoirSize, r.Priority = &name, &rate, &none, &priority
	return r
}
