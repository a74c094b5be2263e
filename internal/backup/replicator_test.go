package backup_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/remote"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

// replicated is a live database with continuous backup into dir.
type replicated struct {
	db   *sqldb.DB
	rep  *backup.Replicator
	dir  string
	user *chat.User
	room *chat.Room
}

func newReplicated(tb testing.TB, checkpointPages int64) *replicated {
	tb.Helper()
	return newReplicatedWith(tb, func(rep *backup.Replicator, _ *backup.Engine) {
		rep.CheckpointPages = checkpointPages
		rep.Logger = slog.New(slog.NewTextHandler(testWriter{tb}, nil))
	})
}

// newReplicatedWith is newReplicated with the replicator and its engine
// adjusted by configure before they start.
func newReplicatedWith(tb testing.TB, configure func(*backup.Replicator, *backup.Engine)) *replicated {
	tb.Helper()
	root := tb.TempDir()
	r := &replicated{dir: filepath.Join(root, "backups")}
	r.rep = &backup.Replicator{ShipDelay: 5 * time.Millisecond}
	r.db = sqldbtest.MustOpenFile(tb, filepath.Join(root, "data", "campfire.db"), func(db *sqldb.DB) {
		db.AutoCheckpoint = false
		db.OnCommit = r.rep.Notify
	})
	r.user, r.room = sqldbtest.MustFirstRun(tb, r.db)
	r.rep.DB = r.db
	r.rep.Engine = &backup.Engine{Dir: r.dir, Host: "test", AppVersion: "test"}
	configure(r.rep, r.rep.Engine)
	if err := r.rep.Start(ctx); err != nil {
		tb.Fatalf("start replicator: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.rep.Close(ctx); err != nil {
			tb.Errorf("close replicator: %v", err)
		}
	})
	return r
}

func (r *replicated) post(tb testing.TB, body string) *chat.Message {
	tb.Helper()
	return sqldbtest.MustPost(tb, r.db, r.user.ID, r.room.ID, body)
}

// restoreTo restores the chain to target (zero: latest) into a new file
// and returns its path.
func (r *replicated) restoreTo(tb testing.TB, target time.Time) (string, *backup.PITRPlan, error) {
	tb.Helper()
	entries, err := backup.List(r.dir)
	if err != nil {
		tb.Fatal(err)
	}
	st := backup.DirStore(r.dir)
	plan, err := backup.PlanPointInTime(ctx, st, entries, target)
	if err != nil {
		return "", nil, err
	}
	out := filepath.Join(tb.TempDir(), "restored.db")
	p, err := backup.PrepareRestore(ctx, plan.Base.Path, out, backup.RestoreOptions{
		BackupDir: tb.TempDir(),
		Roll: func(_ context.Context, path string) error {
			return plan.Roll(ctx, st, nil, path, nil)
		},
	})
	if err != nil {
		return "", plan, err
	}
	if _, err := p.Apply(ctx); err != nil {
		tb.Fatalf("apply: %v", err)
	}
	return out, plan, nil
}

