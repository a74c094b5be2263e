// Command loadbench measures Campfire's core paths on this machine:
// messages posted per second through the HTTP API (with persistence and
// search indexing) and search latency over 100,000 messages. Everything
// runs in one process on loopback, against a fresh database per run.
//
// The machine it runs on may be shared and noisy, so every number comes
// with a baseline measured in the same run (raw SQLite doing the same
// durable work), and the summary is the median across runs:
//
//	go run ./tools/loadbench -runs 5
//
// Progress goes to stderr; results to stdout, as text or with -json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/campfire-in-go/campfire/tools/chattext"
)

// config is the command line.
type config struct {
	Conc     int           `json:"concurrency"`
	Duration time.Duration `json:"duration_ns"`
	Warmup   time.Duration `json:"warmup_ns"`
	Messages int           `json:"messages"`
	Searches int           `json:"searches"`
	Runs     int           `json:"runs"`
	Seed     uint64        `json:"seed"`
	Dir      string        `json:"-"`
	JSON     bool          `json:"-"`
	Timeout  time.Duration `json:"-"`
	Profile  string        `json:"-"`
}

func parseFlags() (config, error) {
	var c config
	flag.IntVar(&c.Conc, "c", 8, "concurrent posters, each a different user")
	flag.DurationVar(&c.Duration, "d", 10*time.Second, "measured posting time, for the API and for the baseline")
	flag.DurationVar(&c.Warmup, "warmup", time.Second, "unmeasured posting before each measurement")
	flag.IntVar(&c.Messages, "messages", 100_000, "messages in the database during the search measurement")
	flag.IntVar(&c.Searches, "s", 500, "timed search requests per run")
	flag.IntVar(&c.Runs, "runs", 5, "repetitions of the whole measurement")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed for the generated message text")
	flag.StringVar(&c.Dir, "dir", "", "keep the databases in this directory (default: a temporary directory, removed at exit)")
	flag.BoolVar(&c.JSON, "json", false, "print results as JSON")
	flag.DurationVar(&c.Timeout, "timeout", 30*time.Minute, "give up after this long")
	flag.StringVar(&c.Profile, "cpuprofile", "", "write a CPU profile of the first run's API posting to this file")
	flag.Parse()
	switch {
	case flag.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %v", flag.Args())
	case c.Conc < 1 || c.Conc > 256:
		return c, errors.New("-c must be between 1 and 256")
	case c.Duration < time.Second || c.Duration > 10*time.Minute:
		return c, errors.New("-d must be between 1s and 10m")
	case c.Warmup < 0 || c.Warmup > time.Minute:
		return c, errors.New("-warmup must be between 0 and 1m")
	case c.Messages < 1000 || c.Messages > 2_000_000:
		return c, errors.New("-messages must be between 1000 and 2000000")
	case c.Searches < len(queryMix) || c.Searches > 100_000:
		return c, fmt.Errorf("-s must be between %d and 100000", len(queryMix))
	case c.Runs < 1 || c.Runs > 50:
		return c, errors.New("-runs must be between 1 and 50")
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	// A closed pipe on stdout (| head) should fail a write, not kill us
	// before the temporary directory is removed.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		stop()
		cancel()
		os.Exit(1)
	}
}

// runResult is one repetition.
type runResult struct {
	Run int `json:"run"`
	// OtherCPU is the CPU, in cores, that other processes used during
	// the run (Linux; -1 elsewhere): a measure of background load.
	OtherCPU float64    `json:"other_cpu_cores"`
	Post     postResult `json:"post"`
	Baseline postResult `json:"post_baseline"`
	// PostRatio is API messages/s over baseline inserts/s.
	PostRatio float64      `json:"post_ratio"`
	Search    searchResult `json:"search"`
	// SearchRatio is the HTTP search p50 over the raw FTS5 p50.
	SearchRatio float64 `json:"search_ratio_p50"`
}

// summary holds medians across runs; times in milliseconds.
type summary struct {
	PostPerSec     float64        `json:"post_per_sec"`
	PostP50        float64        `json:"post_p50_ms"`
	PostP99        float64        `json:"post_p99_ms"`
	BaselinePerSec float64        `json:"baseline_per_sec"`
	BaselineP50    float64        `json:"baseline_p50_ms"`
	PostRatio      float64        `json:"post_ratio"`
	SearchP50      float64        `json:"search_p50_ms"`
	SearchP99      float64        `json:"search_p99_ms"`
	RawP50         float64        `json:"raw_p50_ms"`
	RawP99         float64        `json:"raw_p99_ms"`
	SearchRatio    float64        `json:"search_ratio_p50"`
	Classes        []classSummary `json:"classes"`
}

