package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

type pitrOpts struct {
	bin, dir, src string
	sizeMB        int64
	real, day     time.Duration
	rate          float64
	shipDelay     time.Duration
	runs          int
	logf          func(string, ...any)
}

// pitrResult is the point-in-time restore of a large database.
type pitrResult struct {
	DBBytes      int64   `json:"db_bytes"`
	BaseBytes    int64   `json:"base_bytes"`
	BaseSeconds  float64 `json:"base_s"`
	Messages     int     `json:"messages"`
	Segments     int     `json:"segments"`
	SegmentBytes int64   `json:"segment_bytes"`
	Checkpoints  int64   `json:"checkpoints"`
	From         string  `json:"from"`
	To           string  `json:"to"`
	Target       string  `json:"target"`
	GenSeconds   float64 `json:"generate_s"`
	// Wall seconds of each CLI run.
	ToTime []float64 `json:"to_time_s"`
	Latest []float64 `json:"latest_s"`
	Splits []split   `json:"splits"`
	Err    string    `json:"error,omitempty"`
}

// split is one in-process point-in-time restore (the steps of
// backup.PreparePointInTime), timed step by step.
type split struct {
	Plan     float64 `json:"plan_s"`      // list the backups and segments, pick the path
	Base     float64 `json:"base_s"`      // decode and verify the base (integrity_check, row counts)
	Apply    float64 `json:"apply_s"`     // read, decode and write the segments
	Checksum float64 `json:"checksum_s"`  // fsync and the checksum of the rolled file
	Checks   float64 `json:"checks_s"`    // quick_check, row counts, migrations, fsync
	Total    float64 `json:"total_s"`     // all of it
	Segments int     `json:"segments"`    // applied
	Apply1k  float64 `json:"apply_1k_ms"` // apply time per 1,000 segments
}

// fakeClock stands still until run, then runs speed times faster than the
// wall clock from the wall time of run, and stops at from+span. The day
// lies ahead of the wall clock: the base backup's CreatedAt is the
// snapshot's wall time (sqldb takes time.Now, not Engine.Now), so the
// segments must come after it.
type fakeClock struct {
	mu      sync.Mutex
	from    time.Time
	span    time.Duration
	speed   float64
	started time.Time // wall time of run
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started.IsZero() {
		return c.from
	}
	d := time.Duration(float64(time.Since(c.started)) * c.speed)
	return c.from.Add(min(d, c.span))
}

func (c *fakeClock) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = time.Now()
	c.from = c.started.UTC().Truncate(time.Second).Add(time.Second)
}

// runPITR copies the large database, starts a chain on it with a fake
// clock, writes messages while the clock runs through a day, then times
// the CLI's restore --to-time and restore latest and an in-process split.
func runPITR(ctx context.Context, o pitrOpts) (*pitrResult, error) {
	res := &pitrResult{}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.src); err != nil {
		o.logf("pitr: generating %s (%d MiB)", o.src, o.sizeMB)
		if err := generate(ctx, o.src, o.sizeMB<<20, o.logf); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	dbPath := filepath.Join(o.dir, "campfire.db")
	backups := filepath.Join(o.dir, "backups")
	o.logf("pitr: copying %s", o.src)
	if out, err := exec.Command("cp", "--sparse=never", o.src, dbPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy: %v: %s", err, out)
	}
	fi, err := os.Stat(dbPath)
	if err != nil {
		return nil, err
	}
	res.DBBytes = fi.Size()

	clock := &fakeClock{from: time.Now().UTC(), span: o.day, speed: float64(o.day) / float64(o.real)}
	if err := produceDay(ctx, o, dbPath, backups, clock, res); err != nil {
		return res, err
	}
	// "A moment late in the day": 90% of the way through it.
	target := clock.from.Add(o.day * 9 / 10).Local()
	res.Target = target.Format("2006-01-02 15:04:05")
	for i := 1; i <= o.runs; i++ {
		for _, latest := range []bool{false, true} {
			args := []string{"restore", "--to-time", res.Target, "--auto-confirm"}
			if latest {
				args = []string{"restore", "latest", "--auto-confirm"}
			}
			into := filepath.Join(o.dir, fmt.Sprintf("restored-%d.db", i))
			cmd := exec.CommandContext(ctx, o.bin, args...)
			cmd.Env = serverEnv(into, backups, true)
			took, err := run(cmd, filepath.Join(o.dir, "restore.log"))
			removeDB(into)
			if err != nil {
				return res, err
			}
			o.logf("pitr: campfire %v: %.2f s", args[1:3], took.Seconds())
			if latest {
				res.Latest = append(res.Latest, took.Seconds())
			} else {
				res.ToTime = append(res.ToTime, took.Seconds())
			}
		}
		sp, err := splitRestore(ctx, backups, target, filepath.Join(o.dir, "split.db"))
		if err != nil {
			return res, fmt.Errorf("split: %w", err)
		}
		o.logf("pitr: split %+v", sp)
		res.Splits = append(res.Splits, sp)
	}
	return res, nil
}