// bodies returns every message body of the database file at path, in id
// order.
func bodies(tb testing.TB, path string) []string {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT body FROM messages ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestReplicator_RestoreLatestEqualsSource(t *testing.T) {
	r := newReplicated(t, 40) // small: many checkpoints and WAL restarts
	var want []string
	for i := range 400 {
		m := r.post(t, fmt.Sprintf("message %d %s", i, strings.Repeat("x", i%300)))
		want = append(want, m.Body)
		if i%50 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := r.rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.rep.Stats()
	if st.Segments < 2 || st.Checkpoints < 2 {
		t.Fatalf("stats %+v: want several segments and checkpoints", st)
	}
	if st.Errors != 0 {
		t.Fatalf("replication errors: %+v", st)
	}
	out, plan, err := r.restoreTo(t, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v; plan: base seq %d, %d segments to seq %d", st, plan.Base.Manifest.Chain.Seq, len(plan.Segments), plan.Seq)
	if len(plan.Segments) == 0 {
		t.Fatal("plan used no segments")
	}
	got := bodies(t, out)
	if len(got) != len(want) || got[len(got)-1] != want[len(want)-1] {
		t.Fatalf("restored %d messages (last %q), want %d (last %q)", len(got), last(got), len(want), want[len(want)-1])
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// testWriter sends log lines to the test's log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// rawConn opens a connection of "another process" to the database file:
// not one of the server's, so nothing tells the replicator what it does.
func rawConn(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestReplicator_ExternalCheckpointsStartANewChain(t *testing.T) {
	r := newReplicated(t, 1000)
	ext := rawConn(t, r.db.Path)
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := ext.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err == nil {
				n++
			}
		}
	}()
	var want []string
	for i := range 300 {
		want = append(want, r.post(t, fmt.Sprintf("message %d", i)).Body)
		if i%10 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(stop)
	checkpoints := <-done
	if _, err := r.rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	out, plan, err := r.restoreTo(t, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := bodies(t, out)
	if !slices.Equal(got, want) {
		t.Fatalf("restored %d messages, want %d (last %q, want %q)", len(got), len(want), last(got), last(want))
	}
	chains := map[string]bool{}
	entries, _ := backup.List(r.dir)
	for _, e := range entries {
		if e.Manifest != nil && e.Manifest.Chain != nil {
			chains[e.Manifest.Chain.Chain] = true
		}
	}
	t.Logf("%d external checkpoints, %d chains, restored from %s + %d segments", checkpoints, len(chains), plan.Base.Name, len(plan.Segments))
	if checkpoints > 0 && len(chains) < 2 {
		t.Errorf("%d external checkpoints went unnoticed: one chain", checkpoints)
	}
}

func TestReplicator_LongReaderKeepsWritersMovingAndWALBounded(t *testing.T) {
	r := newReplicated(t, 200)
	reader := rawConn(t, r.db.Path)
	tx, err := reader.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	var want []string
	var slowest time.Duration
	post := func(i int) {
		start := time.Now()
		want = append(want, r.post(t, fmt.Sprintf("message %d %s", i, strings.Repeat("y", 500))).Body)
		slowest = max(slowest, time.Since(start))
	}
	for i := range 1500 { // far past the checkpoint threshold, with the WAL pinned
		post(i)
	}
	pinned := r.db.WALSize()
	tx.Rollback()
	for i := 1500; i < 1800; i++ {
		post(i)
		if i%20 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := r.rep.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	after := r.db.WALSize()
	st := r.rep.Stats()
	t.Logf("WAL %d KiB while pinned, %d KiB after; slowest write %s; longest writer stall for a checkpoint %s; %d checkpoints", pinned>>10, after>>10, slowest, st.MaxStall, st.Checkpoints)
	if after >= pinned/2 {
		t.Errorf("the WAL did not shrink once the reader ended: %d → %d bytes", pinned, after)
	}
	// The budget is 50 ms; a loaded test machine gets slack.
	if st.MaxStall > 250*time.Millisecond*raceSlowdown {
		t.Errorf("a checkpoint held the writers for %s", st.MaxStall)
	}
	out, _, err := r.restoreTo(t, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bodies(t, out); len(got) != len(want) {
		t.Fatalf("restored %d messages, want %d", len(got), len(want))
	}
}

func TestReplicator_Drill(t *testing.T) {
	r := newReplicated(t, 50)
	for i := range 200 {
		r.post(t, fmt.Sprintf("message %d", i))
	}
	rep, err := r.rep.Drill(ctx, nil)
	if err != nil || !rep.OK {
		t.Fatalf("drill: %+v, %v", rep, err)
	}
	if rep.Segments == 0 || len(rep.Checks) != 5 {
		t.Errorf("drill report %+v", rep)
	}
	// A damaged segment fails the drill, by name.
	segs, _ := filepath.Glob(filepath.Join(r.dir, "wal", "*", "0", "*.seg.zst"))
	slices.Sort(segs)
	data, _ := os.ReadFile(segs[1])
	data[len(data)-3] ^= 1
	os.WriteFile(segs[1], data, 0o600)
	rep, err = r.rep.Drill(ctx, nil)
	if err == nil || rep == nil || rep.OK || !strings.Contains(err.Error(), filepath.Base(segs[1])) {
		t.Fatalf("drill with a damaged segment: %+v, %v", rep, err)
	}
}

func TestReplicator_Offsite(t *testing.T) {
	dest := t.TempDir()
	st, err := remote.Open(ctx, "file://"+dest)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := newReplicatedWith(t, func(rep *backup.Replicator, _ *backup.Engine) {
		rep.ShipDelay, rep.Remote, rep.RemoteDelay = 2*time.Millisecond, st, 20*time.Millisecond
	})
	var want []string
	for i := range 200 {
		want = append(want, r.post(t, fmt.Sprintf("message %d", i)).Body)
		if i%20 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := r.rep.Close(ctx); err != nil { // flushes off site
		t.Fatal(err)
	}
	off, _, _ := r.rep.Offsite()
	if off.Pending != 0 || off.Errors != 0 || off.Uploads == 0 {
		t.Fatalf("off site: %+v", off)
	}
	out := filepath.Join(t.TempDir(), "restored.db")
	p, err := backup.PrepareRemotePointInTime(ctx, st, time.Time{}, out, backup.RestoreOptions{BackupDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if got := bodies(t, out); !slices.Equal(got, want) {
		t.Fatalf("restored from the remote alone: %d messages, want %d", len(got), len(want))
	}
	t.Logf("%d uploads for %d segments", off.Uploads, r.rep.Stats().Segments)
}
