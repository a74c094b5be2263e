package sqldb_test

import (
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

func event(action, typ, status string, finished time.Time) sqldb.BackupEvent {
	return sqldb.BackupEvent{
		Action: action, Type: typ, File: "campfire_" + typ + "_h_backup_x.db.zst", Status: status,
		Detail: "test", Bytes: 1234, DurationMS: 56, Actor: "cli:test@host",
		StartedAt: finished.Add(-time.Second), FinishedAt: finished,
	}
}

func TestRecordBackupEvent(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

	got, err := db.RecordBackupEvent(ctx, event(sqldb.BackupActionBackup, "full", sqldb.BackupStatusSuccess, t0))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID <= 0 {
		t.Errorf("recorded event has id %d", got.ID)
	}
	long := event(sqldb.BackupActionVerify, "full", sqldb.BackupStatusFailure, t0.Add(time.Minute))
	long.Detail = strings.Repeat("é", 400) // 800 bytes
	got, err = db.RecordBackupEvent(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Detail) > 500 || !strings.HasSuffix(got.Detail, "…") || !strings.HasPrefix(got.Detail, "éé") {
		t.Errorf("a long detail was stored as %d bytes %q…; want it cut to 500 bytes on a character boundary", len(got.Detail), got.Detail[:10])
	}

	for _, bad := range []sqldb.BackupEvent{
		event("delete", "full", sqldb.BackupStatusSuccess, t0),
		event(sqldb.BackupActionBackup, "full", "maybe", t0),
		{Action: sqldb.BackupActionPrune, Status: sqldb.BackupStatusSuccess},
	} {
		if _, err := db.RecordBackupEvent(ctx, bad); chat.ErrorCode(err) != chat.EINVALID {
			t.Errorf("RecordBackupEvent(%+v) = %v, want invalid", bad, err)
		}
	}

	evs, err := db.BackupEvents(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Action != sqldb.BackupActionVerify || evs[1].Action != sqldb.BackupActionBackup {
		t.Fatalf("BackupEvents = %+v, want the verify then the backup", evs)
	}
	e := evs[1]
	if e.Type != "full" || e.Status != "success" || e.Bytes != 1234 || e.DurationMS != 56 || e.Actor != "cli:test@host" ||
		!e.FinishedAt.Equal(t0) || !e.StartedAt.Equal(t0.Add(-time.Second)) {
		t.Errorf("read back %+v", e)
	}
}

func TestBackupSummary(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	empty, err := db.BackupSummary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.LastSuccess) != 0 || empty.LastVerified != nil || empty.LastFailure != nil || len(empty.Failures) != 0 {
		t.Fatalf("summary of an empty log = %+v", empty)
	}

	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	for i, ev := range []sqldb.BackupEvent{
		event(sqldb.BackupActionBackup, "full", sqldb.BackupStatusSuccess, t0),
		event(sqldb.BackupActionBackup, "full", sqldb.BackupStatusSuccess, t0.Add(2*time.Hour)),
		event(sqldb.BackupActionBackup, "full", sqldb.BackupStatusFailure, t0.Add(3*time.Hour)),
		event(sqldb.BackupActionBackup, "schema", sqldb.BackupStatusSuccess, t0.Add(time.Hour)),
		event(sqldb.BackupActionBackup, "hot", sqldb.BackupStatusFailure, t0.Add(4*time.Hour)),
		event(sqldb.BackupActionBackup, "hot", sqldb.BackupStatusFailure, t0.Add(5*time.Hour)),
		event(sqldb.BackupActionVerify, "full", sqldb.BackupStatusSuccess, t0.Add(2*time.Hour)),
		event(sqldb.BackupActionVerify, "full", sqldb.BackupStatusFailure, t0.Add(6*time.Hour)),
		event(sqldb.BackupActionPrune, "", sqldb.BackupStatusSuccess, t0.Add(7*time.Hour)),
	} {
		ev.Detail = "event " + string(rune('a'+i))
		if _, err := db.RecordBackupEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	s, err := db.BackupSummary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if full := s.LastSuccess["full"]; full == nil || !full.FinishedAt.Equal(t0.Add(2*time.Hour)) || full.Detail != "event b" {
		t.Errorf("last successful full = %+v, want event b", full)
	}
	if sc := s.LastSuccess["schema"]; sc == nil || sc.Detail != "event d" {
		t.Errorf("last successful schema = %+v", sc)
	}
	if _, ok := s.LastSuccess["hot"]; ok {
		t.Errorf("a hot backup never succeeded, summary says %+v", s.LastSuccess["hot"])
	}
	if hot := s.LastFailedBackup["hot"]; hot == nil || hot.Detail != "event f" {
		t.Errorf("last failed hot = %+v", hot)
	}
	if s.LastVerified == nil || s.LastVerified.Detail != "event g" {
		t.Errorf("last verified = %+v, want event g", s.LastVerified)
	}
	if s.LastFailure == nil || s.LastFailure.Detail != "event h" {
		t.Errorf("last failure = %+v, want the failed verification", s.LastFailure)
	}
	if s.Failures["full"] != 1 || s.Failures["hot"] != 2 || s.Failures["schema"] != 0 {
		t.Errorf("failures = %v", s.Failures)
	}
	if s.Counts["backup"]["success"] != 3 || s.Counts["backup"]["failure"] != 3 || s.Counts["prune"]["success"] != 1 {
		t.Errorf("counts = %v", s.Counts)
	}
}

func TestRecordBackupEventFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "campfire.db")
	t0 := time.Now().UTC()

	if _, err := sqldb.RecordBackupEventFile(ctx, path, event("backup", "full", "success", t0)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("recording into a missing database = %v, want not exist (and nothing created)", err)
	}

	// A database at schema 1 (before the audit log) is not migrated.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
		INSERT INTO schema_migrations VALUES (1, '0001_initial', '2026-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := sqldb.RecordBackupEventFile(ctx, path, event("backup", "full", "success", t0)); !errors.Is(err, sqldb.ErrNoBackupEvents) {
		t.Errorf("recording into a schema-1 database = %v, want ErrNoBackupEvents", err)
	}
	raw, _ = sql.Open("sqlite", path)
	var n int
	raw.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'backup_events'`).Scan(&n)
	raw.Close()
	if n != 0 {
		t.Fatal("RecordBackupEventFile migrated the database")
	}

	// A migrated database takes the event, and the server sees it.
	path2 := filepath.Join(t.TempDir(), "campfire.db")
	db := sqldb.New(path2)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := sqldb.RecordBackupEventFile(ctx, path2, event("verify", "full", "success", t0))
	if err != nil || got.ID <= 0 {
		t.Fatalf("RecordBackupEventFile = %+v, %v", got, err)
	}
	db = sqldbtest.MustOpenFile(t, path2, nil)
	s, err := db.BackupSummary(ctx)
	if err != nil || s.LastVerified == nil || s.LastVerified.ID != got.ID {
		t.Fatalf("after RecordBackupEventFile, summary = %+v, %v", s, err)
	}
}
