// Command cruddur-backend serves Cruddur's API and traces every request with
// AWS X-Ray: the Go version of the seed's instrumented Flask backend.
//
// It is configured by environment variables, as ECS sets them:
//
//	PORT                     the TCP port to serve on (default 4567; 0: any free
//	                         port, which the "serving" log line names)
//	AWS_XRAY_TRACING_NAME    the segment name (default Cruddur); the SDK reads it
//	AWS_XRAY_URL             a Host pattern for dynamic segment naming, as in the seed
//	AWS_XRAY_DAEMON_ADDRESS  the X-Ray daemon, or the collector's X-Ray endpoints: segments
//	                         (UDP) and the sampling proxy (TCP), host:port or
//	                         "tcp:host:port udp:host:port" (default 127.0.0.1:2000);
//	                         read before the SDK can (internal/envcheck)
//	ECS_CONTAINER_METADATA_URI_V4  set by ECS; turns on the ECS plugin
//	CRUDDUR_TRACING          xray (default): the X-Ray SDK and daemon;
//	                         otel: OpenTelemetry, exported over OTLP;
//	                         off: no tracing (the load bench's baseline)
//	OTEL_EXPORTER_OTLP_ENDPOINT  in otel mode, the collector (default http://127.0.0.1:4318);
//	                         checked at start like every other variable
//	OTEL_SERVICE_NAME        in otel mode, the service name (default Cruddur)
//	CRUDDUR_TRUSTED_PROXIES  how many proxies in front append to X-Forwarded-For
//	                         (the load balancer: 1); the client is that many entries
//	                         from the right. Default 0: the peer address (internal/edge)
//	CRUDDUR_TRUST_TRACE_HEADER  true: a caller's X-Amzn-Trace-Id decides sampling
//	                         (behind another traced service of ours); default
//	                         false, a public edge: the service's rule decides
//
// With -healthcheck it instead asks a running backend on PORT for
// /api/health-check and exits 0 when it answers 200: the container health
// check, in an image that has no shell or curl.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/daemoncfg"

	"github.com/cruddur/tracing/backend/internal/edge"
	"github.com/cruddur/tracing/backend/internal/envcheck"
	"github.com/cruddur/tracing/backend/internal/tracing"
)

