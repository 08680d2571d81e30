package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cruddur/tracing/backend/internal/backendtest"
)

// TestSlowClientsCannotHoldTheBackend opens connections that send a request
// body one byte a second, over loopback, against the server as main runs it:
// the server closes each within its read timeout, memory comes back, and a
// SIGTERM meanwhile (a cancelled context, as signal.NotifyContext gives main)
// still ends serving cleanly, well inside ECS's 30 s stop timeout.
func TestSlowClientsCannotHoldTheBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the read timeout, about 10 s")
	}
	if backendtest.Alone(t) {
		return
	}
	const conns = 500
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	before := heap()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, routes(time.Now, plainSteps{})) }()

	start := time.Now()
	closedAfter := make(chan time.Duration, conns)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() { closedAfter <- slowClient(ln.Addr().String(), start) })
	}
	time.Sleep(2 * time.Second)
	peak := heap()
	goroutines := runtime.NumGoroutine()
	cancel() // SIGTERM
	var shutdown time.Duration
	select {
	case err := <-served:
		shutdown = time.Since(start) - 2*time.Second
		if err != nil {
			t.Errorf("serving ended with %v; main would exit 1", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still serving 30 s after SIGTERM: ECS would SIGKILL it")
	}
	wg.Wait()
	close(closedAfter)
	var slowest time.Duration
	for d := range closedAfter {
		if d < 0 {
			t.Fatal("a connection could not be opened")
		}
		slowest = max(slowest, d)
	}
	after := heap()
	t.Logf("%d slow-body connections: all closed by the server within %.1f s (read timeout %s); heap %.1f MiB before, %.1f MiB with them open (%d goroutines), %.1f MiB after; SIGTERM to a clean exit: %.1f s",
		conns, slowest.Seconds(), readTimeout, before, peak, goroutines, after, shutdown.Seconds())
	if slowest > readTimeout+2*time.Second {
		t.Errorf("the slowest connection was closed after %s; want within the read timeout %s", slowest, readTimeout)
	}
	if after > before+8 {
		t.Errorf("heap %.1f MiB after, %.1f MiB before: memory held", after, before)
	}
}

// TestGracefulShutdown: on SIGTERM the backend stops accepting and lets the
// request in flight finish.
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
	go func() { served <- serve(ctx, ln, slow) }()

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
	backendtest.Eventually(t, 5*time.Second, "the listener closing once shutdown began", func() bool {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeBoundsHeadersAndBodies: the server as main runs it refuses
// headers over maxHeaderBytes (431), and a handler that reads a body gets
// at most maxBodyBytes of it. (The API reads none; the bound holds for any
// route that comes to.)
func TestServeBoundsHeadersAndBodies(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reads := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		}
	})
	go serve(ctx, ln, reads)
	url := "http://" + ln.Addr().String() + "/"
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Padding", strings.Repeat("a", maxHeaderBytes+4096))
	for _, tc := range []struct {
		what string
		send func() (*http.Response, error)
		want int
	}{
		{fmt.Sprintf("headers over %d bytes", maxHeaderBytes), func() (*http.Response, error) { return http.DefaultClient.Do(req) }, http.StatusRequestHeaderFieldsTooLarge},
		{fmt.Sprintf("a body of %d bytes", maxBodyBytes+1), func() (*http.Response, error) {
			return http.Post(url, "application/octet-stream", strings.NewReader(strings.Repeat("a", maxBodyBytes+1)))
		}, http.StatusRequestEntityTooLarge},
	} {
		resp, err := tc.send()
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s; want %d", tc.what, resp.Status, tc.want)
		}
	}
}

// slowClient sends a request whose body comes a byte a second, reading
// whatever the server answers, and returns how long after start the server
// closed the connection (-1: it could not connect; 3 read timeouts: it is
// still open, which the test fails).
func slowClient(addr string, start time.Time) time.Duration {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return -1
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/activities/home HTTP/1.1\r\nHost: cruddur\r\nContent-Length: 100000\r\n\r\n")
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, c); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	giveUp := time.After(3 * readTimeout)
	for {
		select {
		case <-done:
			return time.Since(start)
		case <-tick.C:
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte("x"))
		case <-giveUp:
			return 3 * readTimeout
		}
	}
}

// heap is the live heap in MiB, after the garbage collector has run twice:
// sync.Pool's buffers (bufio, io.Discard) outlive one collection.
func heap() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
