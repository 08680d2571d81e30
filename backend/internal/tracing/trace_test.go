package tracing

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/cruddur/tracing/backend/internal/backendtest"
	"github.com/cruddur/tracing/backend/internal/edge"
)

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
	Metadata    map[string]map[string]any `json:"metadata"`
	Subsegments []struct {
		Name     string                               `json:"name"`
		ID       string                               `json:"id"`
		Metadata map[string]map[string]map[string]any `json:"metadata"`
	} `json:"subsegments"`
}

func tracedServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	h, err := traced(api(xraySteps{namespace}), opts, backendtest.SampleAll(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
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
	addr, next := backendtest.Daemon(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", addr) // the SDK prefers it to any configured address
	t.Setenv("AWS_XRAY_TRACING_NAME", "")
	srv := tracedServer(t, daemonOptions("127.0.0.1:1"))

	resp, body := backendtest.Get(t, srv.URL+"/api/activities/home", "")
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
			addr, next := backendtest.Daemon(t)
			t.Setenv("AWS_XRAY_DAEMON_ADDRESS", addr)
			t.Setenv("AWS_XRAY_TRACING_NAME", tc.tracingName)
			opts := testOptions()
			opts.URLPattern = tc.pattern
			srv := tracedServer(t, opts)
			backendtest.Get(t, srv.URL+"/api/health-check", tc.host)
			if got := readSegment(t, next()).Name; got != tc.want {
				t.Errorf("segment name %q, want %q", got, tc.want)
			}
		})
	}
}

// TestServesWithoutADaemon checks that tracing never breaks serving: with
// nothing listening on the daemon's port, every request still succeeds.
func TestServesWithoutADaemon(t *testing.T) {
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", backendtest.NoDaemon)
	srv := tracedServer(t, testOptions())
	for i := 0; i < 20; i++ {
		resp, body := backendtest.Get(t, srv.URL+"/api/activities/home", "")
		if resp.StatusCode != http.StatusOK || string(body) != "[]\n" {
			t.Fatalf("request %d: status %d, body %q", i, resp.StatusCode, body)
		}
	}
}

// TestAnUntrustedCallersTraceIsKeptAsMetadata: at a public edge a
// well-formed caller's trace header starts no trace of the caller's; its
// Root is kept on the new trace's segment, as metadata caller_trace_id, as
// OpenTelemetry mode links it.
func TestAnUntrustedCallersTraceIsKeptAsMetadata(t *testing.T) {
	addr, next := backendtest.Daemon(t)
	srv := tracedServer(t, daemonOptions(addr))
	const caller = "1-5759e988-bd862e3fe1be46a994272793"
	req, _ := http.NewRequest("GET", srv.URL+"/api/activities/home", nil)
	req.Header.Set(edge.TraceHeader, "Root="+caller+";Sampled=1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seg := readSegment(t, next())
	if got := seg.Metadata["default"]["caller_trace_id"]; seg.TraceID == caller || got != caller {
		t.Errorf("the segment has trace id %s and caller_trace_id %v; want a trace of its own, with %s", seg.TraceID, got, caller)
	}
}
