package sqldb

import (
	"context"
	"fmt"
	"os"
	"time"
)

// CheckpointMode is a SQLite wal_checkpoint mode.
type CheckpointMode string

const (
	CheckpointPassive  CheckpointMode = "PASSIVE"
	CheckpointFull     CheckpointMode = "FULL"
	CheckpointRestart  CheckpointMode = "RESTART"
	CheckpointTruncate CheckpointMode = "TRUNCATE"
)

// CheckpointResult is what wal_checkpoint reports.
type CheckpointResult struct {
	Busy         bool
	LogPages     int
	Checkpointed int
}

// Checkpoint copies WAL frames back into the database file. It runs on the
// writer connection, so it never races a write of ours.
func (db *DB) Checkpoint(ctx context.Context, mode CheckpointMode) (CheckpointResult, error) {
	var r CheckpointResult
	var busy int
	switch mode {
	case CheckpointPassive, CheckpointFull, CheckpointRestart, CheckpointTruncate:
	default:
		return r, fmt.Errorf("checkpoint: unknown mode %q", mode)
	}
	row := db.writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+string(mode)+")")
	if err := row.Scan(&busy, &r.LogPages, &r.Checkpointed); err != nil {
		return r, fmt.Errorf("checkpoint %s: %w", mode, err)
	}
	r.Busy = busy != 0
	return r, nil
}

// WALSize returns the size of the -wal file in bytes (0 when absent).
func (db *DB) WALSize() int64 {
	fi, err := os.Stat(db.Path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// checkpointLoop replaces SQLite's autocheckpoint: it checkpoints whenever
// the WAL outgrows CheckpointPages, and exits when ctx is cancelled.
func (db *DB) checkpointLoop(ctx context.Context) {
	defer close(db.done)
	t := time.NewTicker(db.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if db.WALSize() < int64(db.CheckpointPages)*4096 {
			continue
		}
		r, err := db.Checkpoint(ctx, CheckpointPassive)
		if err != nil {
			if ctx.Err() == nil {
				db.Logger.Warn("checkpoint failed", "err", err)
			}
			continue
		}
		// A passive checkpoint that copied everything lets the WAL file be
		// truncated, so a burst of writes does not leave it large for good.
		if !r.Busy && r.Checkpointed == r.LogPages && db.WALSize() > int64(db.CheckpointPages)*4096*4 {
			if err := db.truncateNoWait(ctx); err != nil && ctx.Err() == nil {
				db.Logger.Warn("truncating checkpoint failed", "err", err)
			}
		}
	}
}

// truncateNoWait truncates the WAL only if no reader is in the way: with the
// writer's usual busy timeout a TRUNCATE checkpoint would wait for a long
// reader (a backup snapshot, say) and stall every write behind it.
func (db *DB) truncateNoWait(ctx context.Context) error {
	return db.WithWriter(ctx, func(ctx context.Context, w *Writer) error {
		_, err := w.Checkpoint(ctx, CheckpointTruncate, true)
		return err
	})
}
