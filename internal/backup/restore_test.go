package backup_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

// messageCount counts the messages in a database file (and closes it).
func messageCount(tb testing.TB, path string) int64 {
	tb.Helper()
	db := openPlain(tb, path)
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&n); err != nil {
		tb.Fatalf("count messages in %s: %v", path, err)
	}
	return n
}

func TestRestore(t *testing.T) {
	f := newFixture(t)
	pub, priv, _ := pgpKey(t, "ops@example.com", "s3cret")
	e := f.engine(t)
	res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Recipients: []string{pub}})
	f.post(t, 25, "after the backup")
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	ids := identities(t, "s3cret", priv)

	// A dry run: a plan, nothing changed.
	before := sha256File(t, f.path)
	plan, err := backup.PrepareRestore(ctx, res.Path, f.path, backup.RestoreOptions{Identities: ids, BackupDir: e.Dir, Host: "test-host"})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.TargetExists || plan.SchemaFrom != sqldb.LatestSchemaVersion() || plan.SchemaTo != sqldb.LatestSchemaVersion() ||
		plan.RowCounts["messages"] != 40 || plan.Manifest == nil || !plan.Report.OK || filepath.Dir(plan.Ready) != filepath.Dir(f.path) {
		t.Errorf("plan = %+v", plan)
	}
	if err := plan.Discard(); err != nil {
		t.Fatal(err)
	}
	if sha256File(t, f.path) != before {
		t.Error("a dry run changed the database")
	}
	if des, _ := os.ReadDir(filepath.Dir(f.path)); len(des) != 1 {
		t.Errorf("a dry run left files: %v", des)
	}

	// The real thing.
	plan, err = backup.PrepareRestore(ctx, res.Path, f.path, backup.RestoreOptions{Identities: ids, BackupDir: e.Dir, Host: "test-host"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := plan.Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"-wal", "-shm", ".restore-ready"} {
		if _, err := os.Stat(f.path + s); err == nil {
			t.Errorf("%s left beside the restored database", s)
		}
	}
	if got := messageCount(t, f.path); got != 40 {
		t.Errorf("restored database has %d messages, want 40", got)
	}
	fi, _ := os.Stat(f.path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("restored database mode %v", fi.Mode().Perm())
	}
	// The safety copy holds the replaced database and restores it.
	if out.Safety == nil || !contractRE.MatchString(filepath.Base(out.Safety.Path)) || out.Safety.Manifest.Type != backup.TypeSafety {
		t.Fatalf("safety copy = %+v", out.Safety)
	}
	if fi, _ := os.Stat(out.Safety.Path); fi.Mode().Perm() != 0o600 {
		t.Errorf("safety copy mode %v", fi.Mode().Perm())
	}
	if got := messageCount(t, out.Safety.Path); got != 65 {
		t.Errorf("safety copy has %d messages, want 65", got)
	}
	// The restored database works with sqldb.
	db := sqldbtest.MustOpenFile(t, f.path, nil)
	sqldbtest.MustPost(t, db, f.admin.ID, f.room.ID, "after the restore")
	db.Close()

	// Undo: restore the safety copy.
	plan, err = backup.PrepareRestore(ctx, out.Safety.Path, f.path, backup.RestoreOptions{BackupDir: e.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if got := messageCount(t, f.path); got != 65 {
		t.Errorf("after undo: %d messages, want 65", got)
	}

	// latest is the newest full or hot backup, never a safety copy.
	list, err := backup.List(e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	latest, ok := backup.Latest(list)
	if !ok || latest.Path != res.Path {
		t.Errorf("Latest = %+v, want %s", latest, res.Path)
	}
}

func TestRestore_NewDatabase(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t)
	res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Compression: backup.CompressionGzip})
	target := filepath.Join(t.TempDir(), "fresh", "campfire.db")
	plan, err := backup.PrepareRestore(ctx, res.Path, target, backup.RestoreOptions{BackupDir: e.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if plan.TargetExists {
		t.Error("TargetExists for a missing target")
	}
	out, err := plan.Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Safety != nil || out.SafetyRaw != "" {
		t.Errorf("a safety copy of nothing: %+v", out)
	}
	if got := messageCount(t, target); got != 40 {
		t.Errorf("%d messages", got)
	}
}

// TestRestore_Refused: each refusal leaves the live database byte for byte
// as it was.
func TestRestore_Refused(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t)
	id, idFile := ageKey(t)
	_, otherFile := ageKey(t)
	good := mustBackup(t, e, backup.Request{Type: backup.TypeFull})
	encrypted := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Recipients: []string{id.Recipient().String()}, Output: "enc.db.zst.age"})

	// A backup from a newer binary: a schema_migrations row from the
	// future, taken from the file so nothing refuses it on the way in.
	futureDB := filepath.Join(t.TempDir(), "future.db")
	copyFile(t, f.path, futureDB)
	for _, s := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(f.path + s); err == nil {
			copyFile(t, f.path+s, futureDB+s)
		}
	}
	raw, err := sql.Open("sqlite", "file:"+(&url.URL{Path: futureDB}).EscapedPath())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_from_the_future', '2030-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	future := mustBackup(t, &backup.Engine{Source: backup.FileSource(futureDB), Dir: e.Dir, Host: "future"}, backup.Request{Type: backup.TypeFull})
	if future.Manifest.SchemaVersion != 9999 {
		t.Fatalf("future backup schema %d", future.Manifest.SchemaVersion)
	}
	// The same, with a manifest that lies about the schema version (the
	// database's own records decide), and without a manifest.
	lying := mustBackup(t, &backup.Engine{Source: backup.FileSource(futureDB), Dir: e.Dir, Host: "lying"}, backup.Request{Type: backup.TypeFull})
	m := *lying.Manifest
	m.SchemaVersion = 1
	b, _ := json.Marshal(m)
	os.WriteFile(lying.ManifestPath, b, 0o600)
	bare := mustBackup(t, &backup.Engine{Source: backup.FileSource(futureDB), Dir: e.Dir, Host: "bare"}, backup.Request{Type: backup.TypeFull})
	os.Remove(bare.ManifestPath)

	corrupt := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Output: "corrupt.db.zst"})
	data, _ := os.ReadFile(corrupt.Path)
	data[len(data)/2] ^= 1
	os.WriteFile(corrupt.Path, data, 0o600)

	truncated := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Output: "short.db"})
	os.Truncate(truncated.Path, 4096)
	if err := f.db.Close(); err != nil { // no server: restores may go ahead
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		artifact string
		opts     backup.RestoreOptions
		want     *chat.Error
		msg      string
	}{
		{"NewerSchema", future.Path, backup.RestoreOptions{}, backup.ErrNewerSchema, "schema version 9999, newer than this binary supports"},
		{"NewerSchemaLyingManifest", lying.Path, backup.RestoreOptions{}, backup.ErrVerifyFailed, "schema version"},
		{"NewerSchemaNoManifest", bare.Path, backup.RestoreOptions{AllowMissingManifest: true}, backup.ErrNewerSchema, "newer than this binary supports"},
		{"NoManifest", bare.Path, backup.RestoreOptions{}, backup.ErrVerifyFailed, "no manifest"},
		{"Corrupted", corrupt.Path, backup.RestoreOptions{}, backup.ErrVerifyFailed, "stored sha256"},
		{"Truncated", truncated.Path, backup.RestoreOptions{}, backup.ErrVerifyFailed, "stored size"},
		{"NoIdentity", encrypted.Path, backup.RestoreOptions{}, backup.ErrNoIdentity, "CAMPFIRE_BACKUP_AGE_IDENTITY_FILE"},
		{"WrongIdentity", encrypted.Path, backup.RestoreOptions{Identities: identities(t, "", otherFile)}, backup.ErrNoIdentity, "none of the 1 identities"},
		{"Missing", filepath.Join(e.Dir, "nope.db"), backup.RestoreOptions{}, backup.ErrNotFound, "nope.db"},
	}
	before := sha256File(t, f.path)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.BackupDir = e.Dir
			_, err := backup.PrepareRestore(ctx, tt.artifact, f.path, tt.opts)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("PrepareRestore = %v, want %v mentioning %q", err, tt.want.Message, tt.msg)
			}
			if sha256File(t, f.path) != before {
				t.Fatal("the live database changed")
			}
			des, _ := os.ReadDir(filepath.Dir(f.path))
			for _, de := range des {
				if strings.HasPrefix(de.Name(), ".campfire-tmp-") {
					t.Errorf("left %s", de.Name())
				}
			}
		})
	}
	// With the right identity the encrypted one restores (so the refusal
	// above was about the identity). The target is in use by the
	// fixture's open DB though: that is refused too.
	t.Run("TargetInUse", func(t *testing.T) {
		db := sqldbtest.MustOpenFile(t, f.path, nil)
		defer db.Close()
		before := sha256File(t, f.path)
		_, err := backup.PrepareRestore(ctx, encrypted.Path, f.path, backup.RestoreOptions{Identities: identities(t, "", idFile), BackupDir: e.Dir})
		if !errors.Is(err, backup.ErrTargetInUse) || chat.ErrorCode(err) != chat.ECONFLICT {
			t.Errorf("PrepareRestore onto an open database = %v, want ErrTargetInUse", err)
		}
		if sha256File(t, f.path) != before {
			t.Fatal("the live database changed")
		}
	})
	t.Run("TargetInUseByAnotherProcess", func(t *testing.T) {
		sqlite3 := needTool(t, "sqlite3", "sqlite3")
		target := filepath.Join(t.TempDir(), "other.db")
		copyFile(t, f.path, target)
		cmd := exec.Command(sqlite3, target)
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		stdin.Write([]byte("PRAGMA journal_mode=WAL; SELECT COUNT(*) FROM users;\n"))
		time.Sleep(300 * time.Millisecond) // idle, database open
		sum := sha256File(t, target)
		_, err := backup.PrepareRestore(ctx, good.Path, target, backup.RestoreOptions{BackupDir: e.Dir})
		if !errors.Is(err, backup.ErrTargetInUse) {
			t.Errorf("PrepareRestore onto a database another process has open = %v", err)
		}
		if sha256File(t, target) != sum {
			t.Error("the target changed")
		}
		// Apply checks again at the last moment.
		stdin.Close()
		cmd.Wait()
		plan, err := backup.PrepareRestore(ctx, good.Path, target, backup.RestoreOptions{BackupDir: e.Dir})
		if err != nil {
			t.Fatal(err)
		}
		holder := exec.Command(sqlite3, target)
		hin, _ := holder.StdinPipe()
		holder.Start()
		hin.Write([]byte("SELECT COUNT(*) FROM users;\n"))
		time.Sleep(300 * time.Millisecond)
		_, err = plan.Apply(ctx)
		hin.Close()
		holder.Wait()
		if !errors.Is(err, backup.ErrTargetInUse) {
			t.Errorf("Apply onto a database another process opened meanwhile = %v", err)
		}
		if _, err := os.Stat(plan.Ready); err == nil {
			t.Error("the refused Apply left its prepared file")
		}
	})
}

