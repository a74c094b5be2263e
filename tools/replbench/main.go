// Command replbench measures continuous backup: the replication lag and
// the loss window after a crash (SIGKILL mid-load, then restore), the
// write-throughput cost of shipping, Litestream v0.5 side by side, and a
// point-in-time restore of a 1 GiB database with a day of segments.
//
//	go run ./tools/replbench                 # everything, about 20 minutes
//	go run ./tools/replbench -phases load    # lag, loss, throughput only
//	go run ./tools/replbench -phases pitr    # the 1 GiB point-in-time restore
//
// It builds ./cmd/campfire (or takes -bin) and runs the real binary on
// loopback, each run on a fresh database under -dir, which it deletes. See
// docs/benchmarks.md, "Continuous backup".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type output struct {
	Machine machineInfo   `json:"machine"`
	Runs    []*runResult  `json:"runs,omitempty"`
	PITR    *pitrResult   `json:"pitr,omitempty"`
	Ckpt    []*ckptResult `json:"checkpoint_policy,omitempty"`
}

func main() {
	dir := flag.String("dir", "/tmp/replbench", "working directory (runs are deleted as they finish)")
	bin := flag.String("bin", "", "campfire binary (default: go build ./cmd/campfire into -dir)")
	lsBin := flag.String("litestream", "", "litestream binary (default: litestream in PATH or in $GOPATH/bin); empty result skips Litestream")
	phases := flag.String("phases", "load,pitr", "what to measure: load (lag, loss, throughput, Litestream), pitr, ckpt (in process: the write path with continuous backup off and on at several checkpoint thresholds)")
	ckptPages := flag.String("ckpt-pages", "1000,4000,16000", "checkpoint thresholds (WAL frames) of phase ckpt")
	ckptDur := flag.Duration("ckpt-duration", 10*time.Second, "length of each run of phase ckpt")
	rates := flag.String("rates", "100,1000", "open-loop rates in messages/s; 0 means as fast as the server answers")
	modes := flag.String("modes", "on,off,litestream", "modes per rate: on (continuous backup), off, litestream (off + litestream replicate)")
	reps := flag.Int("reps", 5, "runs per mode and rate (loss windows need ≥5)")
	maxReps := flag.Int("max-reps", 3, "runs per mode at the closed-loop maximum rate (modes on and off); 0 skips")
	dur := flag.Duration("duration", 20*time.Second, "measured load per run, after the warm-up; then the processes are killed")
	warmup := flag.Duration("warmup", 2*time.Second, "load before the measured window")
	jitter := flag.Duration("kill-jitter", time.Second, "random extra load, 0 to this, before the kill, so kills fall at any phase of a shipping cycle")
	conc := flag.Int("conc", 32, "concurrent HTTP clients")
	maxConc := flag.Int("max-conc", 8, "clients of the closed-loop maximum-rate runs")
	posters := flag.Int("posters", 4, "users the clients post as (the administrator and posters-1 sign-ups)")
	sample := flag.Duration("sample", 100*time.Millisecond, "steady-state lag sampling interval")
	pitrDB := flag.String("pitr-db", "/tmp/backupbench/campfire.db", "source of the 1 GiB database, copied (generated there with -pitr-size-mb if missing)")
	pitrSize := flag.Int64("pitr-size-mb", 1100, "size to generate when -pitr-db does not exist")
	pitrSeconds := flag.Duration("pitr-seconds", 120*time.Second, "real time over which the fake clock runs through -pitr-day")
	pitrDay := flag.Duration("pitr-day", 24*time.Hour, "span of the segments' timestamps")
	pitrRate := flag.Float64("pitr-rate", 150, "messages/s written while the segments are produced")
	pitrDelay := flag.Duration("pitr-ship-delay", 5*time.Millisecond, "ShipDelay of the replicator while the segments are produced")
	pitrRuns := flag.Int("pitr-runs", 3, "runs of each restore")
	jsonOut := flag.Bool("json", false, "print the results as JSON instead of tables")
	jsonFile := flag.String("json-file", "", "also write the results as JSON to this file")
	keep := flag.Bool("keep", false, "keep -dir (the PITR database and segments) at the end")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./tools/replbench [flags]\n\n%s\nflags:\n", strings.SplitN(doc, "\n\n", 2)[0])
		flag.PrintDefaults()
	}
	flag.Parse()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// Interrupted: end the children and stop here.
		<-sigs
		cancel()
		killAll()
		if !*keep {
			os.RemoveAll(*dir)
		}
		fmt.Fprintln(os.Stderr, "replbench: interrupted")
		os.Exit(130)
	}()
	logf := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+f+"\n", a...)
	}
	err := mainErr(ctx, config{
		dir: *dir, bin: *bin, litestream: *lsBin, phases: *phases, rates: *rates, modes: *modes,
		reps: *reps, maxReps: *maxReps, dur: *dur, jitter: *jitter, warmup: *warmup, conc: *conc, maxConc: *maxConc,
		posters: *posters, sample: *sample, jsonOut: *jsonOut, jsonFile: *jsonFile, keep: *keep, logf: logf,
		ckptPages: *ckptPages, ckptDur: *ckptDur,
		pitr: pitrOpts{src: *pitrDB, sizeMB: *pitrSize, real: *pitrSeconds, day: *pitrDay,
			rate: *pitrRate, shipDelay: *pitrDelay, runs: *pitrRuns},
	})
	killAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "replbench:", err)
		os.Exit(1)
	}
}

const doc = `replbench measures continuous backup (replication lag, loss window after SIGKILL, throughput cost, Litestream side by side, 1 GiB point-in-time restore).`

