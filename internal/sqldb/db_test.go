package sqldb_test

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

func TestOpen(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "dir", "campfire.db")
		db := sqldbtest.MustOpenFile(t, path, nil)
		admin, room := sqldbtest.MustFirstRun(t, db)
		sqldbtest.MustPost(t, db, admin.ID, room.ID, "hello") // so the WAL has content

		if db.Path != path {
			t.Errorf("Path = %q, want %q", db.Path, path)
		}
		// The -wal and -shm files hold the same data as the database.
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("mode of %s = %v, want -rw-------", filepath.Base(p), got)
			}
		}
		fi, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("mode of the created directory = %v, want drwx------", got)
		}
	})

	t.Run("OKExistingFileModeRestricted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "campfire.db")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
		sqldbtest.MustOpenFile(t, path, nil)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode = %v, want -rw-------", got)
		}
	})

	t.Run("ErrNoPath", func(t *testing.T) {
		err := sqldb.New("").Open(ctx)
		wantCode(t, err, chat.EINVALID)
	})

	t.Run("ErrNotADatabase", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "campfire.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("this is not a database ", 100)), 0o600); err != nil {
			t.Fatal(err)
		}
		db := sqldb.New(path)
		if err := db.Open(ctx); err == nil {
			db.Close()
			t.Fatal("Open of a text file succeeded")
		}
	})
}

// TestOpen_Pragmas checks the per-connection settings on every connection of
// both pools: a PRAGMA run once reaches only one pooled connection.
func TestOpen_Pragmas(t *testing.T) {
	db := sqldbtest.MustOpen(t)

	check := func(t *testing.T, conn *sql.Conn, pragma string, want string) {
		t.Helper()
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}

	t.Run("OKReader", func(t *testing.T) {
		pool := db.ReaderPool()
		n := pool.Stats().MaxOpenConnections
		if n < 2 {
			t.Fatalf("reader pool allows %d connections, want several", n)
		}
		// Holding n connections at once forces the pool to open n distinct ones.
		conns := make([]*sql.Conn, n)
		for i := range conns {
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		if got := pool.Stats().OpenConnections; got != n {
			t.Fatalf("open reader connections = %d, want %d", got, n)
		}
		for i, c := range conns {
			t.Logf("connection %d", i)
			check(t, c, "foreign_keys", "1")
			check(t, c, "journal_mode", "wal")
			check(t, c, "query_only", "1")
			check(t, c, "busy_timeout", "5000")
			// Each is in its own read transaction, as concurrent readers are.
			tx, err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var count int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&count); err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
		}
		if _, err := conns[0].ExecContext(ctx, `CREATE TABLE forbidden (x)`); err == nil {
			t.Error("a reader connection could write")
		}
	})

	t.Run("OKWriter", func(t *testing.T) {
		pool := db.WriterPool()
		if got := pool.Stats().MaxOpenConnections; got != 1 {
			t.Errorf("writer pool allows %d connections, want 1", got)
		}
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		check(t, c, "foreign_keys", "1")
		check(t, c, "journal_mode", "wal")
		check(t, c, "query_only", "0")
		check(t, c, "synchronous", "2") // FULL
		check(t, c, "wal_autocheckpoint", "0")
		// Foreign keys are enforced, not just switched on.
		_, err = c.ExecContext(ctx, `INSERT INTO sessions (user_id, token_hash, created_at, last_active_at) VALUES (424242, 'x', '', '')`)
		if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("insert with a dangling user_id: err = %v, want a FOREIGN KEY failure", err)
		}
	})
}

