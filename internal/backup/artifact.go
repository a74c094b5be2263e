package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Type is the kind of a backup.
type Type string

const (
	// TypeFull is a consistent snapshot of the whole database.
	TypeFull Type = "full"
	// TypeHot is the same snapshot, recorded as taken while the server
	// was serving (both work with the server running or stopped).
	TypeHot Type = "hot"
	// TypeSchema is the database structure and migration records only.
	TypeSchema Type = "schema"
	// TypeIncremental is the continuous-backup segments shipped since the
	// last one: the running server's Replicator.Incremental, or
	// IncrementalFromFile with no server (Engine.Backup cannot take one).
	TypeIncremental Type = "incremental"
	// TypeSafety is the copy of the current database a restore makes
	// before replacing it. It is never requested directly.
	TypeSafety Type = "safety"
)

// ParseType parses a backup type as the CLI spells it.
func ParseType(s string) (Type, error) {
	switch t := Type(strings.ToLower(strings.TrimSpace(s))); t {
	case TypeFull, TypeHot, TypeSchema, TypeIncremental:
		return t, nil
	case TypeSafety:
		return t, fail(ErrInvalidRequest, "safety backups are made by restore, not on request")
	}
	return "", fail(ErrInvalidRequest, "unknown backup type %q: use full, hot, schema or incremental", s)
}

// restorable reports whether a backup of type t holds a whole database.
func (t Type) restorable() bool { return t == TypeFull || t == TypeHot || t == TypeSafety }

// File names. An artifact is
//
//	campfire_<type>_<host>_backup_<YYYYMMDD_HHMMSS>[_<n>].db[.zst|.gz][.age|.gpg]
//
// (the UTC time of the snapshot; _<n>, from 2, only when a backup of the
// same type, host and second exists), so the spec's glob
// campfire_*_backup_*.db* finds it. Its manifest is
// <base>.manifest.json, where <base> is the name before ".db": no ".db" in
// it, so no glob mistakes it for a backup. A schema backup also has
// <base>.sql, the schema as text.
const (
	namePrefix     = "campfire_"
	timeLayout     = "20060102_150405"
	ManifestSuffix = ".manifest.json"
	SchemaSuffix   = ".sql"
	// tempPrefix starts every temporary file the package writes, so no
	// glob of the spec's and no listing mistakes one for a backup.
	tempPrefix = ".campfire-tmp-"
	// LockName is the lock file in the backup directory.
	LockName = ".campfire-backup.lock"
)

var nameRE = regexp.MustCompile(`^campfire_([a-z]+)_([A-Za-z0-9.-]+)_backup_(\d{8}_\d{6})(?:_(\d+))?\.db(\.zst|\.gz)?(\.age|\.gpg)?$`)

// Name is a parsed artifact name.
type Name struct {
	Type        Type
	Host        string
	Time        time.Time // UTC, whole seconds
	Seq         int       // 0 or 1 for the first backup of its second, then 2, 3, ...
	Compression Compression
	Encryption  Encryption
}

// String returns the file name.
func (n Name) String() string {
	var b strings.Builder
	b.WriteString(namePrefix)
	b.WriteString(string(n.Type))
	b.WriteByte('_')
	b.WriteString(n.Host)
	b.WriteString("_backup_")
	b.WriteString(n.Time.UTC().Format(timeLayout))
	if n.Seq > 1 {
		b.WriteString("_" + strconv.Itoa(n.Seq))
	}
	b.WriteString(".db")
	b.WriteString(n.Compression.Ext())
	b.WriteString(n.Encryption.Ext())
	return b.String()
}

// ParseName parses a file name (not a path) written by this package.
func ParseName(name string) (Name, bool) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return Name{}, false
	}
	t, err := time.ParseInLocation(timeLayout, m[3], time.UTC)
	if err != nil {
		return Name{}, false
	}
	n := Name{Type: Type(m[1]), Host: m[2], Time: t, Compression: CompressionNone}
	if m[4] != "" {
		n.Seq, _ = strconv.Atoi(m[4])
	}
	switch m[5] {
	case ".zst":
		n.Compression = CompressionZstd
	case ".gz":
		n.Compression = CompressionGzip
	}
	switch m[6] {
	case ".age":
		n.Encryption = EncryptionAge
	case ".gpg":
		n.Encryption = EncryptionOpenPGP
	}
	return n, true
}

