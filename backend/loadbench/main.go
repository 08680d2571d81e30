// Command loadbench measures what tracing costs the backend under load: it
// runs the backend binary as the task runs it (its environment, its port) on
// loopback, drives it with hey (a Go tool dependency of this module), and
// compares, in rounds that alternate the modes:
//
//	untraced    CRUDDUR_TRACING=off
//	xray-floor  the X-Ray SDK whose rule samples nothing: the middleware
//	            makes the SDK's sampling decision and records no request
//	xray        the X-Ray SDK, a daemon stand-in taking the UDP segments
//	xray-down   the X-Ray SDK, nothing listening for segments
//	otel-floor  OpenTelemetry whose rule samples nothing: the sampling
//	            decision alone
//	otel        OpenTelemetry, an OTLP/HTTP stand-in taking the spans
//	otel-down   OpenTelemetry, no collector: no OTLP, no sampling proxy
//	            (the SDK's fallback samples)
//
// Every traced mode samples at the template's rules, the seed's among them:
// the stand-in's sampling proxy serves them (for this path, 5 a second, then
// 10%), to the X-Ray SDK and to the OpenTelemetry mode's sampler alike, as a
// collector does on the task's loopback. It prints
// requests/s and p50/p99 per mode, each traced mode against untraced, and the
// CPU time per request of the backend and of the stand-in: on Fargate the
// collector shares the task's CPU.
//
// The backend gets the app container's environment from the stack's golden
// template (-template), as the task would, with the bench's port, collector
// address and mode on top. With -pin, the backend and the stand-in share one
// core and hey has the others: the task's fixed CPU budget, with the load
// coming from outside it. On a 2-core machine hey, alone on its core, then
// saturates first, so requests/s stop telling the modes apart; the CPU time
// per request still does. A CPU-bound task serves in proportion to the
// inverse of its CPU per request (the app's and the collector's): the
// "capacity" column.
//
// The backend collects garbage as the task has it (GOGC, GOMEMLIMIT);
// -go-gc-defaults runs it with Go's defaults instead, for comparison.
//
//	go run ./loadbench [-rounds 3] [-duration 5s] [-c 50] [-pin] [-go-gc-defaults] [-modes xray,otel]
//
// Everything is on 127.0.0.1 and bounded: rounds × modes × duration.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/standin"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "standin" {
		serveStandin(os.Args[2:])
		return
	}
	rounds := flag.Int("rounds", 3, "rounds; each runs every mode once")
	duration := flag.Duration("duration", 5*time.Second, "how long hey drives each run")
	conns := flag.Int("c", 50, "hey's concurrent connections")
	template := flag.String("template", "../testdata/Cruddur.template.json", "the stack's template: the backend runs with its app container's environment, the stand-in serves its sampling rules")
	only := flag.String("modes", "", "a comma-separated subset of the modes to run (untraced always runs)")
	pin := flag.Bool("pin", false, "run the backend and the stand-in on one core and hey on the others (needs taskset and 2 cores)")
	goDefaults := flag.Bool("go-gc-defaults", false, "run the backend with the Go runtime's garbage-collector defaults, not the task's GOGC and GOMEMLIMIT")
	flag.Parse()
	if *rounds < 1 || *rounds > 20 || *duration <= 0 || *duration > time.Minute || *conns < 1 || *conns > 500 {
		fail(fmt.Errorf("expected 1..20 rounds, a duration up to 1m and 1..500 connections"))
	}
	if *only != "" {
		var err error
		if modes, err = selectModes(modes, *only); err != nil {
			fail(err)
		}
	}
	templatePath, err := filepath.Abs(*template) // the stand-in reads it too
	if err != nil {
		fail(err)
	}
	t, err := readTemplate(templatePath)
	if err != nil {
		fail(err)
	}
	base := os.Environ()
	if *goDefaults {
		t.env, base = withoutGoGC(t.env), withoutGoGC(base)
	}
	cores := numCPU()
	var task, load []string // command prefixes: taskset, or nothing
	if *pin {
		if _, err := exec.LookPath("taskset"); err != nil || cores < 2 {
			fail(fmt.Errorf("-pin needs taskset (util-linux) and 2 or more cores (found %d); run with -pin=false", cores))
		}
		task, load = []string{"taskset", "-c", "0"}, []string{"taskset", "-c", fmt.Sprintf("1-%d", cores-1)}
	}
	tmp, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		fail(err)
	}
	// fail exits without running deferred calls: stop removes the builds.
	stop := func(err error) { os.RemoveAll(tmp); fail(err) }
	backend, hey, self := filepath.Join(tmp, "backend"), filepath.Join(tmp, "hey"), filepath.Join(tmp, "loadbench")
	for _, b := range [][]string{{backend, "."}, {hey, "github.com/rakyll/hey"}, {self, "./loadbench"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			stop(fmt.Errorf("go build %s: %v\n%s", b[1], err, out))
		}
	}
	fmt.Printf("loadbench: %d rounds of %s per mode, %d connections, GET %s, %d cores\n", *rounds, *duration, *conns, benchPath, cores)
	if *pin {
		fmt.Printf("pinned: backend and stand-in on core 0 (the task's CPU), hey on 1-%d\n", cores-1)
	}
	fmt.Printf("from %s: app environment %s; %d sampling rules, %s at %g (both tracing modes sample by them)\n",
		*template, strings.Join(t.env, " "), len(t.rules), benchPath, t.rateFor(benchPath))
	b := bench{backend: backend, hey: hey, self: self, template: templatePath, task: task, load: load, base: base, env: t.env,
		d: *duration, conns: *conns}

	results := map[string][]run{}
	for r := range *rounds {
		for _, m := range modes {
			res, err := b.run(m)
			if err != nil {
				stop(fmt.Errorf("round %d, %s: %w", r+1, m.name, err))
			}
			results[m.name] = append(results[m.name], res)
		}
	}
	os.RemoveAll(tmp)
	report(results)
}

