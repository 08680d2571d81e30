package synth

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// killDescendants kills the processes below pid and waits, at most five
// seconds, until each has stopped: a write in progress ends before the
// process does. It reads each thread's children in /proc (Linux). Where
// there is no /proc it finds none: a jsii kernel that outlives the process
// may then finish the synth and write its manifest.
func killDescendants(pid int) {
	var pids []int
	for queue := children(pid); len(queue) > 0; queue = queue[1:] {
		pids = append(pids, queue[0])
		syscall.Kill(queue[0], syscall.SIGSTOP) // no new children meanwhile
		queue = append(queue, children(queue[0])...)
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for running(p) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// children lists pid's child processes, from /proc/PID/task/*/children:
// a process's children are listed under the thread that started them.
func children(pid int) []int {
	files, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var out []int
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(data)) {
			if child, err := strconv.Atoi(field); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

// running says whether pid still runs: /proc/PID/stat exists and its state,
// after the command in parentheses, is not Z (a zombie, which writes
// nothing more).
func running(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndex(string(data), ") ")
	return i >= 0 && !strings.HasPrefix(string(data[i+2:]), "Z")
}
