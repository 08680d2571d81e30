// Command measure runs a command several times and prints the wall time of
// each run as min/median/max, and with -peak the peak memory of the whole
// process tree (the command and every descendant, summed, sampled every 20 ms
// from /proc): a Go CDK synth is three processes (Go, the jsii wrapper,
// Node), so the largest single process alone would understate it. Memory is
// sampled in one extra run that is not timed: reading /proc of a busy process
// tree that often slows it down (by a third, for go test).
//
//	measure -n 5 -peak -label "go synth" -- ./app
//
// With -json it prints one JSON object per call, for bench/run.sh.
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
	n := flag.Int("n", 5, "how many runs")
	warmup := flag.Int("warmup", 1, "runs before the measured ones, not counted")
	label := flag.String("label", "", "name of what is measured")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	peak := flag.Bool("peak", false, "measure peak memory, in one more run")
	flag.Parse()
	if flag.NArg() == 0 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: measure [-n N] [-warmup N] [-label L] [-json] -- command [args]")
		os.Exit(2)
	}
	r := Result{Label: *label}
	for i := 0; i < *warmup+*n; i++ {
		d, _, err := run(flag.Args(), false)
		if err != nil {
			fmt.Fprintf(os.Stderr, "measure: %s: %v\n", strings.Join(flag.Args(), " "), err)
			os.Exit(1)
		}
		if i < *warmup {
			continue
		}
		r.Runs = append(r.Runs, d.Seconds())
	}
	if *peak {
		_, kb, err := run(flag.Args(), true)
		if err != nil {
			fmt.Fprintf(os.Stderr, "measure: %s: %v\n", strings.Join(flag.Args(), " "), err)
			os.Exit(1)
		}
		r.PeakRSSMB = float64(kb) / 1024
	}
	sorted := append([]float64(nil), r.Runs...)
	sort.Float64s(sorted)
	r.Min, r.Max, r.Median = sorted[0], sorted[len(sorted)-1], median(sorted)
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("%-40s min %6.2f s  median %6.2f s  max %6.2f s", r.Label, r.Min, r.Median, r.Max)
	if *peak {
		fmt.Printf("  peak %6.0f MiB", r.PeakRSSMB)
	}
	fmt.Println()
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
func run(args []string, sample bool) (time.Duration, int64, error) {
	cmd := exec.Command(args[0], args[1:]...)
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
