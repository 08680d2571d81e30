package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cruddur/tracing/backend/internal/backendtest"
	"github.com/cruddur/tracing/backend/internal/tracing"
)

// runAsBackendEnv makes this test binary run the backend's main instead of
// the tests, so a test can start the backend as ECS does, from its
// environment, without building another binary.
const runAsBackendEnv = "CRUDDUR_BACKEND_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsBackendEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(backendtest.Run(m))
}

// startBackend starts the backend, as its own process, with env, on a port
// it picks itself (PORT=0: no port is chosen here and released, for another
// process to take first), and returns that port, the lines it has written
// so far to stdout and stderr (read on demand) and the process. It is
// stopped when the test ends.
func startBackend(t *testing.T, env ...string) (port int, lines func() []string, proc *os.Process) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(append(os.Environ(), runAsBackendEnv+"=1", "PORT=0"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	listening := make(chan int, 1)
	for _, r := range []io.Reader{stdout, stderr} {
		go func() {
			s := bufio.NewScanner(r)
			for s.Scan() {
				mu.Lock()
				got = append(got, s.Text())
				mu.Unlock()
				var line struct{ Msg, Addr string }
				if json.Unmarshal(s.Bytes(), &line) == nil && line.Msg == "serving" {
					if _, p, err := net.SplitHostPort(line.Addr); err == nil {
						n, _ := strconv.Atoi(p)
						listening <- n
					}
				}
			}
		}()
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	lines = func() []string { mu.Lock(); defer mu.Unlock(); return append([]string{}, got...) }
	select {
	case port = <-listening:
	case <-time.After(10 * time.Second):
		t.Fatalf("the backend said nothing of serving in 10 s:\n%s", strings.Join(lines(), "\n"))
	}
	return port, lines, cmd.Process
}

// runBackend runs the backend, as its own process, with env and PORT=0, to
// its end, and returns its exit code and what it wrote to stdout and
// stderr. A backend that took env would serve on: it is stopped after 10 s.
func runBackend(t *testing.T, env ...string) (code int, output string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(append(os.Environ(), runAsBackendEnv+"=1", "PORT=0"), env...)
	out, err := cmd.CombinedOutput()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// rssKiB is a process's resident memory, from /proc.
func rssKiB(t *testing.T, p *os.Process) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// badProxy serves h on loopback until the test ends; unlike httptest's
// server, closing it does not wait for h to return.
func badProxy(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestTheBackendIsBoundedAgainstItsSamplingProxy starts the backend as ECS
// does, in both tracing modes, against a sampling proxy that answers
// GetSamplingRules with 200 MB or never answers: its resident memory stays
// within twice its idle size, every request is served, and each fault is one
// log line (the fault log's limit), however often the SDK asks.
func TestTheBackendIsBoundedAgainstItsSamplingProxy(t *testing.T) {
	t.Parallel() // its backends are processes of their own
	// 200 MB of rules, streamed: the stand-in holds one chunk.
	huge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"SamplingRuleRecords": [`))
		chunk := []byte(strings.Repeat(`{"SamplingRule": {"RuleName": "x", "Priority": 1, "FixedRate": 1}},`, 1000))
		for sent := 0; sent < 200<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	for _, tc := range []struct {
		proxy string
		h     http.Handler
		want  string
	}{
		{"200 MB", huge, "reply to /GetSamplingRules is over 1048576 bytes"},
		{"hanging", hang, "the sampling proxy did not answer"},
	} {
		for _, mode := range []string{"xray", "otel"} {
			t.Run(tc.proxy+", "+mode, func(t *testing.T) {
				t.Parallel()
				addr := badProxy(t, tc.h)
				port, lines, proc := startBackend(t, "CRUDDUR_TRACING="+mode, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9",
					"AWS_XRAY_DAEMON_ADDRESS=tcp:"+addr+" udp:"+backendtest.NoDaemon)
				url := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/activities/home"
				get := func() {
					resp, err := http.Get(url)
					if err != nil || resp.StatusCode != 200 {
						t.Fatalf("a request failed while the proxy misbehaved: %v %v", resp, err)
					}
					resp.Body.Close()
				}
				get()
				idle := rssKiB(t, proc)
				// The SDK polls from start-up; the relay gives up within
				// tracing.SamplingTimeout.
				peak := idle
				for stop := time.Now().Add(tracing.SamplingTimeout + 2*time.Second); time.Now().Before(stop); time.Sleep(20 * time.Millisecond) {
					get()
					peak = max(peak, rssKiB(t, proc))
				}
				t.Logf("resident memory: idle %d KiB, peak %d KiB", idle, peak)
				if peak > 2*idle {
					t.Errorf("resident memory peaked at %d KiB, over twice its idle %d KiB", peak, idle)
				}
				var faults []string
				for _, l := range lines() {
					var line struct{ Msg string }
					if json.Unmarshal([]byte(l), &line) == nil && strings.Contains(line.Msg, tc.want) {
						faults = append(faults, l)
					}
				}
				if len(faults) != 1 {
					t.Errorf("%d log lines saying %q; want 1:\n%s", len(faults), tc.want, strings.Join(lines(), "\n"))
				}
			})
		}
	}
}

// TestABadOTLPEndpointIsOneLine: in OpenTelemetry mode, an endpoint the
// exporter could not send to is refused at start, one line, exit 2, instead
// of losing every trace later.
func TestABadOTLPEndpointIsOneLine(t *testing.T) {
	for _, endpoint := range []string{"::garbage::", "ftp://x", "127.0.0.1:4318", "http://", "http://user:pw@host:4318", "http://host:99999", "http://host:4318/?q=1", strings.Repeat("h", 300)} {
		code, text := runBackend(t, "CRUDDUR_TRACING=otel", "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint)
		if code != 2 || strings.Count(text, "\n") != 1 || !strings.HasPrefix(text, "cruddur-backend: OTEL_EXPORTER_OTLP_ENDPOINT: ") || len(text) > 400 {
			t.Errorf("%.40q: exit %d, output %q; want exit 2 and one line naming the variable", endpoint, code, text)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:4318", "https://collector.internal", "http://[::1]:4318/otlp"} {
		if err := checkOTLPEndpoint(ok); err != nil {
			t.Error(err)
		}
	}
}

// TestABadDaemonAddressIsOneLine starts the backend as ECS does with a
// malformed AWS_XRAY_DAEMON_ADDRESS, which the X-Ray SDK's package
// initialization would panic on: in every tracing mode, one line naming the
// variable, and exit 2.
func TestABadDaemonAddressIsOneLine(t *testing.T) {
	for _, addr := range []string{"garbage", "127.0.0.1:99999", strings.Repeat("a", 300)} {
		for _, mode := range []string{"xray", "otel", "off"} {
			code, text := runBackend(t, "CRUDDUR_TRACING="+mode, "AWS_XRAY_DAEMON_ADDRESS="+addr)
			if code != 2 || strings.Count(text, "\n") != 1 || strings.Contains(text, "goroutine") ||
				!strings.HasPrefix(text, "cruddur-backend: AWS_XRAY_DAEMON_ADDRESS: ") || len(text) > 400 {
				t.Errorf("%s, %.40q: exit %d, output %q; want exit 2 and one line naming the variable", mode, addr, code, text)
			}
		}
	}
}
