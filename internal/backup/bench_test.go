package backup_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

// Benchmarks of the whole pipeline on a generated chat database of
// CAMPFIRE_BENCH_DB_MB MiB (default 64):
//
//	CAMPFIRE_BENCH_DB_MB=1024 go test -run '^$' -bench . -benchtime 3x ./internal/backup/
//
// MB/s is database bytes per second. The backup benchmarks run a writer
// posting a message every 5 ms meanwhile and report the longest post
// (max-stall-ms), with the longest post of a quiet second before as
// baseline-ms.

func benchMB(b *testing.B) int {
	mb := 64
	if s := os.Getenv("CAMPFIRE_BENCH_DB_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("CAMPFIRE_BENCH_DB_MB=%q: want a positive number", s)
		}
	}
	return mb
}

func benchFixture(b *testing.B) *fixture {
	b.Helper()
	f := newFixture(b)
	fill(b, f.path, f.admin.ID, f.room.ID, benchMB(b))
	return f
}

// paced posts a message every 5 ms until stopped and records the longest
// post in each window.
type paced struct {
	f    *fixture
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	log  [][2]time.Time
}

func startPaced(f *fixture) *paced {
	p := &paced{f: f, stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			start := time.Now()
			if _, _, err := f.db.CreateMessage(ctx, f.bob.ID, sqldbtest.NewMessage(f.room.ID, fmt.Sprintf("bench %d", i))); err != nil {
				return
			}
			p.mu.Lock()
			p.log = append(p.log, [2]time.Time{start, time.Now()})
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *paced) longest(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var m time.Duration
	for _, x := range p.log {
		if x[1].Before(from) || x[0].After(to) {
			continue
		}
		m = max(m, x[1].Sub(x[0]))
	}
	return m
}

func (p *paced) Stop() { close(p.stop); p.wg.Wait() }

func benchBackup(b *testing.B, comp backup.Compression, encrypt bool) {
	f := benchFixture(b)
	e := f.engine(b)
	req := backup.Request{Type: backup.TypeFull, Compression: comp}
	if encrypt {
		id, _ := ageKey(b)
		req.Recipients = []string{id.Recipient().String()}
	}
	w := startPaced(f)
	defer w.Stop()
	quiet := time.Now()
	time.Sleep(time.Second)
	baseline := w.longest(quiet, time.Now())
	var stall, snap time.Duration
	var dbBytes, stored int64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res, err := e.Backup(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		stall = max(stall, w.longest(start, time.Now()))
		snap = max(snap, res.Snapshot)
		dbBytes, stored = res.Manifest.DatabaseBytes, res.Manifest.StoredBytes
		b.StopTimer()
		os.Remove(res.Path)
		os.Remove(res.ManifestPath)
		b.StartTimer()
	}
	b.StopTimer()
	b.SetBytes(dbBytes)
	b.ReportMetric(float64(dbBytes)/float64(stored), "ratio")
	b.ReportMetric(float64(snap.Milliseconds()), "snapshot-ms")
	b.ReportMetric(float64(stall.Microseconds())/1000, "max-stall-ms")
	b.ReportMetric(float64(baseline.Microseconds())/1000, "baseline-ms")
}

func BenchmarkBackupZstd(b *testing.B)    { benchBackup(b, backup.CompressionZstd, false) }
func BenchmarkBackupGzip(b *testing.B)    { benchBackup(b, backup.CompressionGzip, false) }
func BenchmarkBackupZstdAge(b *testing.B) { benchBackup(b, backup.CompressionZstd, true) }

func BenchmarkVerify(b *testing.B) {
	f := benchFixture(b)
	res := mustBackup(b, f.engine(b), backup.Request{Type: backup.TypeFull})
	b.SetBytes(res.Manifest.DatabaseBytes)
	b.ResetTimer()
	for range b.N {
		if _, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRestore(b *testing.B) {
	f := benchFixture(b)
	e := f.engine(b)
	res := mustBackup(b, e, backup.Request{Type: backup.TypeFull})
	f.db.Close()
	target := filepath.Join(b.TempDir(), "restored.db")
	b.SetBytes(res.Manifest.DatabaseBytes)
	b.ResetTimer()
	for range b.N {
		plan, err := backup.PrepareRestore(ctx, res.Path, target, backup.RestoreOptions{BackupDir: e.Dir})
		if err != nil {
			b.Fatal(err)
		}
		out, err := plan.Apply(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if out.Safety != nil { // from the second round on: a copy of the previous restore
			os.Remove(out.Safety.Path)
			os.Remove(out.Safety.ManifestPath)
		}
		b.StartTimer()
	}
}
