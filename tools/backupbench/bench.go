package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"

	"github.com/campfire-in-go/campfire/tools/chattext"
)

// stepNames are the timed steps of a run, in the order they run.
var stepNames = []string{"cp", "sqlite3", "zstd", "gzip", "verify", "restore"}

var stepLabels = map[string]string{
	"cp":      "cp + fsync",
	"sqlite3": "sqlite3 .backup",
	"zstd":    "full backup, zstd",
	"gzip":    "full backup, gzip",
	"verify":  "verify (zstd artifact)",
	"restore": "restore (zstd artifact)",
}

type step struct {
	Seconds float64 `json:"seconds"`
	// CPUSeconds is user+system CPU of this process and the children it
	// waited for (cp, sqlite3) during the step.
	CPUSeconds float64 `json:"cpu_seconds"`
	// OutputBytes is the file the step wrote (copy, artifact, restored
	// database); 0 for verify.
	OutputBytes int64 `json:"output_bytes"`
	// MBps is the database size (MiB) divided by Seconds.
	MBps float64 `json:"mib_per_s"`
	// SnapshotSeconds is the consistent snapshot alone (backups only).
	SnapshotSeconds float64 `json:"snapshot_seconds,omitempty"`
	RatioCp         float64 `json:"ratio_to_cp"`
	RatioSQLite3    float64 `json:"ratio_to_sqlite3"`
}

type stall struct {
	Rate int `json:"rate"`
	// Quiet: no backup running; Backup: a hot zstd backup running.
	QuietPosts  int     `json:"quiet_posts"`
	QuietP50ms  float64 `json:"quiet_p50_ms"`
	QuietP99ms  float64 `json:"quiet_p99_ms"`
	QuietMaxms  float64 `json:"quiet_max_ms"`
	BackupPosts int     `json:"backup_posts"`
	BackupP50ms float64 `json:"backup_p50_ms"`
	BackupP99ms float64 `json:"backup_p99_ms"`
	BackupMaxms float64 `json:"backup_max_ms"`
	// BackupExpected is rate × backup duration: fewer posts than that
	// means the writer fell behind.
	BackupExpected  int     `json:"backup_expected_posts"`
	HotSeconds      float64 `json:"hot_backup_seconds"`
	HotSnapshotSecs float64 `json:"hot_snapshot_seconds"`
	Errors          int     `json:"errors"`
}

type runResult struct {
	Run      int              `json:"run"`
	DBBytes  int64            `json:"db_bytes"`
	Steps    map[string]*step `json:"steps"`
	Stall    *stall           `json:"stall,omitempty"`
	OtherCPU float64          `json:"other_cpu_cores"`
}

type output struct {
	Machine  machineInfo      `json:"machine"`
	Database *dbInfo          `json:"database"`
	Runs     []*runResult     `json:"runs"`
	Median   map[string]*step `json:"median"`
	// MedianStall holds the medians of the per-run stall figures.
	MedianStall *stall `json:"median_stall,omitempty"`
}

func cpuSelfAndChildren() float64 {
	var total float64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
		}
	}
	return total
}

// machineBusy returns the busy CPU seconds of the whole machine so far
// (/proc/stat, USER_HZ 100).
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / 100
}

