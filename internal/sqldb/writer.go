package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// WithWriter runs fn holding the writer connection: no write transaction
// of this DB starts or commits until fn returns. The continuous backup uses
// it to ship the last WAL frames and checkpoint with no commit slipping in
// between, so a frame is never copied into the database file, and the WAL
// restarted over it, before it was shipped. Keep fn short: every writer
// waits for it.
func (db *DB) WithWriter(ctx context.Context, fn func(ctx context.Context, w *Writer) error) error {
	if db.writer == nil {
		return errors.New("database is not open")
	}
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("take the writer connection: %w", err)
	}
	defer conn.Close()
	return fn(ctx, &Writer{conn: conn})
}

// Writer is the writer connection lent to WithWriter's function.
type Writer struct{ conn *sql.Conn }

// Checkpoint runs wal_checkpoint(mode) on the writer connection. With
// noWait the connection's busy timeout is 0 for the call: a checkpoint that
// would have to wait for a reader (RESTART, TRUNCATE) reports Busy at once
// instead of stalling every writer behind the reader.
func (w *Writer) Checkpoint(ctx context.Context, mode CheckpointMode, noWait bool) (CheckpointResult, error) {
	var r CheckpointResult
	switch mode {
	case CheckpointPassive, CheckpointFull, CheckpointRestart, CheckpointTruncate:
	default:
		return r, fmt.Errorf("checkpoint: unknown mode %q", mode)
	}
	if noWait {
		if _, err := w.conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
			return r, err
		}
		defer w.conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", DefaultBusyTimeout.Milliseconds()))
	}
	var busy int
	if err := w.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+string(mode)+")").Scan(&busy, &r.LogPages, &r.Checkpointed); err != nil {
		return r, fmt.Errorf("checkpoint %s: %w", mode, err)
	}
	r.Busy = busy != 0
	return r, nil
}