// TestRestore_MigratesOlderBackup restores a backup taken at schema version
// 1 with a binary that knows more migrations: the restored database is
// migrated forward and keeps its rows.
func TestRestore_MigratesOlderBackup(t *testing.T) {
	if sqldb.LatestSchemaVersion() < 2 {
		t.Skip("this binary has a single migration: no older schema to restore from")
	}
	initial, err := os.ReadFile(filepath.Join("..", "sqldb", "migrations", "sqlite", "0001_initial.sql"))
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", "file:"+(&url.URL{Path: old}).EscapedPath()+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	const ts = "2025-01-01T00:00:00.000000Z"
	for _, q := range []string{
		string(initial),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_initial', '` + ts + `')`,
		`INSERT INTO users (id, name, email, password_hash, role, created_at, updated_at) VALUES (1, 'Old Admin', 'old@example.com', 'x', 'administrator', '` + ts + `', '` + ts + `')`,
		`INSERT INTO rooms (id, name, type, creator_id, created_at, updated_at) VALUES (1, 'All Talk', 'open', 1, '` + ts + `', '` + ts + `')`,
		`INSERT INTO room_memberships (room_id, user_id, created_at) VALUES (1, 1, '` + ts + `')`,
		`INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, created_at, updated_at) VALUES (1, 1, 'c1', 'from version one', '<p>from version one</p>', 'from version one', '` + ts + `', '` + ts + `')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	raw.Close()

	e := &backup.Engine{Source: backup.FileSource(old), Dir: t.TempDir(), Host: "h"}
	res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Verify: true})
	if res.Manifest.SchemaVersion != 1 {
		t.Fatalf("backup schema version %d, want 1", res.Manifest.SchemaVersion)
	}
	target := filepath.Join(t.TempDir(), "campfire.db")
	plan, err := backup.PrepareRestore(ctx, res.Path, target, backup.RestoreOptions{BackupDir: e.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if plan.SchemaFrom != 1 || plan.SchemaTo != sqldb.LatestSchemaVersion() {
		t.Errorf("schema %d → %d, want 1 → %d", plan.SchemaFrom, plan.SchemaTo, sqldb.LatestSchemaVersion())
	}
	if _, err := plan.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	db := sqldbtest.MustOpenFile(t, target, nil)
	if v, err := db.SchemaVersion(ctx); err != nil || v != sqldb.LatestSchemaVersion() {
		t.Errorf("restored schema version %d, %v", v, err)
	}
	msgs, err := db.FindMessages(ctx, 1, 1, chat.Page{})
	if err != nil || len(msgs) != 1 || msgs[0].Body != "from version one" {
		t.Errorf("restored messages = %v, %v", msgs, err)
	}
}
