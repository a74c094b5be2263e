package sqldb_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

func TestStats(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, room := sqldbtest.MustFirstRun(t, db)
	sqldbtest.MustPost(t, db, admin.ID, room.ID, "hello")

	t.Run("OK", func(t *testing.T) {
		s, err := db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Engine != "sqlite" {
			t.Errorf("Engine = %q, want sqlite", s.Engine)
		}
		if !strings.HasPrefix(s.SQLiteVersion, "3.") {
			t.Errorf("SQLiteVersion = %q, want 3.x", s.SQLiteVersion)
		}
		if s.SchemaVersion != sqldb.LatestSchemaVersion() {
			t.Errorf("SchemaVersion = %d, want %d", s.SchemaVersion, sqldb.LatestSchemaVersion())
		}
		if s.FileBytes <= 0 {
			t.Errorf("FileBytes = %d, want > 0", s.FileBytes)
		}
		if s.Path != db.Path {
			t.Errorf("Path = %q, want %q", s.Path, db.Path)
		}
		if s.Latency <= 0 {
			t.Errorf("Latency = %v, want > 0", s.Latency)
		}
		if err := db.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("ErrFileRemoved", func(t *testing.T) {
		if err := os.Remove(db.Path); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(ctx); err == nil {
			t.Error("Ping succeeded after the database file was removed")
		}
		if _, err := db.Stats(ctx); err == nil {
			t.Error("Stats succeeded after the database file was removed")
		}
	})
}

func TestCheckpoint(t *testing.T) {
	t.Run("OKTruncate", func(t *testing.T) {
		db := sqldbtest.MustOpenFile(t, t.TempDir()+"/campfire.db", func(db *sqldb.DB) { db.AutoCheckpoint = false })
		admin, room := sqldbtest.MustFirstRun(t, db)
		if _, err := db.Checkpoint(ctx, sqldb.CheckpointTruncate); err != nil {
			t.Fatal(err)
		}
		start := db.WALSize()
		for i := range 50 {
			sqldbtest.MustPost(t, db, admin.ID, room.ID, strings.Repeat("wal ", 500)+string(rune('a'+i%26)))
		}
		grown := db.WALSize()
		if grown <= start {
			t.Fatalf("WAL size = %d after writes, was %d: want it to grow with autocheckpoint off", grown, start)
		}

		r, err := db.Checkpoint(ctx, sqldb.CheckpointPassive)
		if err != nil {
			t.Fatal(err)
		}
		if r.Busy || r.LogPages == 0 || r.Checkpointed != r.LogPages {
			t.Errorf("passive checkpoint = %+v, want every page checkpointed", r)
		}
		if got := db.WALSize(); got != grown {
			t.Errorf("a passive checkpoint changed the WAL size: %d, was %d", got, grown)
		}

		r, err = db.Checkpoint(ctx, sqldb.CheckpointTruncate)
		if err != nil {
			t.Fatal(err)
		}
		if r.Busy {
			t.Errorf("truncate checkpoint = %+v, want not busy", r)
		}
		if got := db.WALSize(); got != 0 {
			t.Errorf("WAL size after a truncating checkpoint = %d, want 0", got)
		}
		// The data is all there.
		if n := mustCount(t, db, `SELECT COUNT(*) FROM messages`); n != 50 {
			t.Errorf("messages = %d, want 50", n)
		}
	})

	t.Run("OKModes", func(t *testing.T) {
		db := sqldbtest.MustOpen(t)
		for _, mode := range []sqldb.CheckpointMode{sqldb.CheckpointPassive, sqldb.CheckpointFull, sqldb.CheckpointRestart, sqldb.CheckpointTruncate} {
			if _, err := db.Checkpoint(ctx, mode); err != nil {
				t.Errorf("Checkpoint(%s): %v", mode, err)
			}
		}
	})

	t.Run("ErrUnknownMode", func(t *testing.T) {
		db := sqldbtest.MustOpen(t)
		for _, mode := range []sqldb.CheckpointMode{"", "passive", "TRUNCATE); DROP TABLE users; --"} {
			if _, err := db.Checkpoint(ctx, mode); err == nil {
				t.Errorf("Checkpoint(%q) succeeded", mode)
			}
		}
	})

	t.Run("OKAutoCheckpoint", func(t *testing.T) {
		db := sqldbtest.MustOpenFile(t, t.TempDir()+"/campfire.db", func(db *sqldb.DB) {
			db.CheckpointInterval = 5 * time.Millisecond
			db.CheckpointPages = 2 // truncates above 4*2 pages (32 KiB)
		})
		admin, room := sqldbtest.MustFirstRun(t, db)
		for i := range 30 {
			sqldbtest.MustPost(t, db, admin.ID, room.ID, strings.Repeat("auto ", 400)+string(rune('a'+i%26)))
		}
		deadline := time.Now().Add(5 * time.Second)
		for db.WALSize() > 64<<10 {
			if time.Now().After(deadline) {
				t.Fatalf("WAL is still %d bytes: the checkpoint loop did not keep it small", db.WALSize())
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}