type classSummary struct {
	Name     string  `json:"name"`
	Query    string  `json:"query"`
	Matches  float64 `json:"matches"`
	Results  float64 `json:"results"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	RawP50   float64 `json:"raw_p50_ms"`
	RatioP50 float64 `json:"ratio_p50"`
}

// run does cfg.Runs repetitions and writes the report.
func run(ctx context.Context, cfg config, out io.Writer) error {
	base := cfg.Dir
	if base == "" {
		tmp, err := os.MkdirTemp("", "loadbench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		base = tmp
	} else if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}

	var runs []runResult
	for r := 1; r <= cfg.Runs; r++ {
		dir := filepath.Join(base, fmt.Sprintf("run-%d", r))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		res, err := runOnce(ctx, cfg, r, dir)
		if err != nil {
			return fmt.Errorf("run %d: %w", r, err)
		}
		if cfg.Dir == "" {
			os.RemoveAll(dir) // free the disk before the next run
		}
		runs = append(runs, res)
	}

	sum := summarize(runs)
	if cfg.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err := enc.Encode(map[string]any{
			"config": cfg, "go": runtime.Version(), "gomaxprocs": runtime.GOMAXPROCS(0), "numcpu": runtime.NumCPU(),
			"runs": runs, "median": sum,
		})
		if err != nil {
			return err
		}
	} else {
		writeText(out, cfg, runs, sum)
	}
	for _, r := range runs {
		if r.Post.Errors > 0 || r.Search.Errors > 0 {
			return fmt.Errorf("run %d had %d failed posts and %d failed searches (first: %s)",
				r.Run, r.Post.Errors, r.Search.Errors, r.Post.FirstError)
		}
	}
	return nil
}

// progress reports to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// runOnce measures posting (API and baseline, in alternating order so
// neither always goes first), then seeds the database and measures search.
func runOnce(ctx context.Context, cfg config, r int, dir string) (res runResult, err error) {
	res = runResult{Run: r}
	cpu0 := sampleCPU()
	defer func() { res.OtherCPU = otherCores(cpu0, sampleCPU()) }()
	progress("run %d/%d: setting up %d users over HTTP", r, cfg.Runs, cfg.Conc+1)
	e, err := newEnv(ctx, dir, cfg.Conc, cfg.Conc)
	if err != nil {
		return res, err
	}
	defer e.stop()

	seed := cfg.Seed*1_000_003 + uint64(r)*101
	api := func() error {
		progress("run %d/%d: API posting, %d posters, %v", r, cfg.Runs, cfg.Conc, cfg.Duration)
		if cfg.Profile != "" && r == 1 {
			f, err := os.Create(cfg.Profile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		res.Post = postAPI(ctx, e, cfg.Conc, cfg.Warmup, cfg.Duration, seed)
		return ctx.Err()
	}
	baseline := func() error {
		progress("run %d/%d: baseline inserts, 1 thread, %v", r, cfg.Runs, cfg.Duration)
		res.Baseline, err = postBaseline(ctx, dir, cfg.Warmup, cfg.Duration, seed)
		return err
	}
	first, second := api, baseline
	if r%2 == 0 {
		first, second = baseline, api
	}
	if err := first(); err != nil {
		return res, err
	}
	if err := second(); err != nil {
		return res, err
	}
	res.PostRatio = ratio(res.Post.PerSec, res.Baseline.PerSec)

	progress("run %d/%d: seeding to %d messages", r, cfg.Runs, cfg.Messages)
	if err := e.stop(); err != nil {
		return res, err
	}
	creators := make([]int64, len(e.members))
	for i, m := range e.members {
		creators[i] = m.ID
	}
	start := time.Now()
	if _, err := seedMessages(ctx, e.path, e.roomID, creators, cfg.Messages, chattext.New(seed+7, e.memberNames(), 10, 21)); err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	seedTime := time.Since(start)
	if err := e.start(ctx); err != nil {
		return res, err
	}

	progress("run %d/%d: %d searches", r, cfg.Runs, cfg.Searches)
	if res.Search, err = measureSearch(ctx, e, cfg.Searches); err != nil {
		return res, err
	}
	res.Search.SeedTime = seedTime
	res.SearchRatio = ratio(float64(res.Search.P50), float64(res.Search.RawP50))
	progress("run %d/%d: %.0f msg/s (baseline %.0f/s, ratio %.2f); search p50 %.2f ms (raw %.3f ms)", r, cfg.Runs,
		res.Post.PerSec, res.Baseline.PerSec, res.PostRatio, ms(res.Search.P50), ms(res.Search.RawP50))
	return res, e.stop()
}

// summarize takes the median of every number across runs. Ratios are
// medians of the per-run ratios, not ratios of medians.
func summarize(runs []runResult) summary {
	med := func(f func(runResult) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	s := summary{
		PostPerSec:     med(func(r runResult) float64 { return r.Post.PerSec }),
		PostP50:        med(func(r runResult) float64 { return ms(r.Post.P50) }),
		PostP99:        med(func(r runResult) float64 { return ms(r.Post.P99) }),
		BaselinePerSec: med(func(r runResult) float64 { return r.Baseline.PerSec }),
		BaselineP50:    med(func(r runResult) float64 { return ms(r.Baseline.P50) }),
		PostRatio:      med(func(r runResult) float64 { return r.PostRatio }),
		SearchP50:      med(func(r runResult) float64 { return ms(r.Search.P50) }),
		SearchP99:      med(func(r runResult) float64 { return ms(r.Search.P99) }),
		RawP50:         med(func(r runResult) float64 { return ms(r.Search.RawP50) }),
		RawP99:         med(func(r runResult) float64 { return ms(r.Search.RawP99) }),
		SearchRatio:    med(func(r runResult) float64 { return r.SearchRatio }),
	}
	for k, qc := range queryMix {
		c := func(r runResult) classResult { return r.Search.Classes[k] }
		s.Classes = append(s.Classes, classSummary{
			Name: qc.Name, Query: qc.Query,
			Matches:  med(func(r runResult) float64 { return float64(c(r).Matches) }),
			Results:  med(func(r runResult) float64 { return float64(c(r).Results) }),
			P50:      med(func(r runResult) float64 { return ms(c(r).P50) }),
			P99:      med(func(r runResult) float64 { return ms(c(r).P99) }),
			RawP50:   med(func(r runResult) float64 { return ms(c(r).RawP50) }),
			RatioP50: med(func(r runResult) float64 { return c(r).RatioP50 }),
		})
	}
	return s
}

// writeText prints per-run tables and the medians.
func writeText(out io.Writer, cfg config, runs []runResult, s summary) {
	fmt.Fprintf(out, "loadbench: %d runs; %d posters for %v after %v warm-up; search over %d messages, %d requests per run; %s, GOMAXPROCS=%d\n\n",
		cfg.Runs, cfg.Conc, cfg.Duration, cfg.Warmup, cfg.Messages, cfg.Searches, runtime.Version(), runtime.GOMAXPROCS(0))

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Posting\tother CPU\tAPI msg/s\tp50 ms\tp99 ms\terrors\tbaseline ins/s\tbaseline p50 ms\tAPI/baseline\t")
	for _, r := range runs {
		fmt.Fprintf(tw, "run %d\t%.2f\t%.0f\t%.2f\t%.2f\t%d\t%.0f\t%.2f\t%.2f\t\n", r.Run, r.OtherCPU, r.Post.PerSec, ms(r.Post.P50), ms(r.Post.P99),
			r.Post.Errors, r.Baseline.PerSec, ms(r.Baseline.P50), r.PostRatio)
	}
	fmt.Fprintf(tw, "median\t\t%.0f\t%.2f\t%.2f\t\t%.0f\t%.2f\t%.2f\t\n", s.PostPerSec, s.PostP50, s.PostP99, s.BaselinePerSec, s.BaselineP50, s.PostRatio)
	tw.Flush()
	fmt.Fprintln(out)

	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Search\tmessages\tp50 ms\tp99 ms\traw p50 ms\traw p99 ms\tp50/raw\terrors\tseed s\t")
	for _, r := range runs {
		fmt.Fprintf(tw, "run %d\t%d\t%.2f\t%.2f\t%.3f\t%.3f\t%.1f\t%d\t%.1f\t\n", r.Run, r.Search.Messages, ms(r.Search.P50), ms(r.Search.P99),
			ms(r.Search.RawP50), ms(r.Search.RawP99), r.SearchRatio, r.Search.Errors, r.Search.SeedTime.Seconds())
	}
	fmt.Fprintf(tw, "median\t\t%.2f\t%.2f\t%.3f\t%.3f\t%.1f\t\t\t\n", s.SearchP50, s.SearchP99, s.RawP50, s.RawP99, s.SearchRatio)
	tw.Flush()
	fmt.Fprintln(out)

	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Query class (medians)\tquery\tmatches\tresults\tp50 ms\tp99 ms\traw p50 ms\tp50/raw\t")
	for _, c := range s.Classes {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.3f\t%.1f\t\n", c.Name, c.Query, c.Matches, c.Results, c.P50, c.P99, c.RawP50, c.RatioP50)
	}
	tw.Flush()
}