type config struct {
	dir, bin, litestream, phases, rates, modes string
	jsonFile, ckptPages                        string
	ckptDur                                    time.Duration
	reps, maxReps, conc, maxConc, posters      int
	dur, warmup, sample, jitter                time.Duration
	jsonOut, keep                              bool
	logf                                       func(string, ...any)
	pitr                                       pitrOpts
}

func mainErr(ctx context.Context, c config) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(c.dir)
	}
	if c.bin == "" {
		c.bin = filepath.Join(c.dir, "campfire")
		c.logf("building ./cmd/campfire into %s", c.bin)
		if out, err := exec.Command("go", "build", "-o", c.bin, "./cmd/campfire").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/campfire (run from the repository root): %v: %s", err, out)
		}
	}
	if c.litestream == "" {
		c.litestream = findLitestream()
	}
	out := &output{Machine: machine(c.bin, c.litestream)}
	if strings.Contains(c.phases, "load") {
		runs, err := loadPhase(ctx, c)
		out.Runs = runs
		if err != nil {
			report(c, out)
			return err
		}
	}
	if strings.Contains(c.phases, "pitr") {
		c.pitr.bin, c.pitr.dir, c.pitr.logf = c.bin, filepath.Join(c.dir, "pitr"), c.logf
		p, err := runPITR(ctx, c.pitr)
		out.PITR = p
		if err != nil {
			report(c, out)
			return err
		}
	}
	if strings.Contains(c.phases, "ckpt") {
		var pages []int64
		for _, f := range strings.Split(c.ckptPages, ",") {
			p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || p <= 0 {
				return fmt.Errorf("-ckpt-pages: %q is not a positive number", f)
			}
			pages = append(pages, p)
		}
		rs, err := ckptPhase(ctx, c.dir, pages, max(c.maxReps, 1), c.maxConc, c.ckptDur, c.logf)
		out.Ckpt = rs
		if err != nil {
			report(c, out)
			return err
		}
	}
	report(c, out)
	return nil
}

func report(c config, out *output) {
	if c.jsonFile != "" {
		if b, err := json.MarshalIndent(out, "", "  "); err == nil {
			_ = os.WriteFile(c.jsonFile, b, 0o644)
		}
	}
	if c.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	printTables(os.Stdout, out)
}

func findLitestream() string {
	if p, err := exec.LookPath("litestream"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "litestream")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// loadPhase runs every mode at every rate reps times, the modes in a
// rotating order so that none always runs first; then the closed-loop
// maximum with modes on and off.
func loadPhase(ctx context.Context, c config) ([]*runResult, error) {
	var rs []float64
	for _, f := range strings.Split(c.rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("-rates: %w", err)
		}
		rs = append(rs, r)
	}
	var ms []string
	for _, m := range strings.Split(c.modes, ",") {
		m = strings.TrimSpace(m)
		if m == modeLitestream && c.litestream == "" {
			c.logf("no litestream binary: skipping mode litestream")
			continue
		}
		ms = append(ms, m)
	}
	o := loadOpts{bin: c.bin, litestream: c.litestream, dir: c.dir, conc: c.conc, posters: c.posters,
		keep: c.keep, warmup: c.warmup, dur: c.dur, jitter: c.jitter, sample: c.sample, restore: true, logf: c.logf}
	var out []*runResult
	seed := uint64(1)
	one := func(o loadOpts, mode string, rate float64, rep int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := runOnce(ctx, o, mode, rate, rep, seed)
		seed += 100
		if err != nil {
			return fmt.Errorf("%s at %g/s, run %d: %w", mode, rate, rep, err)
		}
		c.logf("%-10s %5g/s run %d: %.0f msg/s, p50 %.2f ms, p99 %.2f ms, lag p50 %.0f p99 %.0f ms%s, other CPU %.2f",
			mode, rate, rep, r.Load.PerSec, r.Load.P50ms, r.Load.P99ms, r.LagP50ms, r.LagP99ms, lossText(r.Loss), r.OtherCPU)
		out = append(out, r)
		return nil
	}
	for _, rate := range rs {
		for rep := 1; rep <= c.reps; rep++ {
			for i := range ms {
				if err := one(o, ms[(i+rep-1)%len(ms)], rate, rep); err != nil {
					return out, err
				}
			}
		}
	}
	mo := o
	mo.conc, mo.restore = c.maxConc, false
	for rep := 1; rep <= c.maxReps; rep++ {
		order := []string{modeOn, modeOff}
		if rep%2 == 0 {
			order = []string{modeOff, modeOn}
		}
		for _, m := range order {
			if err := one(mo, m, 0, rep); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

func lossText(l *loss) string {
	if l == nil {
		return ""
	}
	if l.Err != "" {
		return ", RESTORE FAILED: " + l.Err
	}
	return fmt.Sprintf(", lost %d acked (window %.0f ms, holes %d), restore %.2f s", l.Lost, l.WindowMS, l.Holes, l.RestoreSec)
}

type machineInfo struct {
	NumCPU     int    `json:"num_cpu"`
	CPU        string `json:"cpu"`
	Go         string `json:"go"`
	Kernel     string `json:"kernel"`
	LoadAvg    string `json:"loadavg_at_start"`
	Litestream string `json:"litestream"`
	StartedAt  string `json:"started_at"`
}

func machine(bin, litestream string) machineInfo {
	m := machineInfo{NumCPU: runtime.NumCPU(), Go: runtime.Version(), StartedAt: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m.CPU = strings.TrimSpace(l[strings.Index(l, ":")+1:])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if litestream != "" {
		if b, err := exec.Command(litestream, "version").Output(); err == nil {
			m.Litestream = strings.TrimSpace(string(b))
		}
	}
	return m
}
