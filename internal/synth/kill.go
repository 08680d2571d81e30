package synth

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// killDescendants kills the processes below pid and waits, at most five
// seconds, until each has stopped: a write in progress ends before the
// process does.
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

// procDir is where Linux lists its processes. Where there is none (macOS),
// children and running ask ps instead.
var procDir = "/proc"

// children lists pid's child processes: from /proc/PID/task/*/children (a
// process's children are listed under the thread that started them), or
// ps's listing.
func children(pid int) []int {
	var out []int
	if _, err := os.Stat(procDir); err != nil {
		for _, p := range processes() {
			if p.ppid == pid {
				out = append(out, p.pid)
			}
		}
		return out
	}
	files, _ := filepath.Glob(filepath.Join(procDir, strconv.Itoa(pid), "task", "*", "children"))
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

// running says whether pid still runs: it exists and is not a zombie (state
// Z, which writes nothing more). /proc/PID/stat has the state after the
// command in parentheses.
func running(pid int) bool {
	if _, err := os.Stat(procDir); err != nil {
		for _, p := range processes() {
			if p.pid == pid {
				return !strings.HasPrefix(p.state, "Z")
			}
		}
		return false
	}
	data, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndex(string(data), ") ")
	return i >= 0 && !strings.HasPrefix(string(data[i+2:]), "Z")
}

// process is one process in ps's listing.
type process struct {
	pid, ppid int
	state     string
}

// processes lists every process but ps itself with its parent and state,
// as ps gives them (-A and -o are POSIX; the state keyword, Z for a
// zombie, is procps's and macOS's alike); none where ps cannot run.
func processes() []process {
	cmd := exec.Command("ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "state=")
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var list []process
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		ppid, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && pid != cmd.Process.Pid {
			list = append(list, process{pid, ppid, f[2]})
		}
	}
	return list
}