func TestMigrate(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := sqldbtest.MustOpen(t)
		latest := sqldb.LatestSchemaVersion()
		if latest < 1 {
			t.Fatalf("LatestSchemaVersion() = %d, want >= 1", latest)
		}
		got := queryInt64s(t, db.ReaderPool(), `SELECT version FROM schema_migrations ORDER BY version`)
		if len(got) != latest || got[0] != 1 || got[len(got)-1] != int64(latest) {
			t.Errorf("schema_migrations versions = %v, want 1..%d", got, latest)
		}
		ms, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "0001_initial" || ms[0].AppliedAt == nil || ms[0].AppliedAt.IsZero() {
			t.Fatalf("MigrationStatus()[0] = %+v, want 0001_initial applied", ms[0])
		}
		for _, m := range ms {
			if m.AppliedAt == nil {
				t.Errorf("migration %s is pending after Open", m.Name)
			}
			if m.SQL == "" {
				t.Errorf("migration %s has no SQL", m.Name)
			}
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != latest {
			t.Errorf("SchemaVersion() = %d, %v, want %d", v, err, latest)
		}
	})

	t.Run("OKReopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "campfire.db")
		db := sqldbtest.MustOpenFile(t, path, nil)
		admin, room := sqldbtest.MustFirstRun(t, db)
		sqldbtest.MustPost(t, db, admin.ID, room.ID, "survives a restart")
		before, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			db := sqldbtest.MustOpenFile(t, path, nil)
			after, err := db.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) || !after[0].AppliedAt.Equal(*before[0].AppliedAt) {
				t.Errorf("MigrationStatus changed on re-open: %+v, was %+v", after, before)
			}
			if n := mustCount(t, db, `SELECT COUNT(*) FROM schema_migrations`); n != len(before) {
				t.Errorf("schema_migrations has %d rows, want %d", n, len(before))
			}
			msgs, err := db.FindMessages(ctx, admin.ID, room.ID, chat.Page{})
			if err != nil || len(msgs) != 1 || msgs[0].Body != "survives a restart" {
				t.Fatalf("FindMessages after re-open = %v, %v", messageBodies(msgs), err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("OKConcurrentOpen", func(t *testing.T) {
		// Two processes starting on a fresh file must not both apply 0001.
		path := filepath.Join(t.TempDir(), "campfire.db")
		const n = 4
		dbs := make([]*sqldb.DB, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			dbs[i] = sqldb.New(path)
			dbs[i].Logger = discardLogger()
			wg.Go(func() { errs[i] = dbs[i].Open(ctx) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open #%d: %v", i, errs[i])
				continue
			}
			defer dbs[i].Close()
		}
		if t.Failed() {
			return
		}
		if n := mustCount(t, dbs[0], `SELECT COUNT(*) FROM schema_migrations`); n != sqldb.LatestSchemaVersion() {
			t.Errorf("schema_migrations has %d rows, want %d", n, sqldb.LatestSchemaVersion())
		}
	})

	t.Run("ErrNewerSchema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "campfire.db")
		db := sqldbtest.MustOpenFile(t, path, nil)
		future := sqldb.LatestSchemaVersion() + 1
		if _, err := db.WriterPool().ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
			VALUES (?, 'from_the_future', '2099-01-01T00:00:00.000000Z')`, future); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		db2 := sqldb.New(path)
		db2.Logger = discardLogger()
		err := db2.Open(ctx)
		if err == nil {
			db2.Close()
			t.Fatal("Open of a database from a newer version succeeded")
		}
		for _, want := range []string{"newer", "upgrade"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Open error %q does not mention %q", err, want)
			}
		}
		// The refused Open left nothing open or locked: once the row is gone
		// the database opens again.
		fix, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fix.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = ?`, future); err != nil {
			t.Fatal(err)
		}
		fix.Close()
		sqldbtest.MustOpenFile(t, path, nil)
	})
}

func TestClose(t *testing.T) {
	t.Run("OKCheckpoints", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "campfire.db")
		db := sqldbtest.MustOpenFile(t, path, func(db *sqldb.DB) { db.AutoCheckpoint = false })
		admin, room := sqldbtest.MustFirstRun(t, db)
		for i := range 20 {
			sqldbtest.MustPost(t, db, admin.ID, room.ID, strings.Repeat("x", 1000)+string(rune('a'+i)))
		}
		if db.WALSize() == 0 {
			t.Fatal("WAL is empty after writes")
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		fi, err := os.Stat(path + "-wal")
		if err == nil && fi.Size() != 0 {
			t.Errorf("-wal is %d bytes after Close, want absent or empty", fi.Size())
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		// Everything is in the main file: a plain read-only open sees it.
		ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		var n int
		if err := ro.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`).Scan(&n); err != nil || n != 20 {
			t.Errorf("messages in the closed file = %d, %v, want 20", n, err)
		}
	})
}
