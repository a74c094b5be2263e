// Command backupbench measures Campfire's backups of a large database
// against two baselines taken in the same run: cp of the database file
// (followed by an fsync of the copy) and the sqlite3 shell's .backup.
//
//	go run ./tools/backupbench -runs 3
//
// It generates (or reuses) a database of at least -size-mb MiB of chat-like
// messages in -dir, then per run times cp, sqlite3 .backup, a full backup
// with zstd, one with gzip, a verify of the zstd artifact and a restore of
// it to a new path; and it measures the writer stall during a hot backup:
// CreateMessage latencies at a steady rate with no backup, then during one.
// See docs/benchmarks.md, "Backups of a 1 GiB database".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "/tmp/backupbench", "working directory: the generated database and the artifacts")
	dbPath := flag.String("db", "", "benchmark database (default DIR/campfire.db); generated or topped up to -size-mb")
	sizeMB := flag.Int64("size-mb", 1100, "minimum database size in MiB")
	batch := flag.Int("batch", 10000, "rows per transaction while generating")
	runs := flag.Int("runs", 3, "number of runs")
	rate := flag.Int("rate", 200, "messages per second posted during the writer-stall measurement")
	quiet := flag.Duration("quiet", 10*time.Second, "writer-stall window without a backup")
	sqlite3 := flag.String("sqlite3", "sqlite3", "sqlite3 shell for the .backup baseline")
	skipStall := flag.Bool("skip-stall", false, "skip the writer-stall measurement")
	jsonOut := flag.Bool("json", false, "print the results as JSON")
	flag.Parse()

	if *dbPath == "" {
		*dbPath = filepath.Join(*dir, "campfire.db")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fatal(err)
	}
	ctx := context.Background()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }

	info, err := generate(ctx, *dbPath, *sizeMB<<20, *batch, logf)
	if err != nil {
		fatal(fmt.Errorf("generate: %w", err))
	}
	logf("database: %s, %.1f MiB, %d messages, %d users, %d rooms (generated in %.0f s)",
		info.Path, mib(info.Bytes), info.Messages, info.Users, info.Rooms, info.GenerateSeconds)

	// Warm the page cache: every run then reads the file from memory.
	if err := warm(info.Path); err != nil {
		fatal(err)
	}

	out := &output{
		Machine:  machine(*sqlite3),
		Database: info,
		Runs:     []*runResult{},
	}
	for i := 1; i <= *runs; i++ {
		logf("run %d of %d", i, *runs)
		r, err := runOnce(ctx, i, info.Path, filepath.Join(*dir, "run"), *sqlite3, *rate, *quiet, *skipStall, logf)
		if err != nil {
			fatal(fmt.Errorf("run %d: %w", i, err))
		}
		out.Runs = append(out.Runs, r)
	}
	out.Median = medianOf(out.Runs)
	out.MedianStall = medianStall(out.Runs)
	out.Database.Bytes = fileSize(info.Path)
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fatal(err)
		}
		return
	}
	printTable(os.Stdout, out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "backupbench:", err)
	os.Exit(1)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

type machineInfo struct {
	NumCPU    int    `json:"num_cpu"`
	CPU       string `json:"cpu"`
	Go        string `json:"go"`
	SQLite3   string `json:"sqlite3"`
	LoadAvg   string `json:"loadavg_at_start"`
	Kernel    string `json:"kernel"`
	StartedAt string `json:"started_at"`
}

func machine(sqlite3 string) machineInfo {
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
	if b, err := exec.Command(sqlite3, "--version").Output(); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 0 {
			m.SQLite3 = f[0]
		}
	}
	return m
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func sortFloats(s []float64) { sort.Float64s(s) }
