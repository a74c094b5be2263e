package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
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

// PinSnapshot starts a read transaction on a connection of its own and
// keeps it open until release: a checkpoint cannot copy WAL frames
// committed after it into the database file while it lasts. Continuous
// backup pins the position it shipped, then checkpoints without holding
// the writer. Call it with the writer held (WithWriter) to know exactly
// which frames the pin covers.
func (db *DB) PinSnapshot(ctx context.Context) (release func(), err error) {
	conn, err := db.reader.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		conn.Close()
		return nil, err
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema`).Scan(&n); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Close()
		return nil, fmt.Errorf("pin snapshot: %w", err)
	}
	return func() {
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			// Never back to the pool while pinning the WAL.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

// CheckpointAside runs a PASSIVE checkpoint on a connection of its own,
// so writers go on meanwhile: it copies the WAL frames no reader needs
// into the database file (see PinSnapshot) and waits for nobody.
func (db *DB) CheckpointAside(ctx context.Context) (CheckpointResult, error) {
	db.asideOnce.Do(func() {
		db.aside, db.asideErr = sql.Open("sqlite", dsn(db.Path, false))
		if db.asideErr == nil {
			db.aside.SetMaxOpenConns(1)
		}
	})
	var r CheckpointResult
	if db.asideErr != nil {
		return r, db.asideErr
	}
	var busy int
	if err := db.aside.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &r.LogPages, &r.Checkpointed); err != nil {
		return r, fmt.Errorf("checkpoint: %w", err)
	}
	r.Busy = busy != 0
	return r, nil
}
