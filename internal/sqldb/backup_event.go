package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// Actions and statuses of the backup audit log.
const (
	BackupActionBackup  = "backup"
	BackupActionVerify  = "verify"
	BackupActionPrune   = "prune"
	BackupActionRestore = "restore"

	BackupStatusSuccess = "success"
	BackupStatusFailure = "failure"
)

// Lengths above which an event's text is cut: the log is for people
// scanning a table, not for error dumps.
const (
	maxBackupDetail = 500
	maxBackupText   = 255
)

// BackupEvent is one entry of the backup audit log: a backup, verification,
// prune or restore, by the CLI or the server.
type BackupEvent struct {
	ID     int64  `json:"id"`
	Action string `json:"action"` // BackupActionBackup, ...
	// Type is the backup type (full, hot, schema, safety, ...); "" for a
	// prune.
	Type string `json:"type"`
	// File is the artifact's file name, or the directory a prune cleaned.
	File   string `json:"file"`
	Status string `json:"status"` // BackupStatusSuccess or BackupStatusFailure
	// Detail says what happened in one short sentence; never a secret.
	Detail string `json:"detail"`
	// Bytes: stored bytes of a backup or the artifact verified, bytes a
	// prune deleted, bytes of the database a restore put in place.
	Bytes      int64     `json:"bytes"`
	DurationMS int64     `json:"duration_ms"`
	Actor      string    `json:"actor"` // "cli:root@host", "server", "web:user 3"
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Succeeded reports whether the event's operation succeeded.
func (e *BackupEvent) Succeeded() bool { return e != nil && e.Status == BackupStatusSuccess }

// check validates an event and cuts its texts to their limits.
func (e *BackupEvent) check() error {
	switch e.Action {
	case BackupActionBackup, BackupActionVerify, BackupActionPrune, BackupActionRestore:
	default:
		return chat.Errorf(chat.EINVALID, "Unknown backup event action %q.", e.Action)
	}
	switch e.Status {
	case BackupStatusSuccess, BackupStatusFailure:
	default:
		return chat.Errorf(chat.EINVALID, "Unknown backup event status %q.", e.Status)
	}
	if e.StartedAt.IsZero() || e.FinishedAt.IsZero() {
		return chat.Errorf(chat.EINVALID, "A backup event needs its start and finish times.")
	}
	e.Type = cut(e.Type, maxBackupText)
	e.File = cut(e.File, maxBackupText)
	e.Actor = cut(e.Actor, maxBackupText)
	e.Detail = cut(e.Detail, maxBackupDetail)
	return nil
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n-len("…")]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

const backupEventColumns = `id, action, type, file, status, detail, bytes, duration_ms, actor, started_at, finished_at`

func scanBackupEvent(s interface{ Scan(...any) error }) (*BackupEvent, error) {
	var e BackupEvent
	err := s.Scan(&e.ID, &e.Action, &e.Type, &e.File, &e.Status, &e.Detail, &e.Bytes, &e.DurationMS, &e.Actor,
		timeValue{&e.StartedAt}, timeValue{&e.FinishedAt})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertBackupEvent(ctx context.Context, x execer, ev *BackupEvent) error {
	res, err := x.ExecContext(ctx, `INSERT INTO backup_events
		(action, type, file, status, detail, bytes, duration_ms, actor, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Action, ev.Type, ev.File, ev.Status, ev.Detail, ev.Bytes, ev.DurationMS, ev.Actor,
		formatTime(ev.StartedAt), formatTime(ev.FinishedAt))
	if err != nil {
		return fmt.Errorf("record backup event: %w", err)
	}
	ev.ID, err = res.LastInsertId()
	return err
}

// RecordBackupEvent adds ev to the audit log and returns it with its id.
func (db *DB) RecordBackupEvent(ctx context.Context, ev BackupEvent) (*BackupEvent, error) {
	if err := ev.check(); err != nil {
		return nil, err
	}
	err := db.write(ctx, func(tx *Tx) error { return insertBackupEvent(ctx, tx, &ev) })
	if err != nil {
		return nil, err
	}
	return &ev, nil
}

// ErrNoBackupEvents: the database predates the audit log (schema version
// below 2); campfire migrate, or the next start of serve, adds it.
var ErrNoBackupEvents = chat.Errorf(chat.EUNAVAILABLE, "The database has no backup audit log yet: run campfire migrate (serve does it at start).")

// RecordBackupEventFile records ev in the SQLite database at path, for a
// command that works on the database while no server runs (it holds the
// database's lock). Unlike Open it runs no migrations, so a backup taken
// before an upgrade does not upgrade the database behind the operator's
// back: a database without the backup_events table gets ErrNoBackupEvents,
// and a missing file fs.ErrNotExist (nothing is created).
func RecordBackupEventFile(ctx context.Context, path string, ev BackupEvent) (*BackupEvent, error) {
	if err := ev.check(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	pool, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(1)
	if err := pingBusy(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	err = func() error {
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'backup_events'`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNoBackupEvents
		}
		if err := insertBackupEvent(ctx, tx, &ev); err != nil {
			return err
		}
		return tx.Commit()
	}()
	// Closing the last connection checkpoints the WAL into the file.
	if cerr := pool.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, translate(err)
	}
	// The -wal and -shm files SQLite may leave take the file's mode.
	if err := restrictFiles(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &ev, err
	}
	return &ev, nil
}

