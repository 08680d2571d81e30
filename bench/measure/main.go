// Command measure times commands and prints, for each, the wall time of its
// runs as min/median/max, and for those marked peak the peak memory of the
// whole process tree (the command and every descendant, summed, sampled every
// 20 ms from /proc): a Go CDK synth is three processes (Go, the jsii wrapper,
// Node), so the largest single process alone would understate it.
//
//	measure -n 5 plan.json
//
// The plan is a JSON list of commands: {"label", "argv", "env" (added to
// the environment), "runs" (default -n), "peak"}. After one warm-up round,
// the commands run in rounds, each once a round, so that a slow spell of a
// shared machine falls on all of them instead of on whichever ran then: the
// ratios bench/run.sh prints compare commands. Memory is sampled in one more
// run that is not timed: reading /proc of a busy process tree that often
// slows it down (by a third, for go test). It prints one JSON object a
// command.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Command is one entry of the plan.
type Command struct {
	Label string            `json:"label"`
	Argv  []string          `json:"argv"`
	Env   map[string]string `json:"env"`
	Runs  int               `json:"runs"`
	Peak  bool              `json:"peak"`
}

// Result is what one measured command took.
type Result struct {
	Label     string    `json:"label"`
	Runs      []float64 `json:"runs_s"`
	Min       float64   `json:"min_s"`
	Median    float64   `json:"median_s"`
	Max       float64   `json:"max_s"`
	PeakRSSMB float64   `json:"peak_rss_mib,omitempty"`
}

func main() {
	n := flag.Int("n", 5, "runs of each command, unless its plan entry says")
	flag.Parse()
	if flag.NArg() != 1 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: measure [-n N] plan.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	var plan []Command
	if err := json.Unmarshal(data, &plan); err != nil {
		fail(fmt.Errorf("%s: %w", flag.Arg(0), err))
	}
	rounds := 0
	for i := range plan {
		if len(plan[i].Argv) == 0 {
			fail(fmt.Errorf("%s: %q has no argv", flag.Arg(0), plan[i].Label))
		}
		if plan[i].Runs == 0 {
			plan[i].Runs = *n
		}
		rounds = max(rounds, plan[i].Runs)
	}
	results := make([]Result, len(plan))
	for round := -1; round < rounds; round++ { // round -1 warms up
		for i, c := range plan {
			if round >= c.Runs {
				continue
			}
			d, _ := runOrFail(c, false)
			if round >= 0 {
				results[i].Runs = append(results[i].Runs, d.Seconds())
			}
		}
	}
	for i, c := range plan {
		r := &results[i]
		r.Label = c.Label
		sorted := append([]float64(nil), r.Runs...)
		sort.Float64s(sorted)
		r.Min, r.Max, r.Median = sorted[0], sorted[len(sorted)-1], median(sorted)
		if c.Peak {
			_, kb := runOrFail(c, true)
			r.PeakRSSMB = float64(kb) / 1024
		}
		json.NewEncoder(os.Stdout).Encode(r)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "measure:", err)
	os.Exit(1)
}

func runOrFail(c Command, sample bool) (time.Duration, int64) {
	env := os.Environ()
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	d, kb, err := run(c.Argv, env, sample)
	if err != nil {
		fail(fmt.Errorf("%s (%s): %w", c.Label, strings.Join(c.Argv, " "), err))
	}
	return d, kb
}

func median(sorted []float64) float64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}

// run runs the command and returns its wall time and, when sample is set,
// the peak summed RSS of its process tree in KiB.
func run(args, env []string, sample bool) (time.Duration, int64, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	if !sample {
		err := cmd.Wait()
		return time.Since(start), 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return time.Since(start), peak, err
		case <-tick.C:
			peak = max(peak, treeRSS(cmd.Process.Pid))
		}
	}
}

// treeRSS sums the resident memory (KiB) of pid and all its descendants.
func treeRSS(root int) int64 {
	children := map[int][]int{}
	rss := map[int]int64{}
	procs, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, status := range procs {
		data, err := os.ReadFile(status)
		if err != nil {
			continue
		}
		var pid, ppid int
		var kb int64
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "Pid:":
				pid, _ = strconv.Atoi(f[1])
			case "PPid:":
				ppid, _ = strconv.Atoi(f[1])
			case "VmRSS:":
				kb, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
		children[ppid] = append(children[ppid], pid)
		rss[pid] = kb
	}
	var sum int64
	stack := []int{root}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		sum += rss[p]
		stack = append(stack, children[p]...)
	}
	return sum
}