func timed(fn func() error) (secs, cpu float64, err error) {
	c0 := cpuSelfAndChildren()
	t0 := time.Now()
	err = fn()
	return time.Since(t0).Seconds(), cpuSelfAndChildren() - c0, err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func runOnce(ctx context.Context, n int, src, work, sqlite3 string, rate int, quiet time.Duration, skipStall bool, logf func(string, ...any)) (*runResult, error) {
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	backups := filepath.Join(work, "backups")
	if err := os.MkdirAll(filepath.Join(work, "restored"), 0o700); err != nil {
		return nil, err
	}

	// The database is open as the running server has it open.
	db := sqldb.New(src)
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Checkpoint(ctx, sqldb.CheckpointTruncate); err != nil {
		return nil, err
	}
	dbBytes := fileSize(src)
	r := &runResult{Run: n, DBBytes: dbBytes, Steps: map[string]*step{}}
	engine := &backup.Engine{Source: db, Dir: backups, Host: "bench", AppVersion: "backupbench"}
	var zstdArtifact string

	busy0, cpu0, wall0 := machineBusy(), cpuSelfAndChildren(), time.Now()
	for _, name := range stepNames {
		s := &step{}
		var err error
		switch name {
		case "cp":
			dst := filepath.Join(work, "cp.db")
			s.Seconds, s.CPUSeconds, err = timed(func() error {
				if err := run("cp", "--sparse=never", src, dst); err != nil {
					return err
				}
				return syncFile(dst)
			})
			s.OutputBytes = fileSize(dst)
			os.Remove(dst)
		case "sqlite3":
			dst := filepath.Join(work, "sqlite3.db")
			s.Seconds, s.CPUSeconds, err = timed(func() error {
				return run(sqlite3, src, ".backup '"+dst+"'")
			})
			s.OutputBytes = fileSize(dst)
			os.Remove(dst)
		case "zstd", "gzip":
			c := backup.CompressionZstd
			if name == "gzip" {
				c = backup.CompressionGzip
			}
			var res *backup.Result
			s.Seconds, s.CPUSeconds, err = timed(func() error {
				var err error
				res, err = engine.Backup(ctx, backup.Request{Type: backup.TypeFull, Compression: c})
				return err
			})
			if err == nil {
				s.OutputBytes = fileSize(res.Path)
				s.SnapshotSeconds = res.Snapshot.Seconds()
				if name == "zstd" {
					zstdArtifact = res.Path
				} else {
					os.Remove(res.Path)
					os.Remove(res.ManifestPath)
				}
			}
		case "verify":
			s.Seconds, s.CPUSeconds, err = timed(func() error {
				rep, err := backup.Verify(ctx, zstdArtifact, backup.VerifyOptions{})
				if err == nil && !rep.OK {
					err = rep.Err()
				}
				return err
			})
		case "restore":
			target := filepath.Join(work, "restored", "campfire.db")
			s.Seconds, s.CPUSeconds, err = timed(func() error {
				plan, err := backup.PrepareRestore(ctx, zstdArtifact, target, backup.RestoreOptions{BackupDir: backups, Host: "bench", AppVersion: "backupbench"})
				if err != nil {
					return err
				}
				_, err = plan.Apply(ctx)
				return err
			})
			s.OutputBytes = fileSize(target)
			os.RemoveAll(filepath.Join(work, "restored"))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.MBps = mib(dbBytes) / s.Seconds
		r.Steps[name] = s
		logf("  %-24s %7.2f s  cpu %6.2f s  %8.1f MiB", stepLabels[name], s.Seconds, s.CPUSeconds, mib(s.OutputBytes))
	}
	wall := time.Since(wall0).Seconds()
	r.OtherCPU = max(0, (machineBusy()-busy0)-(cpuSelfAndChildren()-cpu0)) / wall
	for _, s := range r.Steps {
		s.RatioCp = s.Seconds / r.Steps["cp"].Seconds
		s.RatioSQLite3 = s.Seconds / r.Steps["sqlite3"].Seconds
	}
	os.RemoveAll(backups)

	if !skipStall {
		st, err := writerStall(ctx, db, engine, rate, quiet, logf)
		if err != nil {
			return nil, fmt.Errorf("writer stall: %w", err)
		}
		r.Stall = st
		os.RemoveAll(backups)
		if _, err := db.Checkpoint(ctx, sqldb.CheckpointTruncate); err != nil {
			return nil, err
		}
	}
	return r, nil
}

type sample struct {
	phase int32
	lat   time.Duration
}

// writerStall posts through db.CreateMessage at a steady rate, first with
// no backup for quiet, then while a hot zstd backup runs, and compares the
// latencies of the two windows.
func writerStall(ctx context.Context, db *sqldb.DB, engine *backup.Engine, rate int, quiet time.Duration, logf func(string, ...any)) (*stall, error) {
	gen := chattext.New(uint64(time.Now().UnixNano()), nil, 17, 50)
	var phase atomic.Int32 // 0 quiet, 1 backup, 2 done
	var mu sync.Mutex
	var samples []sample
	var errs int
	var firstErr error
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			body := gen.Next()
			ph := phase.Load()
			t0 := time.Now()
			_, _, err := db.CreateMessage(ctx, 1, chat.Message{RoomID: 1, Body: body, HTML: "<p>" + html.EscapeString(body) + "</p>", Plain: body})
			lat := time.Since(t0)
			mu.Lock()
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
			} else {
				samples = append(samples, sample{ph, lat})
			}
			mu.Unlock()
		}
	}()
	time.Sleep(quiet)
	phase.Store(1)
	t0 := time.Now()
	res, err := engine.Backup(ctx, backup.Request{Type: backup.TypeHot, Compression: backup.CompressionZstd})
	hot := time.Since(t0)
	phase.Store(2)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-done
	if err != nil {
		return nil, err
	}
	if firstErr != nil {
		logf("  writer error (%d): %v", errs, firstErr)
	}
	var q, b []float64
	for _, s := range samples {
		ms := float64(s.lat.Microseconds()) / 1000
		switch s.phase {
		case 0:
			q = append(q, ms)
		case 1:
			b = append(b, ms)
		}
	}
	st := &stall{
		Rate: rate, QuietPosts: len(q), BackupPosts: len(b), Errors: errs,
		QuietP50ms: pct(q, 50), QuietP99ms: pct(q, 99), QuietMaxms: pct(q, 100),
		BackupP50ms: pct(b, 50), BackupP99ms: pct(b, 99), BackupMaxms: pct(b, 100),
		BackupExpected: int(hot.Seconds() * float64(rate)),
		HotSeconds:     hot.Seconds(), HotSnapshotSecs: res.Snapshot.Seconds(),
	}
	logf("  writer stall: quiet p50 %.2f p99 %.2f max %.2f ms (%d posts); hot backup %.1f s: p50 %.2f p99 %.2f max %.2f ms (%d of %d posts)",
		st.QuietP50ms, st.QuietP99ms, st.QuietMaxms, st.QuietPosts, st.HotSeconds, st.BackupP50ms, st.BackupP99ms, st.BackupMaxms, st.BackupPosts, st.BackupExpected)
	return st, nil
}

