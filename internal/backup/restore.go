package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// RestoreOptions tune a restore.
type RestoreOptions struct {
	// Identities decrypt encrypted backups.
	Identities *Identities
	// BackupDir receives the safety copy of the current database
	// (CAMPFIRE_BACKUP_DIR); its lock is held while Apply runs.
	BackupDir string
	// Host names the safety copy; empty means DefaultHost().
	Host string
	// AppVersion is recorded in the safety copy's manifest.
	AppVersion string
	// AllowMissingManifest restores a file without a manifest (see
	// VerifyOptions.AllowMissingManifest). Off by default: without a
	// manifest, silent damage to the data cannot be detected.
	AllowMissingManifest bool
	// Progress reports the verification's progress (see VerifyOptions).
	Progress func(done, total int64)
	// LockWait is how long Apply waits for the backup directory's lock;
	// zero means DefaultLockWait.
	LockWait time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives what the migration of an older backup logs; nil
	// discards it.
	Logger *slog.Logger
	// TargetOpenByCaller says the caller itself has the target open and
	// closes it before Apply (the running server preparing its own
	// restore): PrepareRestore then skips its in-use check. Apply always
	// checks.
	TargetOpenByCaller bool
	// Roll, when set, brings the verified backup forward before it is
	// migrated: a point-in-time restore applies continuous-backup
	// segments (PITRPlan.Roll). The result is checked again.
	Roll func(ctx context.Context, path string) error
}

// Plan is a verified restore waiting to be applied: what --dry-run prints.
type Plan struct {
	// Source is the artifact; Manifest and Report its verification.
	Source   string    `json:"source"`
	Manifest *Manifest `json:"manifest,omitempty"`
	Report   *Report   `json:"report"`
	// Target is the database file to replace.
	Target       string `json:"target"`
	TargetExists bool   `json:"target_exists"`
	TargetBytes  int64  `json:"target_bytes"`
	// Ready is the verified, migrated database, waiting in the target's
	// directory (so the final rename stays on one file system).
	Ready      string           `json:"ready"`
	ReadyBytes int64            `json:"ready_bytes"`
	RowCounts  map[string]int64 `json:"row_counts"`
	// SchemaFrom is the backup's schema version, SchemaTo the version
	// after migrating it forward (this binary's latest).
	SchemaFrom int `json:"schema_from"`
	SchemaTo   int `json:"schema_to"`
	// SafetyDir is where Apply writes the safety copy of the current
	// database (when there is one).
	SafetyDir string `json:"safety_dir"`
	// PointInTime is set for a point-in-time restore: Source is its base
	// and the segments applied bring it to PointInTime.At.
	PointInTime *PITRPlan `json:"point_in_time,omitempty"`

	opts RestoreOptions
	// hook, in tests, runs before each step of Apply; an error stops
	// Apply right there, as a crash would (nothing is cleaned up).
	hook func(step string) error
	done bool
}

// RestoreResult is a restore applied.
type RestoreResult struct {
	Target string `json:"target"`
	// Safety is the safety copy of the replaced database (nil when there
	// was none); restore it to undo.
	Safety *Result `json:"safety,omitempty"`
	// SafetyRaw is set when the replaced database could not be opened and
	// was copied byte for byte instead (with its -wal, if any, beside it).
	SafetyRaw string `json:"safety_raw,omitempty"`
}

