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
		// A passive checkpoint that copied everything lets the next writer
		// restart the WAL from the beginning, so the file stops growing.
		if !r.Busy && r.Checkpointed == r.LogPages && db.WALSize() > int64(db.CheckpointPages)*4096*4 {
			if _, err := db.Checkpoint(ctx, CheckpointTruncate); err != nil && ctx.Err() == nil {
				db.Logger.Warn("truncating checkpoint failed", "err", err)
			}
		}
	}
}