// BackupEvents returns the newest limit events of the audit log, newest
// first.
func (db *DB) BackupEvents(ctx context.Context, limit int) ([]*BackupEvent, error) {
	if limit <= 0 {
		limit = 50
	}
	var out []*BackupEvent
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+backupEventColumns+` FROM backup_events ORDER BY finished_at DESC, id DESC LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanBackupEvent(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// BackupSummary is what health checks and metrics need from the audit log.
type BackupSummary struct {
	// LastSuccess is the newest successful backup of each type.
	LastSuccess map[string]*BackupEvent `json:"last_success"`
	// LastFailedBackup is the newest failed backup of each type.
	LastFailedBackup map[string]*BackupEvent `json:"last_failed_backup"`
	// LastVerified is the newest successful verification (nil if none).
	LastVerified *BackupEvent `json:"last_verified"`
	// LastDrill is the newest restore drill, passed or failed (a
	// verification of type "drill"; nil if none).
	LastDrill *BackupEvent `json:"last_drill"`
	// LastFailure is the newest failure of any action (nil if none).
	LastFailure *BackupEvent `json:"last_failure"`
	// Failures counts the failed backups of each type.
	Failures map[string]int64 `json:"failures"`
	// Counts counts every event by action, then status.
	Counts map[string]map[string]int64 `json:"counts"`
}

// BackupSummary reads the summary in one read transaction.
func (db *DB) BackupSummary(ctx context.Context) (*BackupSummary, error) {
	s := &BackupSummary{
		LastSuccess:      map[string]*BackupEvent{},
		LastFailedBackup: map[string]*BackupEvent{},
		Failures:         map[string]int64{},
		Counts:           map[string]map[string]int64{},
	}
	err := db.read(ctx, func(tx *Tx) error {
		// The newest row of each type: SQLite returns the bare columns
		// of the row that holds the MAX.
		for status, into := range map[string]map[string]*BackupEvent{
			BackupStatusSuccess: s.LastSuccess,
			BackupStatusFailure: s.LastFailedBackup,
		} {
			rows, err := tx.QueryContext(ctx, `SELECT `+backupEventColumns+`, MAX(finished_at) FROM backup_events
				WHERE action = ? AND status = ? GROUP BY type`, BackupActionBackup, status)
			if err != nil {
				return err
			}
			for rows.Next() {
				var e BackupEvent
				var latest string
				if err := rows.Scan(&e.ID, &e.Action, &e.Type, &e.File, &e.Status, &e.Detail, &e.Bytes, &e.DurationMS, &e.Actor,
					timeValue{&e.StartedAt}, timeValue{&e.FinishedAt}, &latest); err != nil {
					rows.Close()
					return err
				}
				into[e.Type] = &e
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		var err error
		if s.LastVerified, err = newestEvent(ctx, tx, `action = ? AND status = ?`, BackupActionVerify, BackupStatusSuccess); err != nil {
			return err
		}
		if s.LastFailure, err = newestEvent(ctx, tx, `status = ?`, BackupStatusFailure); err != nil {
			return err
		}
		if s.LastDrill, err = newestEvent(ctx, tx, `action = ? AND type = ?`, BackupActionVerify, "drill"); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT action, type, status, COUNT(*) FROM backup_events GROUP BY action, type, status`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var action, typ, status string
			var n int64
			if err := rows.Scan(&action, &typ, &status, &n); err != nil {
				return err
			}
			if s.Counts[action] == nil {
				s.Counts[action] = map[string]int64{}
			}
			s.Counts[action][status] += n
			if action == BackupActionBackup && status == BackupStatusFailure {
				s.Failures[typ] += n
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newestEvent returns the newest event matching where, or nil.
func newestEvent(ctx context.Context, tx *Tx, where string, args ...any) (*BackupEvent, error) {
	e, err := scanBackupEvent(tx.QueryRowContext(ctx,
		`SELECT `+backupEventColumns+` FROM backup_events WHERE `+where+` ORDER BY finished_at DESC, id DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return e, err
}
