package tracing

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"github.com/cruddur/tracing/backend/internal/edge"
	"github.com/cruddur/tracing/backend/internal/standin"
)

// segmentCounter stands in for the X-Ray daemon: it counts the segments
// (not subsegments) it receives, and keeps their trace ids.
type segmentCounter struct {
	conn     net.PacketConn
	mu       sync.Mutex
	segments int
	traceIDs []string
}

func newSegmentCounter(t *testing.T) *segmentCounter {
	t.Helper()
	c := &segmentCounter{}
	conn, err := standin.Daemon("127.0.0.1:0", func(doc []byte) {
		var seg struct {
			Type    string `json:"type"`
			TraceID string `json:"trace_id"`
		}
		if json.Unmarshal(doc, &seg) == nil && seg.Type == "" {
			c.mu.Lock()
			c.segments++
			c.traceIDs = append(c.traceIDs, seg.TraceID)
			c.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	c.conn = conn
	t.Cleanup(func() { conn.Close() })
	return c
}

// settle waits until at least min segments have arrived (at most 30 s: the
// SDK sends them after the response, later under load), then until none has
// arrived for 300 ms, and counts. min is what the caller knows must come; a
// test that expects none passes 0 and gets the quiet wait alone.
func (c *segmentCounter) settle(min int) (int, []string) {
	count := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.segments
	}
	for deadline := time.Now().Add(30 * time.Second); count() < min && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	last := -1
	for {
		time.Sleep(300 * time.Millisecond)
		n := count()
		if n == last {
			c.mu.Lock()
			defer c.mu.Unlock()
			return n, append([]string{}, c.traceIDs...)
		}
		last = n
	}
}

// seedRule is aws/json/xray.json's rule as the SDK applies it: 5 requests
// a second, then 10%.
func seedRule(t *testing.T) sampling.Strategy { return backendtest.LocalRule(t, 5, 0.1) }

// recordedShare sends n requests, each with the header header(i), to the
// traced backend and returns the share the daemon stand-in received.
func recordedShare(t *testing.T, trust bool, n int, header func(i int) string) float64 {
	t.Helper()
	daemon := newSegmentCounter(t)
	opts := daemonOptions(daemon.conn.LocalAddr().String())
	opts.TrustTraceHeader = trust
	h, err := traced(api(xraySteps{namespace}), opts, seedRule(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var failed atomic.Int32
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				req, _ := http.NewRequest("GET", srv.URL+"/api/activities/home", nil)
				if v := header(i); v != "" {
					req.Header.Set(edge.TraceHeader, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	// Every bound asked of it is 5% or more: wait for that many.
	got, _ := daemon.settle(n / 20)
	return float64(got) / float64(n)
}

// TestCallersCannotSteerSampling measures, end to end over loopback, the share
// of requests recorded at the seed's rule when every request asks to be
// sampled, asks not to be, or says nothing: at a public edge the three are
// alike; a trusted upstream decides.
func TestCallersCannotSteerSampling(t *testing.T) {
	t.Parallel()
	const n = 1000
	root := func(i int) string { return fmt.Sprintf("Root=1-%08x-%024x", 0x5759e988, i) }
	none := recordedShare(t, false, n, func(int) string { return "" })
	asked := recordedShare(t, false, n, func(i int) string { return root(i) + ";Sampled=1" })
	refused := recordedShare(t, false, n, func(i int) string { return root(i) + ";Sampled=0" })
	trusted := recordedShare(t, true, n, func(i int) string { return root(i) + ";Sampled=1" })
	t.Logf("recorded at the seed's rule, %d requests each: no header %.1f%%, every request Sampled=1 %.1f%%, Sampled=0 %.1f%%; trusted upstream with Sampled=1 %.1f%%",
		n, 100*none, 100*asked, 100*refused, 100*trusted)
	for name, share := range map[string]float64{"no header": none, "Sampled=1": asked, "Sampled=0": refused} {
		// 10% of the requests plus the reservoir's 5 a second.
		if share < 0.05 || share > 0.25 {
			t.Errorf("%s: %.1f%% recorded; the rule allows about 10%% plus 5 a second", name, 100*share)
		}
	}
	if trusted < 0.99 {
		t.Errorf("a trusted upstream's Sampled=1 recorded %.1f%%, want all", 100*trusted)
	}
}

// TestMalformedTraceHeaderIsNeitherSentNorEchoed: a junk or oversized Root
// reaches neither the daemon nor the response.
func TestMalformedTraceHeaderIsNeitherSentNorEchoed(t *testing.T) {
	t.Parallel()
	for _, trust := range []bool{false, true} {
		for _, junk := range []string{"Root=junk;Sampled=1", "Root=1-5759e988-" + strings.Repeat("a", 6000) + ";Sampled=1"} {
			daemon := newSegmentCounter(t)
			opts := daemonOptions(daemon.conn.LocalAddr().String())
			opts.TrustTraceHeader = trust
			h, err := traced(api(xraySteps{namespace}), opts, backendtest.SampleAll(t))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			req, _ := http.NewRequest("GET", srv.URL+"/api/health-check", nil)
			req.Header.Set(edge.TraceHeader, junk)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			srv.Close()
			// A well-formed header is a new trace's: neither junk Root is
			// one (a search for "aaaa" in it once matched a random id).
			echo := resp.Header.Get(edge.TraceHeader)
			if _, ok := edge.ParseTraceHeader(echo); !ok {
				t.Errorf("trust %v: the response's header is %.80q", trust, echo)
			}
			// One request: its segment, with a new trace id. Under load the
			// SDK (v2.0.3) may send that segment twice: Segment.Close cancels
			// the segment's context, whose goroutine (handleContextDone) can
			// send it before Close's own send marks it emitted. X-Ray keeps
			// one; so a repeat of the same trace id is allowed here.
			n, ids := daemon.settle(1)
			for _, id := range ids {
				if id != ids[0] {
					n = -1
				}
			}
			if n < 1 || !traceIDPattern.MatchString(ids[0]) {
				t.Errorf("trust %v: the daemon got %d segments with trace ids %.80q; want the one request's, with a new trace id", trust, len(ids), ids)
			}
		}
	}
}
