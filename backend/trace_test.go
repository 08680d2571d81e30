package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
)

// fakeDaemon stands in for the X-Ray daemon: a UDP listener on loopback that
// hands over each datagram it receives.
func fakeDaemon(t *testing.T) (addr string, next func() []byte) {
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

// sampleAll traces every request, so the test does not depend on the
// reservoir's one-a-second timing.
func sampleAll(t *testing.T) sampling.Strategy {
	s, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version": 2, "default": {"fixed_target": 0, "rate": 1.0}}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// segment is the part of an X-Ray segment document the tests read.
type segment struct {
	Name      string  `json:"name"`
	ID        string  `json:"id"`
	TraceID   string  `json:"trace_id"`
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	HTTP      struct {
		Request struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
		Response struct {
			Status        int `json:"status"`
			ContentLength int `json:"content_length"`
		} `json:"response"`
	} `json:"http"`
	Subsegments []struct {
		Name     string                               `json:"name"`
		ID       string                               `json:"id"`
		Metadata map[string]map[string]map[string]any `json:"metadata"`
	} `json:"subsegments"`
}

func tracedServer(t *testing.T, opts tracingOptions) *httptest.Server {
	t.Helper()
	h, err := traced(routes(func() time.Time { return fixedNow }, xraySteps{}), opts, xray.Config{SamplingStrategy: sampleAll(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, host string) (*http.Response, []byte) {
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

// readSegment splits a datagram into the daemon protocol's header line and
// the segment document.
func readSegment(t *testing.T, datagram []byte) segment {
	t.Helper()
	header, doc, ok := bytes.Cut(datagram, []byte("\n"))
	if !ok {
		t.Fatalf("datagram without a header line: %q", datagram)
	}
	var h map[string]any
	if err := json.Unmarshal(header, &h); err != nil || h["format"] != "json" || h["version"] != 1.0 {
		t.Fatalf("header line %q, want {\"format\": \"json\", \"version\": 1}", header)
	}
	var seg segment
	if err := json.Unmarshal(doc, &seg); err != nil {
		t.Fatalf("segment %q: %v", doc, err)
	}
	return seg
}

var traceIDPattern = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)

func TestTraceReachesTheDaemon(t *testing.T) {
	addr, next := fakeDaemon(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", addr) // the SDK prefers it to any configured address
	t.Setenv("AWS_XRAY_TRACING_NAME", "")
	srv := tracedServer(t, tracingOptions{ServiceName: "Cruddur", DaemonAddr: "127.0.0.1:1"})

	resp, body := get(t, srv.URL+"/api/activities/home", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	seg := readSegment(t, next())

	if seg.Name != "Cruddur" {
		t.Errorf("segment name %q, want Cruddur", seg.Name)
	}
	if !traceIDPattern.MatchString(seg.TraceID) {
		t.Errorf("trace id %q is not in X-Ray's format", seg.TraceID)
	}
	if got := resp.Header.Get("X-Amzn-Trace-Id"); !strings.Contains(got, "Root="+seg.TraceID) {
		t.Errorf("response header X-Amzn-Trace-Id %q does not carry the trace id %s", got, seg.TraceID)
	}
	if seg.ID == "" || seg.StartTime == 0 || seg.EndTime < seg.StartTime {
		t.Errorf("segment id %q, start %v, end %v", seg.ID, seg.StartTime, seg.EndTime)
	}
	if r := seg.HTTP.Request; r.Method != "GET" || r.URL != srv.URL+"/api/activities/home" {
		t.Errorf("http.request %+v", r)
	}
	if r := seg.HTTP.Response; r.Status != 200 || r.ContentLength != len(body) {
		t.Errorf("http.response %+v, body %d bytes", r, len(body))
	}
	if len(seg.Subsegments) != 1 || seg.Subsegments[0].Name != "mock-data" {
		t.Fatalf("subsegments %+v, want one named mock-data", seg.Subsegments)
	}
	meta := seg.Subsegments[0].Metadata["cruddur"]["home-activities"]
	if meta["now"] != "2026-11-24T12:00:00Z" || meta["results-size"] != 3.0 {
		t.Errorf("mock-data metadata %v", seg.Subsegments[0].Metadata)
	}
}

func TestSegmentNames(t *testing.T) {
	cases := []struct {
		name, tracingName, pattern, host, want string
	}{
		{"service name", "", "", "", "Cruddur"},
		{"AWS_XRAY_TRACING_NAME wins", "orders", "", "", "orders"},
		{"dynamic naming: matching host", "", "*.cruddur.test", "api.cruddur.test", "api.cruddur.test"},
		{"dynamic naming: other host", "", "*.cruddur.test", "example.org", "Cruddur"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, next := fakeDaemon(t)
			t.Setenv("AWS_XRAY_DAEMON_ADDRESS", addr)
			t.Setenv("AWS_XRAY_TRACING_NAME", tc.tracingName)
			srv := tracedServer(t, tracingOptions{ServiceName: "Cruddur", URLPattern: tc.pattern})
			get(t, srv.URL+"/api/health-check", tc.host)
			if got := readSegment(t, next()).Name; got != tc.want {
				t.Errorf("segment name %q, want %q", got, tc.want)
			}
		})
	}
}

// TestServesWithoutADaemon checks that tracing never breaks serving: with
// nothing listening on the daemon's port, every request still succeeds.
func TestServesWithoutADaemon(t *testing.T) {
	// A port that was just free: nothing listens there now.
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	conn.Close()
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", addr)
	srv := tracedServer(t, tracingOptions{ServiceName: "Cruddur"})
	for i := 0; i < 20; i++ {
		resp, body := get(t, srv.URL+"/api/activities/home", "")
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Andrew Brown")) {
			t.Fatalf("request %d: status %d, body %q", i, resp.StatusCode, body)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveOn(ctx, ln, slow) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel() // as SIGTERM does
	time.Sleep(100 * time.Millisecond)
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting connections after shutdown began")
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
	if err := <-served; err != nil {
		t.Errorf("serveOn: %v", err)
	}
}