// selectModes is untraced and the modes a comma-separated list names.
func selectModes(all []mode, list string) ([]mode, error) {
	var names []string
	for _, m := range all {
		names = append(names, m.name)
	}
	keep := strings.Split(list, ",")
	for _, n := range keep {
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("-modes: %q is not a mode; expected some of %s", n, strings.Join(names, ","))
		}
	}
	return slices.DeleteFunc(slices.Clone(all), func(m mode) bool { return m.name != "untraced" && !slices.Contains(keep, m.name) }), nil
}

// benchPath is what hey asks for.
const benchPath = "/api/activities/home"

// mode is one way of running the backend.
type mode struct {
	name    string
	env     []string
	standin string // "xray", "xray-proxy-only", "otlp" or ""
}

var modes = []mode{
	{"untraced", []string{"CRUDDUR_TRACING=off"}, ""},
	{"xray-floor", []string{"CRUDDUR_TRACING=xray"}, "xray-rate0"},
	{"xray", []string{"CRUDDUR_TRACING=xray"}, "xray"},
	{"xray-down", []string{"CRUDDUR_TRACING=xray"}, "xray-proxy-only"},
	{"otel-floor", []string{"CRUDDUR_TRACING=otel"}, "otlp-rate0"},
	{"otel", []string{"CRUDDUR_TRACING=otel"}, "otlp"},
	{"otel-down", []string{"CRUDDUR_TRACING=otel"}, "otlp-down"},
}

// run is what one run measured.
type run struct {
	rps, p50, p99          float64 // requests/s, seconds
	backendCPU, standinCPU float64 // seconds during the run
	requests               int     // requests served during the run
	received, total        int     // segments or spans the stand-in got; requests served, warm-up included
}

// bench is how every run is made.
type bench struct {
	backend, hey, self string
	template           string   // the stand-in reads the sampling rules from it
	task, load         []string // command prefixes that pin the task's processes and hey
	base               []string // the bench's own environment, which the backend starts from
	env                []string // the app container's environment
	d                  time.Duration
	conns              int
}

// command is name with args, behind prefix (taskset's), if any.
func command(prefix []string, name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, prefix...), name), args...)
	return exec.Command(argv[0], argv[1:]...)
}

