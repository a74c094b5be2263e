package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuSample is the machine's busy CPU time and this process's CPU time at
// one moment, read from /proc (Linux). On a shared machine the difference
// over a run shows how much CPU other work took while we measured.
type cpuSample struct {
	at         time.Time
	busy, self float64 // seconds
	ok         bool
}

// clockTick is USER_HZ, the unit of /proc/stat; 100 on every Linux port
// Go supports.
const clockTick = 100

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 8 || f[0] != "cpu" {
		return s
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i == 3 || i == 4 || i >= 7 { // idle, iowait; steal and guests are not ours to count
			continue
		}
		s.busy += n / clockTick
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return s
	}
	// Fields after the ")" that closes the command name: utime and stime
	// are the 12th and 13th.
	_, rest, _ := strings.Cut(string(self), ") ")
	g := strings.Fields(rest)
	if len(g) < 13 {
		return s
	}
	ut, _ := strconv.ParseFloat(g[11], 64)
	st, _ := strconv.ParseFloat(g[12], 64)
	s.self = (ut + st) / clockTick
	s.ok = true
	return s
}

// otherCores is the CPU, in cores, that everything but this process used
// between a and b; -1 when unknown. It includes kernel work done for us
// (loopback networking, writeback), so it is never quite 0.
func otherCores(a, b cpuSample) float64 {
	wall := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || wall <= 0 {
		return -1
	}
	return max(0, (b.busy-a.busy)-(b.self-a.self)) / wall
}
