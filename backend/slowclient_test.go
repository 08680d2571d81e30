package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
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
	if inAProcessOfItsOwn(t) {
		return
	}
	const conns = 500
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	heap := func() float64 {
		// Twice: sync.Pool's buffers (bufio, io.Discard) outlive one GC.
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc) / (1 << 20)
	}
	before := heap()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serveOn(ctx, ln, routes(time.Now, noSteps{})) }()

	start := time.Now()
	closedAfter := make(chan time.Duration, conns)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				closedAfter <- -1
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /api/activities/home HTTP/1.1\r\nHost: cruddur\r\nContent-Length: 100000\r\n\r\n")
			// Read whatever the server answers until it closes the
			// connection, while sending the body a byte a second.
			done := make(chan struct{})
			go func() { io.Copy(io.Discard, c); close(done) }()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-done:
					closedAfter <- time.Since(start)
					return
				case <-tick.C:
					c.SetWriteDeadline(time.Now().Add(time.Second))
					c.Write([]byte("x"))
				case <-time.After(3 * readTimeout):
					closedAfter <- 3 * readTimeout // still open: the test fails below
					return
				}
			}
		}()
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

// aloneEnv names the one test a re-run of this binary is for.
const aloneEnv = "CRUDDUR_BACKEND_TEST_ALONE"

// inAProcessOfItsOwn runs the calling test in a process of its own, beside
// the other tests, and reports whether it has (the caller then returns): a
// test that measures the process's heap and goroutines, or sets what is the
// process's (the default logger, the X-Ray SDK's logger and configuration),
// cannot share the process, yet need not hold the others up. In that
// process, it returns false and the test runs there.
func inAProcessOfItsOwn(t *testing.T) bool {
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