// PrepareRestore verifies artifact and prepares it to replace the database
// at target, touching nothing but a temporary file in target's directory:
//
//   - a manifest from a newer schema, a type that holds no database,
//     a target in use, any failed check of Verify, or a decryption failure
//     refuse the restore (the target is left as it was);
//   - the artifact is decoded into the target's directory, verified, and
//     migrated forward to this binary's schema (sqldb's migrations, which
//     refuse a newer schema too), then fsynced.
//
// The plan is what a --dry-run prints; Apply carries it out, Discard
// removes the prepared file.
func PrepareRestore(ctx context.Context, artifact, target string, opts RestoreOptions) (_ *Plan, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if target == "" {
		return nil, fail(ErrInvalidRequest, "restore: no target database")
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, err
	}
	p := &Plan{Source: artifact, Target: abs, SafetyDir: opts.BackupDir, opts: opts, SchemaTo: sqldb.LatestSchemaVersion()}
	if p.SafetyDir == "" {
		p.SafetyDir = filepath.Dir(abs)
	}
	if _, err := os.Stat(artifact); err != nil {
		return nil, fail(ErrNotFound, "backup %s: %w", artifact, err)
	}

	// Refusals that need no decoding come first.
	if m, err := ReadManifest(ManifestPath(artifact)); err == nil {
		if !m.Type.restorable() {
			if m.Type == TypeSchema {
				return nil, fail(ErrNotRestorable, "%s is a schema backup: it holds no data, so restoring it would empty the database (load its .sql into a new database instead)", filepath.Base(artifact))
			}
			return nil, fail(ErrNotRestorable, "%s is a %s backup, which cannot be restored on its own", filepath.Base(artifact), m.Type)
		}
		if m.SchemaVersion > p.SchemaTo {
			return nil, fail(ErrNewerSchema, "backup %s has schema version %d, newer than this binary supports (%d): upgrade campfire before restoring it", filepath.Base(artifact), m.SchemaVersion, p.SchemaTo)
		}
	} else if n, ok := ParseName(filepath.Base(artifact)); ok && !n.Type.restorable() && errors.Is(err, ErrNoManifest) {
		return nil, fail(ErrNotRestorable, "%s is a %s backup, which cannot be restored as a database", filepath.Base(artifact), n.Type)
	}
	if fi, err := os.Stat(abs); err == nil {
		p.TargetExists, p.TargetBytes = true, fi.Size()
		if !opts.TargetOpenByCaller {
			if err := checkNotInUse(ctx, abs); err != nil {
				return nil, err
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	removeStale(filepath.Dir(abs), time.Now())

	// Verify, decoding into the target's directory.
	rep, tmp, verr := verify(ctx, artifact, VerifyOptions{
		Identities:           opts.Identities,
		AllowMissingManifest: opts.AllowMissingManifest,
		Progress:             opts.Progress,
	}, filepath.Dir(abs))
	p.Report, p.Manifest = rep, rep.Manifest
	defer func() {
		if err != nil && tmp != "" {
			removeDBFiles(tmp)
		}
	}()
	if verr != nil {
		return nil, verr
	}
	p.SchemaFrom = rep.SchemaVersion
	p.RowCounts = rep.RowCounts
	if opts.Roll != nil {
		if err := opts.Roll(ctx, tmp); err != nil {
			return nil, err
		}
		if err := quickCheck(ctx, tmp); err != nil {
			return nil, fail(ErrVerifyFailed, "backup %s rolled forward: %w", filepath.Base(artifact), err)
		}
		if p.RowCounts, err = countRowsOf(ctx, tmp); err != nil {
			return nil, err
		}
	}
	if p.SchemaFrom > p.SchemaTo {
		return nil, fail(ErrNewerSchema, "backup %s has schema version %d, newer than this binary supports (%d): upgrade campfire before restoring it", filepath.Base(artifact), p.SchemaFrom, p.SchemaTo)
	}

	// Migrate forward; sqldb refuses a newer schema itself as well.
	db := sqldb.New(tmp)
	db.Logger = opts.Logger
	db.AutoCheckpoint = false
	if err := db.Open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate backup %s to schema %d: %w", filepath.Base(artifact), p.SchemaTo, err)
	}
	if p.SchemaTo, err = db.SchemaVersion(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Close(); err != nil { // checkpoints (TRUNCATE) into the file
		return nil, fmt.Errorf("migrate backup: %w", err)
	}
	if p.SchemaTo != p.SchemaFrom {
		// Migrations rewrote it: check the structure again.
		if err := quickCheck(ctx, tmp); err != nil {
			return nil, fail(ErrVerifyFailed, "backup %s after migrating it to schema %d: %w", filepath.Base(artifact), p.SchemaTo, err)
		}
	}
	if fi, err := os.Stat(tmp + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("prepare restore: %s-wal still holds %d bytes after closing", filepath.Base(tmp), fi.Size())
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return nil, err
	}
	p.Ready, p.ReadyBytes = tmp, fi.Size()
	return p, nil
}

// Discard removes the prepared database (after a dry run, or to cancel).
func (p *Plan) Discard() error {
	if p.done || p.Ready == "" {
		return nil
	}
	removeDBFiles(p.Ready)
	p.done = true
	return nil
}

func (p *Plan) step(name string) error {
	if p.hook != nil {
		return p.hook(name)
	}
	return nil
}

// Restore steps, in order (names of Plan hooks in tests).
const (
	stepLocked     = "locked"
	stepSafety     = "safety-copy"
	stepCheckpoint = "checkpoint"
	stepReady      = "ready"
	stepRemoveWAL  = "remove-wal"
	stepReplace    = "replace"
	stepSyncDir    = "sync-dir"
)

// Apply replaces the target with the prepared database. The caller
// guarantees that no process has the target open (the CLI asks a running
// server to do the restore instead); Apply still refuses a target in use.
//
//  1. Take the backup directory's lock; check the target is not in use.
//  2. Safety copy: a consistent snapshot of the current database (read
//     only, so the database is not changed) stored as a plain
//     campfire_safety_<host>_backup_<time>.db, 0600, with a manifest. A
//     database that cannot be opened is copied byte for byte instead.
//  3. Checkpoint the current database completely (TRUNCATE): afterwards
//     the main file alone holds every committed transaction and its -wal
//     is empty. This is what makes the next steps safe: a -wal must never
//     be lost while it holds data (a database without the WAL it belongs
//     to is missing commits, or is corrupt mid-checkpoint), and must never
//     meet another database (SQLite would replay its frames into it: a
//     WAL does not name its database).
//  4. Rename the prepared file to <target>.restore-ready (same directory).
//  5. Remove <target>-wal and <target>-shm, now empty and unused.
//  6. Rename <target>.restore-ready over <target> (atomic), fsync the
//     directory.
//
// A crash before 6 leaves the old database whole (its main file holds
// everything since 3; a crash during 3 leaves the WAL, which SQLite
// recovers); a crash after 6 leaves the new one; before the directory
// fsync, the rename itself may be lost, which again leaves the old one.
// Leftover <target>.restore-ready or temporary files are harmless and the
// next restore removes the former.
func (p *Plan) Apply(ctx context.Context) (res *RestoreResult, err error) {
	if p.done {
		return nil, errors.New("restore: plan already applied or discarded")
	}
	opts := p.opts
	crashed := false
	defer func() {
		if !crashed && err != nil {
			p.Discard()
		}
	}()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	wait := opts.LockWait
	if wait == 0 {
		wait = DefaultLockWait
	}
	lock, err := LockDir(ctx, p.SafetyDir, wait)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	if err := p.step(stepLocked); err != nil {
		crashed = true
		return nil, err
	}
	res = &RestoreResult{Target: p.Target}
	ready := p.Target + ".restore-ready"
	os.Remove(ready) // a leftover from an interrupted restore

	_, statErr := os.Stat(p.Target)
	exists := statErr == nil
	if exists {
		if err := checkNotInUse(ctx, p.Target); err != nil {
			return nil, err
		}
		// 2. Safety copy.
		eng := &Engine{Source: FileSource(p.Target), Dir: p.SafetyDir, Host: opts.Host, AppVersion: opts.AppVersion, Now: opts.Now}
		safety, serr := eng.backup(ctx, Request{Type: TypeSafety, Compression: CompressionNone}, false)
		if serr != nil {
			raw, rerr := rawCopy(p.Target, p.SafetyDir, opts.Host, now())
			if rerr != nil {
				return nil, fmt.Errorf("safety copy of %s failed, nothing was changed: %w (raw copy: %v)", p.Target, serr, rerr)
			}
			res.SafetyRaw = raw
		} else {
			res.Safety = safety
		}
		if err := p.step(stepSafety); err != nil {
			crashed = true
			return res, err
		}
		// 3. Checkpoint the current database into its main file.
		if res.SafetyRaw == "" {
			if err := checkpointFile(ctx, p.Target); err != nil {
				return res, fmt.Errorf("restore: checkpoint the current database before replacing it, nothing was changed: %w", err)
			}
		}
		if fi, err := os.Stat(p.Target + "-wal"); err == nil && fi.Size() > 0 {
			return res, fmt.Errorf("restore: %s-wal still holds %d bytes; nothing was changed", p.Target, fi.Size())
		}
		if err := p.step(stepCheckpoint); err != nil {
			crashed = true
			return res, err
		}
	}
	// 4. The prepared file gets its well-known name (and, when the
	// current database exists, its owner).
	if exists {
		chownLike(p.Ready, p.Target)
	}
	if err := os.Rename(p.Ready, ready); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	p.Ready = ready
	if err := p.step(stepReady); err != nil {
		crashed = true
		return res, err
	}
	// 5. The old, empty WAL and its index go.
	for _, s := range []string{"-wal", "-shm"} {
		if err := os.Remove(p.Target + s); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("restore: %w", err)
		}
	}
	if err := p.step(stepRemoveWAL); err != nil {
		crashed = true
		return res, err
	}
	// 6. Replace, and make it durable.
	if err := os.Rename(ready, p.Target); err != nil {
		return res, fmt.Errorf("restore: replace %s: %w", p.Target, err)
	}
	p.done = true
	if err := p.step(stepReplace); err != nil {
		crashed = true
		return res, err
	}
	if err := syncDir(filepath.Dir(p.Target)); err != nil {
		return res, err
	}
	if err := p.step(stepSyncDir); err != nil {
		crashed = true
		return res, err
	}
	return res, nil
}

// checkNotInUse fails with ErrTargetInUse when another connection (in this
// process or another) has the database open. It asks SQLite for the
// exclusive lock that exclusive locking mode needs to read a WAL database:
// any other open connection holds a shared lock on the WAL index and makes
// that fail at once. When nobody has it open, closing this connection
// checkpoints the database (content-preserving).
func checkNotInUse(ctx context.Context, path string) error {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(250)")
	q.Add("_pragma", "locking_mode(EXCLUSIVE)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var n int
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema`).Scan(&n)
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED) {
		return fail(ErrTargetInUse, "%s is in use by a running server (or another process): stop it or use the server's restore", path)
	}
	// Other errors (not a database, unreadable) are left to the steps
	// that follow, which say more.
	return nil
}

// checkpointFile copies a database's WAL into its main file and truncates
// the WAL, with a connection of its own (the caller made sure no other
// exists).
func checkpointFile(ctx context.Context, path string) error {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(1000)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var busy, log, done int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil {
		return err
	}
	if busy != 0 {
		return fail(ErrTargetInUse, "%s is in use: its WAL could not be checkpointed", path)
	}
	return db.Close()
}

// rawCopy copies a database file that SQLite cannot open (and its -wal,
// if any) into dir as a safety copy.
func rawCopy(target, dir, host string, now time.Time) (string, error) {
	if host == "" {
		host = DefaultHost()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	n := Name{Type: TypeSafety, Host: SanitizeHost(host), Time: now.UTC().Truncate(time.Second), Compression: CompressionNone}
	var dst string
	for n.Seq = 1; ; n.Seq++ {
		dst = filepath.Join(dir, n.String())
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err := copyFileDurably(target, dst); err != nil {
		return "", err
	}
	if _, err := os.Stat(target + "-wal"); err == nil {
		if err := copyFileDurably(target+"-wal", dst+"-wal"); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func copyFileDurably(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := createTemp(filepath.Dir(dst), filepath.Base(dst))
	if err != nil {
		return err
	}
	if _, err := io.Copy(&flushWriter{f: f}, in); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return commitTemp(f, dst, true)
}

// removeStale removes temporary files of ours older than staleAge from dir
// (left by a restore or verification that was killed).
func removeStale(dir string, now time.Time) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), tempPrefix) {
			continue
		}
		if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > staleAge {
			os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}

// quickCheck runs PRAGMA quick_check on a database file.
func quickCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("quick_check: %s", res)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