func (b bench) run(m mode) (res run, err error) {
	backend, hey, self, d, conns := b.backend, b.hey, b.self, b.d, b.conns
	port, sport := freePort(), freePort()
	env := append(append(slices.Clone(b.base), b.env...), "PORT="+strconv.Itoa(port))
	var stand *exec.Cmd
	switch m.standin {
	case "xray", "xray-proxy-only", "xray-rate0":
		env = append(env, fmt.Sprintf("AWS_XRAY_DAEMON_ADDRESS=tcp:127.0.0.1:%d udp:127.0.0.1:%d", sport, sport))
	case "otlp", "otlp-rate0", "otlp-down":
		// A collector serves OTLP and the X-Ray sampling proxy; the bench's
		// stand-in, both on one port.
		env = append(env, fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", sport),
			fmt.Sprintf("AWS_XRAY_DAEMON_ADDRESS=tcp:127.0.0.1:%d udp:127.0.0.1:%d", sport, sport))
	}
	if m.standin != "" && m.standin != "otlp-down" {
		stand = command(b.task, self, "standin", m.standin, strconv.Itoa(sport), b.template)
		stand.Stderr = os.Stderr
		out, perr := stand.StdoutPipe()
		if perr != nil {
			return res, perr
		}
		if err := stand.Start(); err != nil {
			return res, err
		}
		counts := bufio.NewScanner(out)
		// Named results: the count, read after the stand-in stops, is
		// part of what run returns.
		defer func() {
			stand.Process.Signal(syscall.SIGTERM)
			if counts.Scan() {
				res.received, _ = strconv.Atoi(strings.TrimSpace(counts.Text()))
			}
			stand.Wait()
		}()
		if err := waitListening(sport); err != nil {
			return res, fmt.Errorf("stand-in: %w", err)
		}
	}
	app := command(b.task, backend)
	app.Env = append(env, m.env...)
	app.Stdout = io.Discard // the access log: a line per request
	app.Stderr = os.Stderr
	if err := app.Start(); err != nil {
		return res, err
	}
	defer func() { app.Process.Signal(syscall.SIGTERM); app.Wait() }()
	if err := waitListening(port); err != nil {
		return res, fmt.Errorf("backend: %w", err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, benchPath)
	// Warm up: connections, the SDKs' sampling rules and batchers. The
	// stand-in counts the warm-up's traces too, so its requests count.
	warm, err := command(b.load, hey, "-z", "1s", "-c", strconv.Itoa(conns), url).CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("hey: %v\n%s", err, warm)
	}
	var w run
	if err := parseHey(warm, &w); err != nil {
		return res, err
	}
	defer func() { res.total = res.requests + w.requests }()
	time.Sleep(500 * time.Millisecond)
	cpu0, scpu0 := cpuSeconds(app.Process.Pid), standinCPU(stand)
	out, err := command(b.load, hey, "-z", d.String(), "-c", strconv.Itoa(conns), url).CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("hey: %v\n%s", err, out)
	}
	// The CPU of the run itself; then the last batches and segments arrive.
	res.backendCPU, res.standinCPU = cpuSeconds(app.Process.Pid)-cpu0, standinCPU(stand)-scpu0
	time.Sleep(time.Second)
	return res, parseHey(out, &res)
}

var (
	rpsLine   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	pctLine   = regexp.MustCompile(`\s(50|99)%% in ([0-9.]+) secs`) // hey prints %%
	countLine = regexp.MustCompile(`\[200\]\s+(\d+) responses`)
)

func parseHey(out []byte, res *run) error {
	m := rpsLine.FindSubmatch(out)
	c := countLine.FindSubmatch(out)
	if m == nil || c == nil {
		return fmt.Errorf("hey printed no rate or no 200s:\n%s", out)
	}
	res.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	res.requests, _ = strconv.Atoi(string(c[1]))
	if bytes.Contains(out, []byte("Error distribution")) {
		return fmt.Errorf("hey saw errors:\n%s", out)
	}
	for _, p := range pctLine.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(p[2]), 64)
		if string(p[1]) == "50" {
			res.p50 = v
		} else {
			res.p99 = v
		}
	}
	return nil
}

