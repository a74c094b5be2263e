package sqldb_test

import (
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

// writer posts messages as fast as it can until stopped and records how
// long each post took and when it finished.
type writer struct {
	db     *sqldb.DB
	userID int64
	roomID int64
	pace   time.Duration

	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	posts []post
	err   error
}

type post struct {
	start, end time.Time
}

func startWriter(db *sqldb.DB, userID, roomID int64, pace time.Duration) *writer {
	w := &writer{db: db, userID: userID, roomID: roomID, pace: pace, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *writer) run() {
	defer close(w.done)
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return
		default:
		}
		start := time.Now()
		_, _, err := w.db.CreateMessage(ctx, w.userID, sqldbtest.NewMessage(w.roomID, fmt.Sprintf("concurrent message %d", i)))
		end := time.Now()
		w.mu.Lock()
		w.posts = append(w.posts, post{start, end})
		if err != nil && w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		if err != nil {
			return
		}
		if w.pace > 0 {
			time.Sleep(w.pace)
		}
	}
}

// Stop stops the writer and returns the first error it met.
func (w *writer) Stop() error {
	close(w.stop)
	<-w.done
	return w.err
}

// maxLatency is the longest post that overlapped [from, to].
func (w *writer) maxLatency(from, to time.Time) (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var longest time.Duration
	n := 0
	for _, p := range w.posts {
		if p.end.Before(from) || p.start.After(to) {
			continue
		}
		n++
		longest = max(longest, p.end.Sub(p.start))
	}
	return longest, n
}

func openSnapshot(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func integrityCheck(tb testing.TB, db *sql.DB) {
	tb.Helper()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		tb.Fatalf("integrity_check = %q, %v", res, err)
	}
}

func TestSnapshotTo_ConsistentUnderWrites(t *testing.T) {
	for _, method := range []sqldb.SnapshotMethod{sqldb.SnapshotBackupAPI, sqldb.SnapshotVacuumInto} {
		t.Run(string(method), func(t *testing.T) {
			db := sqldbtest.MustOpen(t)
			admin, room := sqldbtest.MustFirstRun(t, db)
			bob := sqldbtest.MustSignUp(t, db, "Bob")
			sqldbtest.MustCreateSession(t, db, bob.ID, "token")
			for i := range 300 {
				sqldbtest.MustPost(t, db, admin.ID, room.ID, fmt.Sprintf("before %d", i))
			}
			w := startWriter(db, bob.ID, room.ID, 0)
			time.Sleep(20 * time.Millisecond)
			dst := filepath.Join(t.TempDir(), "snap.db")
			info, err := db.SnapshotUsing(ctx, dst, method)
			time.Sleep(20 * time.Millisecond)
			if werr := w.Stop(); werr != nil {
				t.Fatalf("writer: %v", werr)
			}
			if err != nil {
				t.Fatalf("SnapshotUsing: %v", err)
			}
			if info.Method != method {
				t.Errorf("Method = %q, want %q", info.Method, method)
			}
			if info.SchemaVersion != sqldb.LatestSchemaVersion() {
				t.Errorf("SchemaVersion = %d, want %d", info.SchemaVersion, sqldb.LatestSchemaVersion())
			}
			if info.Position.SnapshotAt.IsZero() || info.Position.SnapshotAt.Location() != time.UTC {
				t.Errorf("SnapshotAt = %v, want a UTC time", info.Position.SnapshotAt)
			}
			fi, err := os.Stat(dst)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("snapshot mode = %v, want 0600", fi.Mode().Perm())
			}
			if info.Bytes != fi.Size() || info.PageCount*info.PageSize != fi.Size() {
				t.Errorf("Bytes = %d, PageCount*PageSize = %d, file = %d", info.Bytes, info.PageCount*info.PageSize, fi.Size())
			}

			snap := openSnapshot(t, dst)
			integrityCheck(t, snap)
			counts, err := sqldb.CountRows(ctx, snap)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(info.RowCounts, counts); diff != "" {
				t.Errorf("row counts of the snapshot differ from SnapshotInfo (-info +file):\n%s", diff)
			}
			// The writer only appends: the snapshot must hold exactly the
			// messages 1..MaxMessageID, a prefix of what the live database
			// holds now.
			var n, maxID int64
			if err := snap.QueryRow(`SELECT COUNT(*), COALESCE(MAX(id), 0) FROM messages`).Scan(&n, &maxID); err != nil {
				t.Fatal(err)
			}
			if maxID != info.Position.MaxMessageID || n != maxID {
				t.Errorf("snapshot has %d messages up to id %d; info says max id %d", n, maxID, info.Position.MaxMessageID)
			}
			var live int64
			if err := db.ReaderPool().QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&live); err != nil {
				t.Fatal(err)
			}
			if live <= n {
				t.Errorf("live database has %d messages, snapshot %d: the writer wrote nothing during the test", live, n)
			}
			// The search index is part of the snapshot and matches it.
			var indexed int64
			if err := snap.QueryRow(`SELECT COUNT(*) FROM message_search_index WHERE message_search_index MATCH 'concurrent OR before'`).Scan(&indexed); err != nil {
				t.Fatal(err)
			}
			if indexed != n {
				t.Errorf("search index has %d messages, table %d", indexed, n)
			}
			if _, err := db.SnapshotUsing(ctx, dst, method); err == nil {
				t.Error("a second snapshot onto an existing file succeeded")
			}
		})
	}
}