// baseName strips the artifact suffixes (.age, .gpg, .zst, .gz, then .db)
// from a file name.
func baseName(name string) string {
	base := name
	for _, ext := range []string{".age", ".gpg", ".zst", ".gz", ".db"} {
		base = strings.TrimSuffix(base, ext)
	}
	if base == "" {
		return name
	}
	return base
}

// ManifestPath returns the manifest path of an artifact path.
func ManifestPath(artifact string) string {
	return filepath.Join(filepath.Dir(artifact), baseName(filepath.Base(artifact))+ManifestSuffix)
}

// SchemaPath returns the path of the .sql text of a schema artifact.
func SchemaPath(artifact string) string {
	return filepath.Join(filepath.Dir(artifact), baseName(filepath.Base(artifact))+SchemaSuffix)
}

// SanitizeHost keeps a host name's letters, digits, dots and dashes and
// turns every other run of characters into one dash ("_" separates the
// parts of a name). An empty result is "localhost".
func SanitizeHost(host string) string {
	var b strings.Builder
	dash := false
	for _, r := range host {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-.")
	if s == "" {
		return "localhost"
	}
	return s
}

// DefaultHost is the sanitized os.Hostname.
func DefaultHost() string {
	h, _ := os.Hostname()
	return SanitizeHost(h)
}

// Writing files. Every file is written under a temporary name in its final
// directory, fsynced, made owner-only (0600), renamed into place and the
// directory fsynced: a crash leaves the old state or the new, and at worst a
// temporary file whose name starts with tempPrefix.

// createTemp creates an owner-only temporary file in dir for the file name.
func createTemp(dir, name string) (*os.File, error) {
	f, err := os.CreateTemp(dir, tempPrefix+name+"-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// commitTemp syncs and closes f, then renames it to final. With noClobber
// it refuses to replace an existing file (fs.ErrExist).
func commitTemp(f *os.File, final string, noClobber bool) error {
	tmp := f.Name()
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = renameFile(tmp, final, noClobber)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(final))
}

// renameFile renames src to dst; with noClobber it fails with fs.ErrExist
// when dst exists (a hard link is the atomic no-replace rename on every
// POSIX file system; where links are unsupported, the directory lock the
// callers hold makes check-then-rename safe).
func renameFile(src, dst string, noClobber bool) error {
	if !noClobber {
		return os.Rename(src, dst)
	}
	err := os.Link(src, dst)
	if err == nil {
		return os.Remove(src)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", dst, fs.ErrExist)
	}
	if _, serr := os.Lstat(dst); serr == nil {
		return fmt.Errorf("%s: %w", dst, fs.ErrExist)
	}
	return os.Rename(src, dst)
}

// syncDir fsyncs a directory so that renames and removals in it survive a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file (replacing
// path if it exists).
func writeFileAtomic(path string, data []byte) error {
	f, err := createTemp(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return commitTemp(f, path, false)
}

// flushWriter writes to a file and pushes what it wrote to the disk every
// few MiB (see flush_linux.go), so that the final fsync of a large file
// never has hundreds of MiB to write at once: such a flush makes every
// other fsync on the disk wait, the live database's commits included.
type flushWriter struct {
	f       *os.File
	off     int64 // bytes written
	flushed int64 // bytes handed to the disk
}

const flushEvery = 8 << 20

func (w *flushWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if err == nil && w.off-w.flushed >= flushEvery {
		flushRange(w.f, w.flushed, w.off-w.flushed)
		w.flushed = w.off
	}
	return n, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Lock is the exclusive lock on a backup directory. Backups, prunes and
// restores hold it, so two never work on the same directory at once.
type Lock struct {
	f *os.File
}

// DefaultLockWait is how long LockDir waits for another holder by default.
const DefaultLockWait = 10 * time.Second

// LockDir takes the lock on dir (creating dir and the lock file if
// needed). While another process or goroutine holds it, it retries until
// wait has passed or ctx ends, then fails with ErrBusy naming the holder's
// pid.
func LockDir(ctx context.Context, dir string, wait time.Duration) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create backup directory: %w", err)
	}
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open backup lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := tryLock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := ctx.Err(); err != nil {
			f.Close()
			return nil, fmt.Errorf("wait for the backup lock in %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			holder, _ := os.ReadFile(path)
			f.Close()
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fail(ErrBusy, "another backup is running in %s (pid %s); waited %s", dir, pid, wait.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The holder's pid, for the message above; best effort.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