const (
	defaultPort        = 4567
	defaultServiceName = "Cruddur"
	defaultDaemonAddr  = "127.0.0.1:2000"
	// defaultOTLPEndpoint is the collector sidecar's OTLP/HTTP receiver.
	defaultOTLPEndpoint = "http://127.0.0.1:4318"
	// shutdownGrace is how long in-flight requests may finish after
	// SIGTERM; ECS waits 30 s (stopTimeout) before it sends SIGKILL.
	shutdownGrace = 20 * time.Second
	// A request has 5 s for its headers and 10 s in all, body included, so a
	// client that sends slowly holds a connection for seconds, not for ever,
	// and shutdown outlasts every such connection. Headers and bodies are
	// bounded: the API takes no uploads.
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	// Longer than the load balancer's 60 s idle timeout, as AWS advises, so
	// the balancer, not the backend, closes idle connections.
	idleTimeout    = 75 * time.Second
	maxHeaderBytes = 16 << 10
	maxBodyBytes   = 64 << 10
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "check the backend on PORT and exit 0 if it is healthy")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))

	port, err := portFromEnv(os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur-backend:", err)
		os.Exit(2)
	}
	if *healthcheck {
		if port == 0 {
			fmt.Fprintln(os.Stderr, "cruddur-backend: PORT: 0 names no backend to check; expected the port it serves on")
			os.Exit(2)
		}
		if err := checkHealth(port); err != nil {
			fmt.Fprintln(os.Stderr, "cruddur-backend: unhealthy:", err)
			os.Exit(1)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	handler, shutdown, err := tracedHandler(ctx, getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cruddur-backend:", err)
		os.Exit(2)
	}
	defer shutdown()
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err == nil {
		err = serve(ctx, ln, handler)
	}
	if err != nil {
		slog.Error("backend stopped", "err", err)
		os.Exit(1)
	}
}

// getenv is the process's environment as main reads it: the daemon's
// address as it was at start (internal/envcheck took it out).
func getenv(name string) string {
	if name == envcheck.DaemonAddressVar {
		return envcheck.DaemonAddress
	}
	return os.Getenv(name)
}

func portFromEnv(s string) (int, error) {
	if s == "" {
		return defaultPort, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("PORT: %q is not a port; expected 1..65535, or 0 for any free one", s)
	}
	return p, nil
}

// optionsFromEnv reads the tracing options and the trusted proxies from the
// environment, each checked.
func optionsFromEnv(getenv func(string) string) (tracing.Options, int, error) {
	trust, err := boolFromEnv(getenv, "CRUDDUR_TRUST_TRACE_HEADER")
	if err != nil {
		return tracing.Options{}, 0, err
	}
	proxies := 0
	if v := getenv("CRUDDUR_TRUSTED_PROXIES"); v != "" {
		if proxies, err = strconv.Atoi(v); err != nil || proxies < 0 || proxies > edge.MaxTrustedProxies {
			return tracing.Options{}, 0, fmt.Errorf("CRUDDUR_TRUSTED_PROXIES: %s is not a number of proxies; expected 0..%d", shorten(v), edge.MaxTrustedProxies)
		}
	}
	addr := cmp.Or(getenv(envcheck.DaemonAddressVar), defaultDaemonAddr)
	// The SDK's own parser, which would have panicked at start.
	if _, err := daemoncfg.GetDaemonEndpointsFromString(addr); err != nil {
		// The SDK's reason repeats the value; once, shortened, is enough.
		reason := strings.ReplaceAll(err.Error(), addr, "…")
		return tracing.Options{}, 0, fmt.Errorf("%s: %s is not a daemon address (%s); expected host:port, or tcp:host:port udp:host:port", envcheck.DaemonAddressVar, shorten(addr), reason)
	}
	opts := tracing.Options{
		Mode:              cmp.Or(getenv("CRUDDUR_TRACING"), tracing.XRay),
		ServiceName:       defaultServiceName,
		URLPattern:        getenv("AWS_XRAY_URL"),
		TracingName:       getenv("AWS_XRAY_TRACING_NAME"),
		DaemonAddr:        addr,
		OnECS:             getenv("ECS_CONTAINER_METADATA_URI_V4") != "",
		TrustTraceHeader:  trust,
		HealthCheckPath:   healthCheckPath,
		MetadataNamespace: metadataNamespace,
	}
	switch opts.Mode {
	case tracing.XRay, tracing.Off:
	case tracing.OpenTelemetry:
		opts.ServiceName = cmp.Or(getenv("OTEL_SERVICE_NAME"), defaultServiceName)
		opts.OTLPEndpoint = cmp.Or(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), defaultOTLPEndpoint)
		if err := checkOTLPEndpoint(opts.OTLPEndpoint); err != nil {
			return tracing.Options{}, 0, err
		}
	default:
		return tracing.Options{}, 0, fmt.Errorf("CRUDDUR_TRACING: %s is not a tracing mode; expected %s, %s or %s", shorten(opts.Mode), tracing.XRay, tracing.OpenTelemetry, tracing.Off)
	}
	return opts, proxies, nil
}

// checkOTLPEndpoint refuses an OTLP/HTTP base URL the exporter could not
// send to, which it would take at start and then lose every trace on: an
// http or https URL with a host, no user, query or fragment (OpenTelemetry's
// OTLP exporter specification: "a base URL ... with scheme http or https").
func checkOTLPEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %s is not an OTLP/HTTP endpoint; expected http://host:port or https://host:port, such as %s", shorten(endpoint), defaultOTLPEndpoint)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %s has the port %s; expected 1..65535", shorten(endpoint), p)
		}
	}
	return nil
}

// shorten quotes v, cut to 200 characters: a bad value can be long.
func shorten(v string) string {
	if r := []rune(v); len(r) > 200 {
		return strconv.Quote(string(r[:200])) + fmt.Sprintf("... (%d characters)", len(r))
	}
	return strconv.Quote(v)
}

func boolFromEnv(getenv func(string) string, name string) (bool, error) {
	switch v := getenv(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s: %q is not a boolean; expected true or false", name, v)
	}
}

// tracedHandler is the API wrapped in the tracing the environment chooses,
// behind the edge, and what to call on the way out to flush it.
func tracedHandler(ctx context.Context, getenv func(string) string) (http.Handler, func(), error) {
	opts, proxies, err := optionsFromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	api := func(steps tracing.Steps) http.Handler { return routes(time.Now, steps) }
	h, flush, err := tracing.New(ctx, opts, api)
	if err != nil {
		return nil, nil, err
	}
	return edge.Handler(proxies, h), flush, nil
}

// serve runs the API on ln until ctx ends, then lets in-flight requests
// finish.
func serve(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{
		// Ambiguous framing (Content-Length and Transfer-Encoding both)
		// is the load balancer's to refuse: its strictest desync
		// mitigation, where requests are framed for the backend.
		Handler:           http.MaxBytesHandler(handler, maxBodyBytes),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("serving", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down", "grace", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	slog.Info("stopped")
	return nil
}

// checkHealth asks the backend on the task's loopback for its health check.
func checkHealth(port int) error {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + healthCheckPath)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", healthCheckPath, resp.Status)
	}
	return nil
}
