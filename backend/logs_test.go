package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cruddur/tracing/backend/internal/backendtest"
)

// TestEveryLineTheBackendWritesIsJSON runs the backend as ECS does, in each
// tracing mode, with its collector unreachable (so the SDKs have faults to
// report), serves a few requests of each kind, waits for the sampling
// relay's fault line and stops it: every line it wrote, to stdout or
// stderr, is one JSON object: the request lines, the fault lines, its own
// start and stop.
func TestEveryLineTheBackendWritesIsJSON(t *testing.T) {
	for _, mode := range []string{"xray", "otel", "off"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			proxy := badProxy(t, http.NotFoundHandler())
			port, lines, proc := startBackend(t, "CRUDDUR_TRACING="+mode, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9",
				"AWS_XRAY_DAEMON_ADDRESS=tcp:"+proxy+" udp:"+backendtest.NoDaemon)
			base := "http://127.0.0.1:" + strconv.Itoa(port)
			for range 5 {
				for _, path := range []string{"/api/activities/home", healthCheckPath, "/nowhere"} {
					if resp, err := http.Get(base + path); err == nil {
						resp.Body.Close()
					}
				}
			}
			wrote := func(part string) func() bool {
				return func() bool {
					return slices.ContainsFunc(lines(), func(l string) bool { return strings.Contains(l, part) })
				}
			}
			if mode != "off" { // the rules' poller has met the proxy's 404
				backendtest.Eventually(t, 10*time.Second, "the sampling relay's fault line", wrote(`"component":"sampling-relay"`))
			}
			proc.Signal(syscall.SIGTERM)
			backendtest.Eventually(t, 30*time.Second, "the backend's stop line", wrote(`"msg":"stopped"`))
			var requests int
			for _, l := range lines() {
				var line map[string]any
				if err := json.Unmarshal([]byte(l), &line); err != nil || line["msg"] == nil {
					t.Errorf("a line that is not a JSON log line: %q", l)
				}
				if line["msg"] == "request" {
					requests++
				}
			}
			if requests != 10 {
				t.Errorf("%d request lines; want 10 (health checks are not logged):\n%s", requests, strings.Join(lines(), "\n"))
			}
		})
	}
}