func removeDB(path string) {
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(path + s)
	}
}

// produceDay starts a Replicator on the database (a full backup, the
// base) and writes messages at o.rate for o.real while the clock runs
// through o.day, so the segments' times span the day.
func produceDay(ctx context.Context, o pitrOpts, dbPath, backups string, clock *fakeClock, res *pitrResult) error {
	rep := &backup.Replicator{
		Engine:    &backup.Engine{Dir: backups, Host: "replbench", AppVersion: "replbench", Now: clock.now},
		ShipDelay: o.shipDelay,
		Now:       clock.now,
	}
	db := sqldb.New(dbPath)
	db.Logger = slog.New(slog.DiscardHandler)
	db.AutoCheckpoint = false
	db.OnCommit = rep.Notify
	db.Now = clock.now
	if err := db.Open(ctx); err != nil {
		return err
	}
	defer db.Close()
	rep.DB = db
	o.logf("pitr: base backup of %.0f MiB", float64(res.DBBytes)/(1<<20))
	start := time.Now()
	if err := rep.Start(ctx); err != nil {
		return err
	}
	res.BaseSeconds = time.Since(start).Seconds()
	if entries, err := backup.List(backups); err == nil && len(entries) > 0 {
		if fi, err := os.Stat(entries[0].Path); err == nil {
			res.BaseBytes = fi.Size()
		}
	}
	o.logf("pitr: base took %.1f s; writing %.0f messages/s for %s while the clock runs through %s", res.BaseSeconds, o.rate, o.real, o.day)
	clock.run()
	res.From = clock.now().Format(time.RFC3339)
	start = time.Now()
	every := time.Duration(float64(time.Second) / o.rate)
	body := "a message of the day, about as long as a line of chat usually is, with a few words more"
	for i := 0; time.Since(start) < o.real; i++ {
		if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
			time.Sleep(d)
		}
		if _, _, err := db.CreateMessage(ctx, 1, chat.Message{RoomID: 1, ClientID: fmt.Sprintf("pitr-%d", i),
			Body: body, HTML: "<p>" + body + "</p>", Plain: body}); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		res.Messages++
	}
	if err := rep.Close(ctx); err != nil {
		return err
	}
	res.GenSeconds = time.Since(start).Seconds()
	res.To = clock.now().Format(time.RFC3339)
	st := rep.Stats()
	res.Checkpoints = st.Checkpoints
	res.Segments, res.SegmentBytes = dirSize(filepath.Join(backups, "wal"))
	res.Segments-- // the chain's tip record
	o.logf("pitr: %d messages, %d segments, %.1f MiB, %d checkpoints, %s → %s", res.Messages, res.Segments,
		float64(res.SegmentBytes)/(1<<20), res.Checkpoints, res.From, res.To)
	return nil
}

// splitRestore does what backup.PreparePointInTime does, timing each step.
func splitRestore(ctx context.Context, backups string, at time.Time, target string) (split, error) {
	var sp split
	defer removeDB(target)
	t0 := time.Now()
	st := backup.DirStore(backups)
	entries, err := backup.List(backups)
	if err != nil {
		return sp, err
	}
	plan, err := backup.PlanPointInTime(ctx, st, entries, at)
	if err != nil {
		return sp, err
	}
	sp.Segments = len(plan.Segments)
	t1 := time.Now()
	var tRoll, tApplied, tRolled time.Time
	opts := backup.RestoreOptions{BackupDir: backups, Roll: func(ctx context.Context, path string) error {
		tRoll = time.Now()
		err := plan.Roll(ctx, st, nil, path, func(done, total int64) {
			if done == total {
				tApplied = time.Now()
			}
		})
		tRolled = time.Now()
		if tApplied.IsZero() {
			tApplied = tRoll
		}
		return err
	}}
	p, err := backup.PrepareRestore(ctx, plan.Base.Path, target, opts)
	if err != nil {
		return sp, err
	}
	t2 := time.Now()
	_ = p.Discard()
	sp.Plan = t1.Sub(t0).Seconds()
	sp.Base = tRoll.Sub(t1).Seconds()
	sp.Apply = tApplied.Sub(tRoll).Seconds()
	sp.Checksum = tRolled.Sub(tApplied).Seconds()
	sp.Checks = t2.Sub(tRolled).Seconds()
	sp.Total = t2.Sub(t0).Seconds()
	sp.Apply1k = ratio(sp.Apply*1e6, float64(sp.Segments))
	return sp, nil
}