// TestSnapshotTo_NeverBlocksWriter proves at the lock level what the
// benchmark measures in milliseconds: while a snapshot runs, another
// connection with no busy timeout at all (any lock wait would fail it at
// once with SQLITE_BUSY) commits writes.
func TestSnapshotTo_NeverBlocksWriter(t *testing.T) {
	for _, method := range []sqldb.SnapshotMethod{sqldb.SnapshotBackupAPI, sqldb.SnapshotVacuumInto} {
		t.Run(string(method), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "campfire.db")
			db := sqldbtest.MustOpenFile(t, path, func(db *sqldb.DB) { db.AutoCheckpoint = false })
			admin, room := sqldbtest.MustFirstRun(t, db)
			// Ballast (cheap to write, even under the race detector) makes
			// the snapshot long enough for many commits to overlap it.
			if _, err := db.WriterPool().Exec(`CREATE TABLE ballast (b BLOB)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.WriterPool().Exec(`INSERT INTO ballast WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 64) SELECT randomblob(65536) FROM c`); err != nil {
				t.Fatal(err)
			}
			w, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(0)&_txlock=immediate&_pragma=wal_autocheckpoint(0)&_pragma=synchronous(OFF)")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.SetMaxOpenConns(1)
			done := make(chan error, 1)
			go func() {
				_, err := db.SnapshotUsing(ctx, filepath.Join(t.TempDir(), "snap.db"), method)
				done <- err
			}()
			commits := 0
			for running := true; running; {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
					running = false
					continue
				default:
				}
				tx, err := w.Begin()
				if err == nil {
					_, err = tx.Exec(`INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, created_at, updated_at)
						VALUES (?, ?, ?, 'x', 'x', 'x', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`, room.ID, admin.ID, fmt.Sprint("nb-", commits))
					if err == nil {
						err = tx.Commit()
					} else {
						tx.Rollback()
					}
				}
				if err != nil {
					t.Fatalf("a write during the snapshot failed without waiting: %v", err)
				}
				commits++
			}
			if commits < 2 {
				t.Errorf("only %d commits overlapped the snapshot", commits)
			}
			t.Logf("%d commits with busy_timeout(0) during the snapshot", commits)
		})
	}
}

func sha256File(tb testing.TB, path string) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestSnapshotFile_LeavesSourceUntouched(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "campfire.db")
	db := sqldb.New(src)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	admin, room := sqldbtest.MustFirstRun(t, db)
	for i := range 50 {
		sqldbtest.MustPost(t, db, admin.ID, room.ID, fmt.Sprintf("m%d", i))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := sha256File(t, src)
	dst := filepath.Join(dir, "copy.db")
	info, err := sqldb.SnapshotFile(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256File(t, src); got != before {
		t.Error("SnapshotFile changed the source file")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(src + suffix); err == nil && fi.Size() > 0 && suffix == "-wal" {
			t.Errorf("SnapshotFile left a non-empty %s", suffix)
		}
	}
	if info.RowCounts["messages"] != 50 || info.RowCounts["users"] != 1 || info.Position.MaxMessageID != 50 {
		t.Errorf("info = %+v", info)
	}
	integrityCheck(t, openSnapshot(t, dst))

	if _, err := sqldb.SnapshotFile(ctx, filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db")); err == nil {
		t.Error("SnapshotFile of a missing file succeeded")
	} else if _, serr := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(serr, os.ErrNotExist) {
		t.Error("SnapshotFile created the missing source")
	}
}

func TestSchemaSnapshotTo(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, room := sqldbtest.MustFirstRun(t, db)
	sqldbtest.MustPost(t, db, admin.ID, room.ID, "secret data that must not be in a schema backup")
	dst := filepath.Join(t.TempDir(), "schema.db")
	s, err := db.SchemaSnapshotTo(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if s.SchemaVersion != sqldb.LatestSchemaVersion() || len(s.Migrations) != sqldb.LatestSchemaVersion() {
		t.Errorf("SchemaVersion = %d with %d migrations, want %d", s.SchemaVersion, len(s.Migrations), sqldb.LatestSchemaVersion())
	}
	if strings.Contains(s.SQL, "secret data") {
		t.Error("schema SQL holds row data")
	}
	for _, want := range []string{"CREATE TABLE users", "CREATE VIRTUAL TABLE message_search_index", "CREATE TRIGGER messages_search_insert", "CREATE INDEX messages_room_id_id", "INSERT INTO schema_migrations"} {
		if !strings.Contains(s.SQL, want) {
			t.Errorf("schema SQL lacks %q", want)
		}
	}
	for _, shadow := range []string{"message_search_index_data", "sqlite_sequence"} {
		if strings.Contains(s.SQL, "CREATE TABLE "+shadow) || strings.Contains(s.SQL, "CREATE TABLE '"+shadow) {
			t.Errorf("schema SQL creates %s, which SQLite recreates itself", shadow)
		}
	}

	compare := func(t *testing.T, path string) {
		t.Helper()
		out := openSnapshot(t, path)
		integrityCheck(t, out)
		live, copied := schemaOf(t, db.ReaderPool()), schemaOf(t, out)
		if diff := cmp.Diff(live, copied); diff != "" {
			t.Errorf("schema differs from the live database (-live +copy):\n%s", diff)
		}
		counts, err := sqldb.CountRows(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range counts {
			if n != 0 {
				t.Errorf("%s has %d rows in the schema snapshot", table, n)
			}
		}
		var migrations int
		if err := out.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&migrations); err != nil || migrations != len(s.Migrations) {
			t.Errorf("schema_migrations rows = %d, %v; want %d", migrations, err, len(s.Migrations))
		}
	}
	compare(t, dst)

	// The snapshot is a working database: open it with sqldb (nothing to
	// migrate) and use it, search index included.
	work := filepath.Join(t.TempDir(), "work.db")
	copyFile(t, dst, work)
	wdb := sqldbtest.MustOpenFile(t, work, nil)
	wadmin, wroom := sqldbtest.MustFirstRun(t, wdb)
	sqldbtest.MustPost(t, wdb, wadmin.ID, wroom.ID, "hello schema")
	if res, err := wdb.SearchMessages(ctx, wadmin.ID, "schema"); err != nil || len(res) != 1 {
		t.Errorf("search in a database built from the schema snapshot = %v, %v", res, err)
	}

	// The .sql text builds the same schema in the sqlite3 shell.
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CAMPFIRE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("sqlite3 not found (Debian package sqlite3)")
		}
		t.Skip("sqlite3 not found; install the Debian package sqlite3")
	}
	fromText := filepath.Join(t.TempDir(), "from-text.db")
	cmd := exec.Command(sqlite3, fromText)
	cmd.Stdin = strings.NewReader(s.SQL)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 < schema.sql: %v\n%s", err, out)
	}
	compare(t, fromText)
}

type schemaRow struct{ Type, Name, SQL string }

func schemaOf(tb testing.TB, db *sql.DB) []schemaRow {
	tb.Helper()
	rows, err := db.Query(`SELECT type, name, COALESCE(sql, '') FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []schemaRow
	for rows.Next() {
		var r schemaRow
		if err := rows.Scan(&r.Type, &r.Name, &r.SQL); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// fill grows the database to at least mb MiB with chat-like messages,
// written in large transactions straight through the writer pool.
func fill(tb testing.TB, db *sqldb.DB, userID, roomID int64, mb int) {
	tb.Helper()
	w := db.WriterPool()
	if _, err := w.Exec(`CREATE TEMP TABLE IF NOT EXISTS vocab (id INTEGER PRIMARY KEY, w TEXT)`); err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Exec(`INSERT OR IGNORE INTO vocab (id, w)
		WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 1999)
		SELECT i, lower(hex(randomblob(2 + i % 5))) FROM c`); err != nil {
		tb.Fatal(err)
	}
	// The c.i term makes the subquery correlated, so SQLite draws new
	// words for every row instead of once per statement.
	word := `(SELECT w FROM vocab WHERE id = (c.i * 0 + abs(random())) % 2000)`
	body := strings.Repeat(word+" || ' ' || ", 11) + word
	insert := `INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, created_at, updated_at)
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?),
		b(i, t) AS (SELECT i, ` + body + ` FROM c)
		SELECT ?, ?, 'fill-' || ? || '-' || i, t, '<p>' || t || '</p>', t, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z' FROM b`
	for batch := 0; ; batch++ {
		var pages, size int64
		if err := w.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
			tb.Fatal(err)
		}
		if err := w.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
			tb.Fatal(err)
		}
		if pages*size >= int64(mb)<<20 {
			break
		}
		// About 1,000 rows per MiB asked for, at most 20,000 per batch.
		if _, err := w.Exec(insert, min(20000, 1000*mb), roomID, userID, strconv.Itoa(batch)); err != nil {
			tb.Fatal(err)
		}
		if _, err := db.Checkpoint(ctx, sqldb.CheckpointTruncate); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkSnapshotUnderWrites measures both snapshot methods on a database
// of CAMPFIRE_BENCH_DB_MB MiB (default 64) while another goroutine posts a
// message every 5 ms (about 200 writes/s, as in reference/dependencies.md).
// Before each snapshot it watches a quiet window of the same length, so a
// noisy machine shows up in the control figures too. It reports, over all
// iterations, the longest post that overlapped a snapshot (max-stall-ms)
// and the 99th percentile of those posts (p99-ms), with the same figures
// for the quiet windows (control-max-ms, control-p99-ms). The checkpoint
// loop is off, as when the backup engine owns checkpoints; the WAL is
// checkpointed between iterations.
//
//	CAMPFIRE_BENCH_DB_MB=200 go test -run '^$' -bench SnapshotUnderWrites -benchtime 10x ./internal/sqldb/
func BenchmarkSnapshotUnderWrites(b *testing.B) {
	mb := 64
	if s := os.Getenv("CAMPFIRE_BENCH_DB_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil {
			b.Fatalf("CAMPFIRE_BENCH_DB_MB: %v", err)
		}
	}
	db := sqldbtest.MustOpenFile(b, filepath.Join(b.TempDir(), "bench.db"), func(db *sqldb.DB) { db.AutoCheckpoint = false })
	admin, room := sqldbtest.MustFirstRun(b, db)
	fill(b, db, admin.ID, room.ID, mb)
	for _, method := range []sqldb.SnapshotMethod{sqldb.SnapshotBackupAPI, sqldb.SnapshotVacuumInto} {
		b.Run(string(method), func(b *testing.B) {
			dir := b.TempDir()
			w := startWriter(db, admin.ID, room.ID, 5*time.Millisecond)
			var during, quiet []time.Duration
			var longest time.Duration
			var bytes int64
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				if _, err := db.Checkpoint(ctx, sqldb.CheckpointTruncate); err != nil {
					b.Fatal(err)
				}
				qStart := time.Now()
				time.Sleep(max(longest, 300*time.Millisecond))
				quiet = append(quiet, w.latencies(qStart, time.Now())...)
				b.StartTimer()
				dst := filepath.Join(dir, fmt.Sprintf("snap-%d.db", i))
				start := time.Now()
				info, err := db.SnapshotUsing(ctx, dst, method)
				end := time.Now()
				if err != nil {
					b.Fatal(err)
				}
				bytes = info.Bytes
				longest = max(longest, end.Sub(start))
				during = append(during, w.latencies(start, end)...)
				b.StopTimer()
				os.Remove(dst)
				b.StartTimer()
			}
			b.StopTimer()
			if err := w.Stop(); err != nil {
				b.Fatal(err)
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.SetBytes(bytes)
			b.ReportMetric(ms(percentile(during, 100)), "max-stall-ms")
			b.ReportMetric(ms(percentile(during, 99)), "p99-ms")
			b.ReportMetric(ms(percentile(quiet, 100)), "control-max-ms")
			b.ReportMetric(ms(percentile(quiet, 99)), "control-p99-ms")
			b.ReportMetric(float64(longest.Milliseconds()), "longest-snapshot-ms")
		})
	}
}

// latencies are the durations of the posts that overlapped [from, to].
func (w *writer) latencies(from, to time.Time) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, p := range w.posts {
		if p.end.Before(from) || p.start.After(to) {
			continue
		}
		out = append(out, p.end.Sub(p.start))
	}
	return out
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