func report(results map[string][]run) {
	med := func(name string, f func(run) float64) float64 {
		var v []float64
		for _, r := range results[name] {
			v = append(v, f(r))
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	perRequest := func(cpu float64, r run) float64 { return 1e6 * cpu / float64(max(r.requests, 1)) }
	base := med("untraced", func(r run) float64 { return r.rps })
	baseP99 := med("untraced", func(r run) float64 { return r.p99 })
	baseCPU := med("untraced", func(r run) float64 { return perRequest(r.backendCPU, r) })
	fmt.Printf("\n%-10s %9s %7s %7s %8s %6s %11s %11s %9s %9s\n", "mode", "req/s", "p50 ms", "p99 ms", "vs untr.", "p99 ×", "app µs/req", "coll µs/req", "capacity", "recorded")
	for _, m := range modes {
		rps := med(m.name, func(r run) float64 { return r.rps })
		p99 := med(m.name, func(r run) float64 { return r.p99 })
		collector, rec := "-", "-"
		if m.standin != "" && m.standin != "otlp-down" {
			collector = fmt.Sprintf("%.2f", med(m.name, func(r run) float64 { return perRequest(r.standinCPU, r) }))
		}
		if m.standin == "xray" || m.standin == "otlp" || m.standin == "xray-rate0" || m.standin == "otlp-rate0" {
			rec = fmt.Sprintf("%.1f%%", 100*med(m.name, func(r run) float64 { return float64(r.received) / float64(max(r.total, 1)) }))
		}
		taskCPU := med(m.name, func(r run) float64 { return perRequest(r.backendCPU+r.standinCPU, r) })
		fmt.Printf("%-10s %9.0f %7.2f %7.2f %7.1f%% %6.2f %11.2f %11s %8.1f%% %9s\n", m.name, rps,
			1000*med(m.name, func(r run) float64 { return r.p50 }), 1000*p99, 100*rps/base, p99/baseP99,
			med(m.name, func(r run) float64 { return perRequest(r.backendCPU, r) }), collector, 100*baseCPU/taskCPU, rec)
	}
	fmt.Println("\nmedians of the rounds; µs/req is CPU time per request served; capacity is untraced's CPU per request over the mode's, app and collector together (what a CPU-bound task serves); 'recorded' is segments (X-Ray) or server spans (OpenTelemetry) the stand-in got per request served")
	capacity := func(name string) float64 {
		return baseCPU / med(name, func(r run) float64 { return perRequest(r.backendCPU+r.standinCPU, r) })
	}
	if results["xray"] != nil {
		rps := med("xray", func(r run) float64 { return r.rps })
		p99 := med("xray", func(r run) float64 { return r.p99 })
		fmt.Printf("target, default mode (xray): throughput %.1f%% of untraced (at least 85%%: %s), p99 %.2f× untraced (at most 1.2×: %s)\n",
			100*rps/base, verdict(rps/base >= 0.85), p99/baseP99, verdict(p99/baseP99 <= 1.2))
	}
	if results["otel"] != nil && results["xray"] != nil {
		p99 := med("otel", func(r run) float64 { return r.p99 })
		fmt.Printf("target, OpenTelemetry: capacity %.1f%% against X-Ray's %.1f%% (at least X-Ray's: %s), p99 %.2f× untraced (at most 1.2×: %s)\n",
			100*capacity("otel"), 100*capacity("xray"), verdict(capacity("otel") >= capacity("xray")), p99/baseP99, verdict(p99/baseP99 <= 1.2))
	}
	if results["otel-floor"] != nil {
		fmt.Printf("target, OpenTelemetry floor: capacity %.1f%% of untraced (at least 90%%: %s)\n",
			100*capacity("otel-floor"), verdict(capacity("otel-floor") >= 0.9))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// withoutGoGC is env less the Go runtime's garbage-collector settings.
func withoutGoGC(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(e string) bool {
		return strings.HasPrefix(e, "GOGC=") || strings.HasPrefix(e, "GOMEMLIMIT=")
	})
}

// taskSpec is what the bench takes from a synthesized template: the app
// container's environment, as NAME=value, less what the bench sets itself
// (the port, where traces go, the tracing mode), and the X-Ray sampling
// rules, by priority.
type taskSpec struct {
	env   []string
	rules []*sampling.SamplingRule
}

func readTemplate(path string) (taskSpec, error) {
	task, err := standin.ReadTemplate(path)
	if err != nil {
		return taskSpec{}, fmt.Errorf("-template: %w", err)
	}
	if len(task.Rules) == 0 {
		return taskSpec{}, fmt.Errorf("-template: %s: no AWS::XRay::SamplingRule", path)
	}
	benchSets := map[string]bool{"PORT": true, "AWS_XRAY_DAEMON_ADDRESS": true, "CRUDDUR_TRACING": true, "OTEL_EXPORTER_OTLP_ENDPOINT": true}
	t := taskSpec{rules: task.Rules}
	for name, v := range task.Env {
		if !benchSets[name] {
			t.env = append(t.env, name+"="+v)
		}
	}
	slices.Sort(t.env)
	return t, nil
}

// rateFor is the FixedRate of the rule X-Ray applies to a GET of path: the
// first by priority whose URLPath is * or path (the template's rules match
// any host and method). OpenTelemetry samples at it, as the stack sets it.
func (t taskSpec) rateFor(path string) float64 {
	for _, r := range slices.Concat(t.rules, []*sampling.SamplingRule{standin.DefaultRule()}) {
		if u := *r.URLPath; u == "*" || u == path {
			return *r.FixedRate
		}
	}
	panic("unreachable: X-Ray's Default rule matches every path")
}

// serveStandin is a collector stand-in on 127.0.0.1:port until SIGTERM, when it
// prints how many segments or spans it got. "xray": segments over UDP and
// the sampling proxy over TCP, serving the template's rules and X-Ray's
// Default; "xray-rate0": the same with every rate and reservoir 0;
// "xray-proxy-only": the proxy alone, so segments find nothing listening;
// "otlp": OTLP/HTTP and the same sampling proxy; "otlp-rate0": with every
// rate and reservoir 0.
func serveStandin(args []string) {
	kind, port, template := args[0], args[1], args[2]
	var received atomic.Int64
	t, err := readTemplate(template)
	if err != nil {
		fail(err)
	}
	rules := append(t.rules, standin.DefaultRule())
	if kind == "xray-rate0" || kind == "otlp-rate0" {
		for _, r := range rules {
			zero, none := 0.0, int64(0)
			r.FixedRate, r.ReservoirSize = &zero, &none
		}
	}
	proxy := standin.SamplingProxy(rules)
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	var handler http.Handler = mux
	switch kind {
	case "xray", "xray-proxy-only", "xray-rate0":
		handler = proxy
		if kind != "xray-proxy-only" {
			_, err := standin.Daemon("127.0.0.1:"+port, func(doc []byte) {
				// Segments, not subsegments sent on their own.
				if !bytes.Contains(doc, []byte(`"type":"subsegment"`)) {
					received.Add(1)
				}
			})
			if err != nil {
				fail(err)
			}
		}
	case "otlp", "otlp-rate0":
		mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var req coltracepb.ExportTraceServiceRequest
			if proto.Unmarshal(body, &req) == nil {
				for _, rs := range req.ResourceSpans {
					for _, ss := range rs.ScopeSpans {
						for _, span := range ss.Spans {
							if span.Kind == tracepb.Span_SPAN_KIND_SERVER {
								received.Add(1)
							}
						}
					}
				}
			}
			w.Header().Set("Content-Type", "application/x-protobuf")
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fail(err)
	}
	go http.Serve(ln, handler)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
	fmt.Println(received.Load())
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(port int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on %d after 10 s", port)
}

// cpuSeconds is a process's user and system time so far, from /proc.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the whole line, in clock ticks (100 a second).
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}

func standinCPU(c *exec.Cmd) float64 {
	if c == nil || c.Process == nil {
		return 0
	}
	return cpuSeconds(c.Process.Pid)
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, bytes.Count(data, []byte("processor\t:")))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadbench:", err)
	os.Exit(1)
}