// pct is the nearest-rank percentile p of xs (p=100 is the maximum).
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sortFloats(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func medianOf(runs []*runResult) map[string]*step {
	out := map[string]*step{}
	for _, name := range stepNames {
		get := func(f func(*step) float64) float64 {
			var xs []float64
			for _, r := range runs {
				xs = append(xs, f(r.Steps[name]))
			}
			return median(xs)
		}
		out[name] = &step{
			Seconds:         get(func(s *step) float64 { return s.Seconds }),
			CPUSeconds:      get(func(s *step) float64 { return s.CPUSeconds }),
			OutputBytes:     int64(get(func(s *step) float64 { return float64(s.OutputBytes) })),
			MBps:            get(func(s *step) float64 { return s.MBps }),
			SnapshotSeconds: get(func(s *step) float64 { return s.SnapshotSeconds }),
			RatioCp:         get(func(s *step) float64 { return s.RatioCp }),
			RatioSQLite3:    get(func(s *step) float64 { return s.RatioSQLite3 }),
		}
	}
	return out
}

func medianStall(runs []*runResult) *stall {
	var ss []*stall
	for _, r := range runs {
		if r.Stall != nil {
			ss = append(ss, r.Stall)
		}
	}
	if len(ss) == 0 {
		return nil
	}
	get := func(f func(*stall) float64) float64 {
		var xs []float64
		for _, s := range ss {
			xs = append(xs, f(s))
		}
		return median(xs)
	}
	return &stall{
		Rate:            ss[0].Rate,
		QuietPosts:      int(get(func(s *stall) float64 { return float64(s.QuietPosts) })),
		QuietP50ms:      get(func(s *stall) float64 { return s.QuietP50ms }),
		QuietP99ms:      get(func(s *stall) float64 { return s.QuietP99ms }),
		QuietMaxms:      get(func(s *stall) float64 { return s.QuietMaxms }),
		BackupPosts:     int(get(func(s *stall) float64 { return float64(s.BackupPosts) })),
		BackupP50ms:     get(func(s *stall) float64 { return s.BackupP50ms }),
		BackupP99ms:     get(func(s *stall) float64 { return s.BackupP99ms }),
		BackupMaxms:     get(func(s *stall) float64 { return s.BackupMaxms }),
		BackupExpected:  int(get(func(s *stall) float64 { return float64(s.BackupExpected) })),
		HotSeconds:      get(func(s *stall) float64 { return s.HotSeconds }),
		HotSnapshotSecs: get(func(s *stall) float64 { return s.HotSnapshotSecs }),
		Errors:          int(get(func(s *stall) float64 { return float64(s.Errors) })),
	}
}

func printTable(w io.Writer, out *output) {
	m := out.Machine
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s, kernel %s, sqlite3 %s, load at start %s\n", m.NumCPU, m.CPU, m.Go, m.Kernel, m.SQLite3, m.LoadAvg)
	d := out.Database
	fmt.Fprintf(w, "database: %s, %d bytes (%.1f MiB), %d messages, %d users, %d rooms; page cache warm\n\n", d.Path, d.Bytes, mib(d.Bytes), d.Messages, d.Users, d.Rooms)
	fmt.Fprintf(w, "seconds per step\n| run | %s | other CPU |\n|---|", strings.Join(stepNames, " | "))
	for range stepNames {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w, "---:|")
	for _, r := range out.Runs {
		fmt.Fprintf(w, "| %d |", r.Run)
		for _, n := range stepNames {
			fmt.Fprintf(w, " %.2f |", r.Steps[n].Seconds)
		}
		fmt.Fprintf(w, " %.2f |\n", r.OtherCPU)
	}
	fmt.Fprint(w, "| median |")
	for _, n := range stepNames {
		fmt.Fprintf(w, " %.2f |", out.Median[n].Seconds)
	}
	fmt.Fprintln(w, " |")
	fmt.Fprintln(w, "\nmedians (ratios are medians of the per-run ratios)")
	fmt.Fprintln(w, "| step | seconds | × cp | × sqlite3 .backup | MiB/s | CPU s | output MiB | snapshot s |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range stepNames {
		s := out.Median[n]
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %.2f | %.0f | %.2f | %.1f | %.2f |\n", stepLabels[n], s.Seconds, s.RatioCp, s.RatioSQLite3, s.MBps, s.CPUSeconds, mib(s.OutputBytes), s.SnapshotSeconds)
	}
	ms := medianStall(out.Runs)
	if ms == nil {
		return
	}
	out.MedianStall = ms
	fmt.Fprintf(w, "\nwriter stall: CreateMessage at %d/s, latency in ms\n", ms.Rate)
	fmt.Fprintln(w, "| run | quiet p50 | quiet p99 | quiet max | backup p50 | backup p99 | backup max | posts during backup / expected | hot backup s | snapshot s | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	row := func(label string, s *stall) {
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d / %d | %.2f | %.2f | %d |\n", label,
			s.QuietP50ms, s.QuietP99ms, s.QuietMaxms, s.BackupP50ms, s.BackupP99ms, s.BackupMaxms, s.BackupPosts, s.BackupExpected, s.HotSeconds, s.HotSnapshotSecs, s.Errors)
	}
	for _, r := range out.Runs {
		if r.Stall != nil {
			row(strconv.Itoa(r.Run), r.Stall)
		}
	}
	row("median", ms)
}
