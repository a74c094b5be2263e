package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
)

// One process owns the database (DESIGN.md "Backup engine principles").
// campfire serve holds the database's ownership lock (<database>.lock)
// for its lifetime and answers on its admin socket
// (<database dir>/campfire.sock); the backup and restore commands ask it
// to do the work. When no server runs, a command takes the same lock and
// does the work itself, so the CLI and a server never both own the
// database, and two commands take turns.

// How long a command waits for the database's owner.
var (
	// claimWait: another command (a backup, a restore) holds the lock.
	claimWait = 60 * time.Second
	// serveAnswerWait: serve holds the lock but its socket does not
	// answer (yet: it is starting).
	serveAnswerWait = 15 * time.Second
)

// owner is who does a command's work: the running server (client), or
// this process under the database's lock (lock; nil when there is no
// database to lock).
type owner struct {
	client *admin.Client
	lock   *admin.DBLock
	// dbPath is the database; dbExists whether it existed when claimed.
	dbPath   string
	dbExists bool
}

func (o *owner) release() {
	if o != nil && o.lock != nil {
		o.lock.Unlock()
	}
}

// recorder is where this process records audit events when it works
// alone: the database file, if there is one.
func (o *owner) recorder() admin.Recorder {
	if o.lock == nil || !o.dbExists {
		return nil
	}
	return admin.FileRecorder(o.dbPath)
}

// serverNote says which server did the work, for human output.
func (o *owner) serverNote() string {
	if o.client == nil {
		return ""
	}
	return fmt.Sprintf("by the running server (pid %d)", o.client.Status.PID)
}

// claimMode says what a command needs of the database.
type claimMode int

const (
	// needDatabase: a backup; a missing database is an error.
	needDatabase claimMode = iota
	// mayCreateDatabase: a restore, which may create the database.
	mayCreateDatabase
	// auditOnly: verify and prune touch the database only to record the
	// audit event; without a database they work and log only.
	auditOnly
)

