package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"testing"

	"github.com/aws/aws-xray-sdk-go/v2/daemoncfg"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"github.com/cruddur/tracing/backend/internal/standin"
	"github.com/cruddur/tracing/backend/internal/tracing"
)

// fixtureTask reads the backend's task from one of the stack's golden
// templates, as testdata/ holds it: what ECS gives this backend.
func fixtureTask(t *testing.T, golden string) standin.Task {
	t.Helper()
	task, err := standin.ReadTemplate("testdata/" + golden)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// TestTheStacksEnvironment: the variables the stack sets are ones this
// backend and its SDKs read, with values they accept: it serves on the port
// the task maps, picks the mode its collector needs (X-Ray's beside the
// daemon, else OpenTelemetry), finds the collector, and in OpenTelemetry
// mode finds no rate to copy (the rules decide).
func TestTheStacksEnvironment(t *testing.T) {
	for _, golden := range fixtures(t) {
		t.Run(golden, func(t *testing.T) {
			task := fixtureTask(t, golden)
			env, mappedPort := task.Env, task.Port
			wantMode := tracing.OpenTelemetry
			if slices.Equal(task.Sidecars, []string{"xray-daemon"}) {
				wantMode = "" // X-Ray, the backend's default
			}
			getenv := func(k string) string { return env[k] }
			if port, err := portFromEnv(getenv("PORT")); err != nil || port != mappedPort {
				t.Errorf("PORT=%q gives %d, %v; the task maps %d", getenv("PORT"), port, err, mappedPort)
			}
			if got := getenv("CRUDDUR_TRACING"); got != wantMode {
				t.Errorf("CRUDDUR_TRACING=%q, want %q", got, wantMode)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, shutdown, err := tracedHandler(ctx, getenv); err != nil {
				t.Fatalf("the backend refuses the stack's environment: %v", err)
			} else {
				shutdown()
			}
			// The X-Ray SDK reads the daemon's address itself.
			if _, err := daemoncfg.GetDaemonEndpointsFromString(getenv("AWS_XRAY_DAEMON_ADDRESS")); err != nil {
				t.Errorf("the X-Ray SDK cannot use AWS_XRAY_DAEMON_ADDRESS=%q: %v", getenv("AWS_XRAY_DAEMON_ADDRESS"), err)
			}
			if getenv("AWS_XRAY_TRACING_NAME") == "" {
				t.Error("no AWS_XRAY_TRACING_NAME: segments would not carry the service's name")
			}
			// In OpenTelemetry mode no rate is in the environment: the
			// rules are read at run time (TestOpenTelemetrySamplesByTheTemplatesRules).
			if wantMode == "otel" && (getenv("OTEL_TRACES_SAMPLER") != "" || getenv("OTEL_TRACES_SAMPLER_ARG") != "") {
				t.Errorf("the stack sets a sampler in the environment: %q %q", getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
			}
		})
	}
}

// TestTheShutdownGraceFitsTheStopTimeout: the backend lets in-flight
// requests finish for shutdownGrace after SIGTERM, which must end before
// ECS kills the container (its StopTimeout, 30 s by default), with room for
// flushing traces after it.
func TestTheShutdownGraceFitsTheStopTimeout(t *testing.T) {
	const flush = 5 * time.Second // tracedHandler's flush bound
	for _, golden := range fixtures(t) {
		task := fixtureTask(t, golden)
		if shutdownGrace+flush >= task.StopTimeout {
			t.Errorf("%s: the shutdown grace %v and the trace flush %v outlast the app container's stop timeout %v", golden, shutdownGrace, flush, task.StopTimeout)
		}
	}
}

// TestDynamicNamingFromTheEnvironment: with AWS_XRAY_URL set, as the seed
// configures dynamic_naming, a request whose Host matches is a segment named
// after that host; another is named after the service.
func TestDynamicNamingFromTheEnvironment(t *testing.T) {
	t.Parallel() // its daemon stand-in and server are its own
	daemon, next := backendtest.Daemon(t)
	env := map[string]string{"AWS_XRAY_URL": "*.cruddur.example", "AWS_XRAY_DAEMON_ADDRESS": daemon}
	opts, _, err := optionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	opts.Sampling = backendtest.SampleAll(t)
	h, _, err := tracing.New(context.Background(), opts, func(steps tracing.Steps) http.Handler { return routes(time.Now, steps) })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var names []string
	for _, host := range []string{"api.cruddur.example", "elsewhere.example"} {
		backendtest.Get(t, srv.URL+"/api/activities/home", host)
		_, doc, _ := bytes.Cut(next(), []byte("\n")) // after the daemon protocol's header line
		var seg struct{ Name string }
		if err := json.Unmarshal(doc, &seg); err != nil {
			t.Fatal(err)
		}
		names = append(names, seg.Name)
	}
	if want := []string{"api.cruddur.example", "Cruddur"}; !slices.Equal(names, want) {
		t.Errorf("segment names %v; want %v", names, want)
	}
}
