package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// children are the processes the tool started and has not reaped yet:
// killAll ends them when the tool exits or is interrupted.
var children struct {
	sync.Mutex
	m map[int]*exec.Cmd
}

// startChild starts cmd in its own process group; the kernel kills it if
// the tool dies (Pdeathsig), and killAll kills it when the tool exits.
func startChild(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	children.Lock()
	defer children.Unlock()
	if children.m == nil {
		children.m = map[int]*exec.Cmd{}
	}
	children.m[cmd.Process.Pid] = cmd
	return nil
}

// killChild sends SIGKILL to the child's process group and reaps it.
func killChild(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = cmd.Wait()
	children.Lock()
	delete(children.m, pid)
	children.Unlock()
}

// killAll kills every child still running.
func killAll() {
	children.Lock()
	var cmds []*exec.Cmd
	for _, c := range children.m {
		cmds = append(cmds, c)
	}
	children.Unlock()
	for _, c := range cmds {
		killChild(c)
	}
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// cpuTime reads utime+stime of pid from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	// Fields 14 and 15 of stat; f[0] is field 3 (state).
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// otherCPU samples /proc/stat: busy jiffies of the whole machine.
func machineBusy() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
