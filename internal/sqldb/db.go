// Package sqldb stores the chat domain in SQL databases through database/sql.
// SQLite (modernc.org/sqlite, pure Go) is the embedded default.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// Defaults for DB's tunables.
const (
	DefaultBusyTimeout        = 5 * time.Second
	DefaultCheckpointInterval = time.Second
	// DefaultCheckpointPages is the WAL size, in pages, above which the
	// checkpoint loop copies the WAL back into the database (SQLite's own
	// autocheckpoint threshold, which we turn off to own checkpoints).
	DefaultCheckpointPages = 1000
)

// DB is an open SQLite database. Writes go through a single connection so
// transactions never fight for the write lock; reads use a read-only pool.
type DB struct {
	Path   string
	Logger *slog.Logger
	// Now returns the current time; tests may replace it before Open.
	Now func() time.Time

	// AutoCheckpoint runs the checkpoint loop. A backup engine that owns
	// checkpoints turns it off before Open and calls Checkpoint itself.
	AutoCheckpoint     bool
	CheckpointInterval time.Duration
	CheckpointPages    int
	// OnCommit, when set before Open, is called after every write
	// transaction of this DB commits: the continuous backup ships WAL
	// frames when commits happen instead of polling.
	OnCommit func()

	writer *sql.DB
	reader *sql.DB
	// aside is the connection of CheckpointAside, opened on first use.
	aside     *sql.DB
	asideErr  error
	asideOnce sync.Once

	cancel context.CancelFunc
	done   chan struct{}

	closeOnce sync.Once
}

// New returns a DB for the SQLite file at path with default settings.
func New(path string) *DB {
	return &DB{
		Path:               path,
		Logger:             slog.Default(),
		Now:                time.Now,
		AutoCheckpoint:     true,
		CheckpointInterval: DefaultCheckpointInterval,
		CheckpointPages:    DefaultCheckpointPages,
	}
}

// dsn builds the connection string. PRAGMAs live in the DSN because they are
// per connection: a PRAGMA run once on the pool reaches only one connection.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", DefaultBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// FULL fsyncs the WAL on every commit: an acknowledged write survives
	// power loss (docs/decisions/0002-sqlite-durability.md).
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "wal_autocheckpoint(0)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Set("_txlock", "deferred")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database file and applies pending
// migrations.
func (db *DB) Open(ctx context.Context) (err error) {
	if db.Path == "" {
		return chat.Errorf(chat.EINVALID, "Database path is required.")
	}
	if db.Logger == nil {
		db.Logger = slog.Default()
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	abs, err := filepath.Abs(db.Path)
	if err != nil {
		return fmt.Errorf("resolve database path: %w", err)
	}
	db.Path = abs
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	// Create the file owner-only before SQLite does: SQLite gives the -wal
	// and -shm files, which hold the same data, the database file's mode.
	if err := restrictFiles(abs); err != nil {
		return err
	}

	if db.writer, err = sql.Open("sqlite", dsn(abs, false)); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxIdleTime(0)
	db.writer.SetConnMaxLifetime(0)
	defer func() {
		if err != nil {
			db.writer.Close()
			if db.reader != nil {
				db.reader.Close()
			}
		}
	}()
	if err := pingBusy(ctx, db.writer); err != nil {
		return fmt.Errorf("open database %s: %w", abs, err)
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	// The file exists now, so read-only connections can open it.
	if db.reader, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.reader.SetMaxOpenConns(n)
	db.reader.SetMaxIdleConns(n)
	if err := db.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("open database for reading: %w", err)
	}

	db.done = make(chan struct{})
	loopCtx, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	if db.AutoCheckpoint {
		go db.checkpointLoop(loopCtx)
	} else {
		close(db.done)
	}
	return nil
}

// pingBusy opens the first connection. The first connection to a new file
// switches it to WAL mode, and another process doing the same at that
// moment gets SQLITE_BUSY at once, without the busy timeout: retry then.
func pingBusy(ctx context.Context, pool *sql.DB) error {
	deadline := time.Now().Add(DefaultBusyTimeout)
	for {
		err := pool.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// restrictFiles creates the database file if needed and makes it and any
// -wal and -shm files readable by the owner only.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restrict database file mode: %w", err)
		}
	}
	return nil
}

// Close stops the checkpoint loop, checkpoints the WAL into the database
// file and closes every connection.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		if db.cancel != nil {
			db.cancel()
			<-db.done
		}
		if db.reader != nil {
			err = errors.Join(err, db.reader.Close())
		}
		if db.aside != nil {
			err = errors.Join(err, db.aside.Close())
		}
		if db.writer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, cerr := db.Checkpoint(ctx, CheckpointTruncate); cerr != nil {
				err = errors.Join(err, cerr)
			}
			err = errors.Join(err, db.writer.Close())
		}
	})
	return err
}

// Tx is a transaction with the time it started, so every row it writes
// carries the same timestamp.
type Tx struct {
	*sql.Tx
	now time.Time
}

// write runs fn in a write transaction and commits it when fn succeeds.
func (db *DB) write(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	defer sqlTx.Rollback()
	if err := fn(&Tx{Tx: sqlTx, now: db.Now().UTC()}); err != nil {
		return translate(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	if db.OnCommit != nil {
		db.OnCommit()
	}
	return nil
}

// read runs fn in a read-only transaction: one consistent snapshot.
func (db *DB) read(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	defer sqlTx.Rollback()
	if err := fn(&Tx{Tx: sqlTx, now: db.Now().UTC()}); err != nil {
		return translate(err)
	}
	return translate(sqlTx.Commit())
}

// translate maps driver errors to domain errors by result code, once, at
// the storage boundary.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Errorf(chat.ENOTFOUND, "Not found.")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &wrapped{chat.Errorf(chat.ECONFLICT, "That already exists."), err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &wrapped{chat.Errorf(chat.EUNAVAILABLE, "The database is busy; try again."), err}
		}
	}
	return err
}

// wrapped is a domain error that keeps the driver error for logs.
type wrapped struct {
	domain *chat.Error
	cause  error
}

func (w *wrapped) Unwrap() []error { return []error{w.domain, w.cause} }
func (w *wrapped) Error() string   { return w.domain.Error() + ": " + w.cause.Error() }

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) &&
		(se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
