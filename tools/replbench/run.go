package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Modes of a load run.
const (
	modeOn         = "on"         // campfire serve, continuous backup on
	modeOff        = "off"        // campfire serve, continuous backup off
	modeLitestream = "litestream" // off, plus litestream replicate beside it
)

type loadOpts struct {
	bin, litestream string
	dir             string
	conc, posters   int
	warmup, dur     time.Duration
	jitter          time.Duration // random extra load before the kill
	sample          time.Duration
	restore         bool // kill and restore (modes on and litestream)
	keep            bool // keep each run's directory
	logf            func(string, ...any)
}

// runResult is one run of one mode at one rate.
type runResult struct {
	Mode string    `json:"mode"`
	Rate float64   `json:"rate"` // asked per second; 0 = as fast as answered
	Rep  int       `json:"rep"`
	Load loadStats `json:"load"`
	// CPU seconds used in the measured window, and per 1,000 messages.
	CPUServer      float64 `json:"cpu_server_s"`
	CPULitestream  float64 `json:"cpu_litestream_s"`
	CPUPer1kServer float64 `json:"cpu_server_per_1k_s"`
	CPUPer1kLS     float64 `json:"cpu_litestream_per_1k_s"`
	OtherCPU       float64 `json:"other_cpu_cores"`
	LagSamples     int     `json:"lag_samples"`
	LagP50ms       float64 `json:"lag_p50_ms"`
	LagP99ms       float64 `json:"lag_p99_ms"`
	LagMaxms       float64 `json:"lag_max_ms"`
	Loss           *loss   `json:"loss,omitempty"`
	ReplicaFiles   int     `json:"replica_files"`
	ReplicaBytes   int64   `json:"replica_bytes"`
	LogProblems    int     `json:"log_problems"`
	FirstProblem   string  `json:"first_problem,omitempty"`
}

// runOnce starts a fresh server (and Litestream), loads it for warmup +
// dur, then kills everything at once (the machine dies) and, when asked,
// restores from the backup and compares with what was acknowledged.
func runOnce(ctx context.Context, o loadOpts, mode string, rate float64, rep int, seed uint64) (*runResult, error) {
	res := &runResult{Mode: mode, Rate: rate, Rep: rep}
	dir := filepath.Join(o.dir, fmt.Sprintf("%s-%g-%d", mode, rate, rep))
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	s, err := startServer(ctx, o.bin, filepath.Join(dir, "server"), mode == modeOn, o.posters, o.conc)
	if err != nil {
		return nil, err
	}
	defer s.kill()
	var ls *exec.Cmd
	replica := filepath.Join(dir, "replica")
	if mode == modeLitestream {
		ls = exec.Command(o.litestream, "replicate", s.dbPath, "file://"+replica)
		logf, err := os.Create(filepath.Join(dir, "litestream.log"))
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		ls.Stdout, ls.Stderr = logf, logf
		if err := startChild(ls); err != nil {
			return nil, fmt.Errorf("litestream: %w", err)
		}
		defer killChild(ls)
		if err := waitFor(10*time.Second, func() bool { return !newestMtime(replica).IsZero() }); err != nil {
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("litestream wrote nothing to %s: %s", replica, b)
		}
	}
	shipped := func() time.Time { return newestSegmentAt(s.backups) }
	if mode == modeLitestream {
		shipped = func() time.Time { return newestMtime(replica) }
	}

	l := startLoad(s, rate, o.conc, seed)
	from := l.start.Add(o.warmup)
	var lag *lagSampler
	if mode != modeOff {
		lag = startLag(l, from, o.sample, shipped)
	}
	time.Sleep(time.Until(from))
	cpu0s, _ := cpuTime(s.pid())
	var cpu0l time.Duration
	if ls != nil {
		cpu0l, _ = cpuTime(ls.Process.Pid)
	}
	self0, _ := cpuTime(os.Getpid())
	busy0, total0 := machineBusy()
	// A random extra so that the kill falls at any phase of the shipping
	// cycles (Litestream syncs on a 1 s ticker from its start).
	if o.jitter > 0 {
		time.Sleep(o.dur + time.Duration(rand.Int64N(int64(o.jitter))))
	} else {
		time.Sleep(o.dur)
	}
	window := time.Since(from).Seconds()

	// The machine dies: read the counters, then kill Litestream and the
	// server back to back, while the clients are still posting.
	cpu1s, _ := cpuTime(s.pid())
	var cpu1l time.Duration
	if ls != nil {
		cpu1l, _ = cpuTime(ls.Process.Pid)
	}
	self1, _ := cpuTime(os.Getpid())
	busy1, total1 := machineBusy()
	if ls != nil {
		_ = ls.Process.Kill()
	}
	_ = s.cmd.Process.Kill()
	killedAt := time.Now()
	var samples []time.Duration
	if lag != nil {
		samples = lag.stop()
	}
	l.stop()
	s.kill()
	if ls != nil {
		killChild(ls)
	}

	res.Load = l.stats(from, killedAt)
	res.CPUServer = (cpu1s - cpu0s).Seconds()
	res.CPULitestream = (cpu1l - cpu0l).Seconds()
	res.CPUPer1kServer = ratio(res.CPUServer*1000, float64(res.Load.Acked))
	res.CPUPer1kLS = ratio(res.CPULitestream*1000, float64(res.Load.Acked))
	if total1 > total0 {
		// Busy jiffies of the machine less ours, in cores.
		ours := res.CPUServer + res.CPULitestream + (self1 - self0).Seconds()
		res.OtherCPU = max(0, float64(busy1-busy0)/clockTicks-ours) / window
	}
	res.LagSamples = len(samples)
	res.LagP50ms, res.LagP99ms, res.LagMaxms = ms(percentile(samples, 50)), ms(percentile(samples, 99)), ms(percentile(samples, 100))
	res.LogProblems, res.FirstProblem = logProblems(filepath.Join(dir, "server", "serve.log"))
	if ls != nil {
		n, first := logProblems(filepath.Join(dir, "litestream.log"))
		res.LogProblems += n
		if res.FirstProblem == "" {
			res.FirstProblem = first
		}
	}
	switch mode {
	case modeOn:
		res.ReplicaFiles, res.ReplicaBytes = dirSize(filepath.Join(s.backups, "wal"))
	case modeLitestream:
		res.ReplicaFiles, res.ReplicaBytes = dirSize(replica)
	}
	if !o.restore || mode == modeOff {
		return res, nil
	}
	var path string
	var took time.Duration
	into := filepath.Join(dir, "restore")
	if mode == modeOn {
		path, took, err = restoreCampfire(ctx, o.bin, s.backups, into)
	} else {
		path, took, err = restoreLitestream(ctx, o.litestream, replica, into)
	}
	lo := loss{}
	if err == nil {
		var ids map[int64]bool
		if ids, err = messageIDs(ctx, path); err == nil {
			lo = measureLoss(l.acked(), ids)
		}
	}
	if err != nil {
		lo.Err = err.Error()
	}
	lo.RestoreSec = took.Seconds()
	res.Loss = &lo
	return res, nil
}

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %s", d)
}

// logProblems counts the warnings and errors a server logged.
func logProblems(path string) (int, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, ""
	}
	n, first := 0, ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			n++
			if first == "" {
				first = line
			}
		}
	}
	return n, first
}

func dirSize(dir string) (files int, bytes int64) {
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files++
			bytes += fi.Size()
		}
		return nil
	})
	return files, bytes
}