// claim finds who does the work: the server answering on the admin socket,
// else this process, once it holds the database's lock. It waits while
// another command holds the lock (up to claimWait) and refuses, saying
// what to do, when serve holds it but does not answer.
func claim(ctx context.Context, e *env, cfg Config, role string, mode claimMode) (*owner, error) {
	if cfg.DatabaseEngine != engineSQLite {
		return nil, usageErrorf("CAMPFIRE_DATABASE_URL: backups of PostgreSQL are not supported by this build; use a SQLite path such as ./data/campfire.db")
	}
	dbPath, err := filepath.Abs(cfg.DatabasePath)
	if err != nil {
		return nil, err
	}
	sock := admin.SocketPath(dbPath)
	deadline := time.Now().Add(claimWait)
	var serveSince time.Time
	told := false
	for {
		if c, err := admin.Dial(ctx, sock); err == nil {
			c.Notice = func(s string) {
				if e.terminal(e.Stderr) {
					fmt.Fprintf(e.Stderr, "campfire serve: %s\n", s)
				}
			}
			return &owner{client: c, dbPath: dbPath, dbExists: true}, nil
		}
		_, statErr := os.Stat(dbPath)
		exists := statErr == nil
		if !exists && mode != mayCreateDatabase {
			if !errors.Is(statErr, fs.ErrNotExist) {
				return nil, statErr
			}
			if mode == needDatabase {
				return nil, fmt.Errorf("no database at %s, so there is nothing to back up; is CAMPFIRE_DATABASE_URL (or --database-url) right?", dbPath)
			}
			return &owner{dbPath: dbPath}, nil
		}
		lock, err := admin.LockDatabase(dbPath, role)
		if err == nil {
			return &owner{lock: lock, dbPath: dbPath, dbExists: exists}, nil
		}
		var busy *admin.BusyError
		if !errors.As(err, &busy) {
			return nil, err
		}
		now := time.Now()
		if busy.Holder.Serving() {
			if serveSince.IsZero() {
				serveSince = now
			}
			if now.Sub(serveSince) > serveAnswerWait {
				return nil, fmt.Errorf("campfire serve (pid %d) owns the database %s but does not answer on its admin socket %s; "+
					"check its log and /health, or stop it and run this command again", busy.Holder.PID, dbPath, sock)
			}
		} else if now.After(deadline) {
			return nil, fmt.Errorf("the database %s is in use by %s and was still busy after %s; try again when it has finished",
				dbPath, busy.Holder, claimWait)
		}
		if !told && e.terminal(e.Stderr) {
			fmt.Fprintf(e.Stderr, "waiting for %s to finish with %s…\n", busy.Holder, dbPath)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// newOps returns the backup operations with this process's configuration.
func newOps(cfg Config, logger *slog.Logger) *admin.Ops {
	return &admin.Ops{
		Config: admin.Config{
			Dir:        absPath(cfg.BackupDir),
			Recipients: cfg.BackupAgeRecipients,
			Keys:       configKeys(cfg, nil),
			Policy: backup.Policy{
				Daily: cfg.BackupRetentionDays, Weekly: cfg.BackupRetentionWeeks,
				Monthly: cfg.BackupRetentionMonths, Yearly: cfg.BackupRetentionYears,
			},
			PITRWindow:   time.Duration(cfg.BackupPITRDays) * 24 * time.Hour,
			Remote:       cfg.BackupRemote,
			RemotePolicy: cfg.BackupRemoteRetention.policy(),
		},
		AppVersion: buildVersion(),
		Logger:     logger,
	}
}

// configKeys returns the decryption keys: the --identity files if any were
// given, else CAMPFIRE_BACKUP_AGE_IDENTITY_FILE; paths made absolute.
func configKeys(cfg Config, flagFiles []string) admin.Keys {
	files := flagFiles
	if len(files) == 0 && cfg.BackupAgeIdentityFile != "" {
		files = []string{cfg.BackupAgeIdentityFile}
	}
	k := admin.Keys{PGPPassphrase: cfg.BackupPGPPassphrase}
	for _, f := range files {
		k.IdentityFiles = append(k.IdentityFiles, absPath(f))
	}
	return k
}

// absPath makes p absolute (the server's working directory is not ours).
func absPath(p string) string {
	if p == "" {
		return ""
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// actor names who runs a command in the audit log: cli:<user>@<host>.
func actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return "cli:" + name + "@" + host
}

// cliLogger is the logger of a command that works alone: its audit lines
// go to stderr like serve's log.
func cliLogger(e *env, cfg Config) *slog.Logger {
	return newLogger(e.Stderr, cfg.LogLevel, cfg.LogFormat, e.terminal(e.Stderr))
}

// notAvailable is the answer of features that arrive with continuous
// backup. It is a failure (exit 1), not a usage error: the command line is
// right, this version cannot do it yet.
func notAvailable(what string) error {
	return fmt.Errorf("%s arrives with continuous backup: not available in this version (see docs/operations.md)", what)
}

// progress returns a progress reporter that redraws one line on stderr,
// and a function that clears it; both do nothing unless stderr is a
// terminal.
func progress(e *env) (admin.ProgressFunc, func()) {
	if !e.terminal(e.Stderr) {
		return nil, func() {}
	}
	w := e.Stderr
	shown := false
	var last time.Time
	fn := func(p admin.Progress) {
		if time.Since(last) < 100*time.Millisecond && p.Done < p.Total {
			return
		}
		last = time.Now()
		pct := 0
		if p.Total > 0 {
			pct = int(p.Done * 100 / p.Total)
		}
		fmt.Fprintf(w, "\r\033[K%s: %s of %s (%d%%)", p.Stage, formatBytes(p.Done), formatBytes(p.Total), pct)
		shown = true
	}
	return fn, func() {
		if shown {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}

// formatBytes shows a size the way people read it (1024-based).
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// localTime shows a stored (UTC) time in local time, as the spec's
// examples and the CLI's input do.
func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// recipientSpecs returns the recipients to encrypt to: --recipient flags
// if given, else CAMPFIRE_BACKUP_AGE_RECIPIENTS; a spec naming a file is
// made absolute.
func recipientSpecs(cfg Config, flags []string) []string {
	specs := flags
	if len(specs) == 0 {
		specs = cfg.BackupAgeRecipients
	}
	out := make([]string, 0, len(specs))
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.HasPrefix(s, "age1") && !strings.HasPrefix(s, "-----BEGIN") {
			if _, err := os.Stat(s); err == nil {
				s = absPath(s)
			}
		}
		out = append(out, s)
	}
	return out
}
