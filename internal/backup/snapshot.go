package backup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Source is a database a backup copies: an open *sqldb.DB (the running
// server's own, so the snapshot never races its writer) or FileSource for
// a database file no process has open.
type Source interface {
	SnapshotTo(ctx context.Context, path string) (sqldb.SnapshotInfo, error)
	SchemaSnapshotTo(ctx context.Context, path string) (sqldb.SchemaSnapshot, error)
}

// FileSource is a Source for the SQLite file at path, opened read-only for
// each snapshot and never migrated or changed (a backup taken before an
// upgrade must hold the old schema). Use it when no server runs; it is
// still consistent if another process writes meanwhile (it is one more
// WAL reader), but the server's own DB is the better source then.
func FileSource(path string) Source { return fileSource(path) }

type fileSource string

// Path is the database file's path.
func (f fileSource) Path() string { return string(f) }

func (f fileSource) SnapshotTo(ctx context.Context, path string) (sqldb.SnapshotInfo, error) {
	return sqldb.SnapshotFile(ctx, string(f), path)
}

func (f fileSource) SchemaSnapshotTo(ctx context.Context, path string) (sqldb.SchemaSnapshot, error) {
	return sqldb.SchemaSnapshotFile(ctx, string(f), path)
}

// Engine takes backups of one database into one directory.
type Engine struct {
	// Source is the database to back up.
	Source Source
	// Dir is the backup directory (CAMPFIRE_BACKUP_DIR), created 0700 if
	// needed. It holds the artifacts, their manifests and the lock.
	Dir string
	// Host names the backups; empty means DefaultHost().
	Host string
	// AppVersion is recorded in manifests.
	AppVersion string
	// Identities, when set, let Verify decrypt an encrypted backup it has
	// just written; without them an encrypted backup is verified before
	// encryption (see Manifest.Verification).
	Identities *Identities
	// LockWait is how long a backup waits for another one to finish;
	// zero means DefaultLockWait.
	LockWait time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Request is one backup.
type Request struct {
	// Type is full, hot or schema. Incremental fails with
	// ErrIncrementalUnavailable.
	Type Type
	// Compression defaults to what Output's suffix says, else zstd.
	Compression Compression
	// Encrypt asks for encryption; it needs Recipients. Recipients alone
	// also encrypt: a configured key is never silently left unused.
	Encrypt bool
	// Recipients are recipient specifications (see ParseRecipients).
	Recipients []string
	// Output overrides the artifact's file name. A bare name goes into
	// Dir; a name with a directory is used as a path. Suffixes for the
	// chosen compression and encryption are appended when missing (so
	// the name says how to open the file); suffixes that contradict the
	// request are refused. An existing file is never replaced.
	Output string
	// Verify verifies the artifact once written (see Verify) and records
	// the result in the manifest.
	Verify bool
	// Progress, when set, is called now and then with the bytes of the
	// snapshot streamed so far and its size, from the calling goroutine.
	Progress func(done, total int64)
}

// Result is a backup taken.
type Result struct {
	// Path is the artifact; ManifestPath its manifest; SchemaPath the
	// .sql text of a schema backup ("" otherwise).
	Path         string    `json:"path"`
	ManifestPath string    `json:"manifest_path"`
	SchemaPath   string    `json:"schema_path,omitempty"`
	Manifest     *Manifest `json:"manifest"`
	// Report is the verification report when Request.Verify was set.
	Report *Report `json:"report,omitempty"`
	// Upload is the off-site copy, when one was asked for and made.
	Upload *Upload `json:"upload,omitempty"`
	// Snapshot is how long the consistent snapshot took: the only part
	// that holds a read transaction on the database.
	Snapshot time.Duration `json:"snapshot_ns"`
}

func (e *Engine) now() time.Time { return nowOr(e.Now) }

// nowOr is now (UTC) from clock, or from time.Now when clock is nil.
func nowOr(clock func() time.Time) time.Time {
	if clock != nil {
		return clock().UTC()
	}
	return time.Now().UTC()
}

// loggerOr is l, or a logger that discards when l is nil.
func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Backup takes a backup. It holds the backup directory's lock while it
// works: a second backup waits up to LockWait for the first, then fails
// with ErrBusy. On error nothing is left but, at worst, temporary files
// (named .campfire-tmp-…) that the next Prune removes.
//
// When Request.Verify is set and verification fails, Backup returns the
// result (artifact and manifest stay, unverified, for inspection) and an
// ErrVerifyFailed error.
func (e *Engine) Backup(ctx context.Context, req Request) (*Result, error) {
	if req.Type == TypeSafety {
		return nil, fail(ErrInvalidRequest, "safety backups are made by restore, not on request")
	}
	return e.backup(ctx, req, true)
}

type plan struct {
	typ        Type
	comp       Compression
	recipients *Recipients
	dir        string // where the artifact goes
	output     string // the file name, if Output gave one
}

// prepare checks a request before any work is done.
func (e *Engine) prepare(req Request) (*plan, error) {
	p := &plan{typ: req.Type}
	switch req.Type {
	case TypeFull, TypeHot, TypeSchema, TypeSafety:
	case TypeIncremental:
		return nil, fail(ErrIncrementalUnavailable, "%s", ErrIncrementalUnavailable.Message)
	default:
		if _, err := ParseType(string(req.Type)); err != nil {
			return nil, err
		}
	}
	if e.Source == nil {
		return nil, fail(ErrInvalidRequest, "backup: no source database")
	}
	if e.Dir == "" {
		return nil, fail(ErrInvalidRequest, "backup: no backup directory (CAMPFIRE_BACKUP_DIR)")
	}
	if req.Encrypt || len(req.Recipients) > 0 {
		r, err := ParseRecipients(req.Recipients...)
		if err != nil {
			return nil, err
		}
		if r.Len() == 0 {
			return nil, fail(ErrNoRecipients, "%s", ErrNoRecipients.Message)
		}
		p.recipients = r
	}
	if req.Compression != "" {
		c, err := ParseCompression(string(req.Compression))
		if err != nil {
			return nil, err
		}
		p.comp = c
	}
	p.dir = e.Dir
	if req.Output != "" {
		if err := p.resolveOutput(req.Output); err != nil {
			return nil, err
		}
	}
	if p.comp == "" {
		p.comp = CompressionZstd
	}
	return p, nil
}

// resolveOutput applies an Output override (see Request.Output).
func (p *plan) resolveOutput(output string) error {
	name := filepath.Base(output)
	if name == "." || name == ".." || name == string(filepath.Separator) || strings.HasPrefix(name, tempPrefix) || strings.HasSuffix(name, ManifestSuffix) {
		return fail(ErrInvalidRequest, "output name %q cannot be used", output)
	}
	if name != output {
		p.dir = filepath.Dir(output)
	}
	// Peel the suffixes the name already has.
	rest, nameEnc, nameComp := name, EncryptionNone, Compression("")
	switch {
	case strings.HasSuffix(rest, ".age"):
		nameEnc, rest = EncryptionAge, strings.TrimSuffix(rest, ".age")
	case strings.HasSuffix(rest, ".gpg"):
		nameEnc, rest = EncryptionOpenPGP, strings.TrimSuffix(rest, ".gpg")
	}
	switch {
	case strings.HasSuffix(rest, ".zst"):
		nameComp = CompressionZstd
	case strings.HasSuffix(rest, ".gz"):
		nameComp = CompressionGzip
	}
	enc := p.recipients.Encryption()
	if nameEnc != EncryptionNone && nameEnc != enc {
		return fail(ErrInvalidRequest, "output name %q ends in %s but the backup is %s", name, nameEnc.Ext(), describeEncryption(enc))
	}
	if p.comp == "" {
		p.comp = nameComp
		if p.comp == "" {
			p.comp = CompressionZstd
		}
	}
	if nameComp != "" && nameComp != p.comp {
		return fail(ErrInvalidRequest, "output name %q ends in %s but compression is %s: use --compress=%s or rename", name, nameComp.Ext(), p.comp, nameComp)
	}
	if nameEnc == EncryptionNone {
		if nameComp == "" {
			name += p.comp.Ext()
		}
		name += enc.Ext()
	}
	p.output = name
	return nil
}

func describeEncryption(e Encryption) string {
	if e == EncryptionNone {
		return "not encrypted"
	}
	return "encrypted with " + string(e)
}

// backup does the work; lock says whether to take the directory lock (a
// restore already holds it when it takes the safety copy).
func (e *Engine) backup(ctx context.Context, req Request, lock bool) (res *Result, err error) {
	p, err := e.prepare(req)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create backup directory: %w", err)
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	if lock {
		wait := e.LockWait
		if wait == 0 {
			wait = DefaultLockWait
		}
		l, err := LockDir(ctx, e.Dir, wait)
		if err != nil {
			return nil, err
		}
		defer l.Unlock()
	}
	host := e.Host
	if host == "" {
		host = DefaultHost()
	}
	host = SanitizeHost(host)
	started := e.now()

	// 1. The snapshot, into a scratch file in the backup directory.
	scratch := filepath.Join(p.dir, tempPrefix+"snapshot-"+randomSuffix()+".db")
	defer removeDBFiles(scratch)
	m := &Manifest{
		FormatVersion: ManifestFormatVersion,
		Type:          p.typ,
		StartedAt:     started,
		Host:          host,
		AppVersion:    e.AppVersion,
		Engine:        "sqlite",
		Compression:   p.comp,
		Encryption:    p.recipients.Encryption(),
		Recipients:    p.recipients.Fingerprints(),
	}
	if m.Recipients == nil {
		m.Recipients = []string{}
	}
	var schemaSQL string
	snapStart := time.Now()
	if p.typ == TypeSchema {
		s, err := e.Source.SchemaSnapshotTo(ctx, scratch)
		if err != nil {
			return nil, fmt.Errorf("schema snapshot: %w", err)
		}
		m.SQLiteVersion, m.SchemaVersion = s.SQLiteVersion, s.SchemaVersion
		m.PageSize, m.PageCount = s.PageSize, s.PageCount
		m.SourcePosition.SnapshotAt = s.SnapshotAt
		m.RowCounts = map[string]int64{}
		for _, t := range sqldb.CoreTables {
			m.RowCounts[t] = 0
		}
		m.SnapshotMethod = "schema"
		schemaSQL = s.SQL
	} else {
		info, err := e.Source.SnapshotTo(ctx, scratch)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		m.SQLiteVersion, m.SchemaVersion = info.SQLiteVersion, info.SchemaVersion
		m.PageSize, m.PageCount = info.PageSize, info.PageCount
		m.RowCounts = info.RowCounts
		m.SourcePosition = SourcePosition{MaxMessageID: info.Position.MaxMessageID, SnapshotAt: info.Position.SnapshotAt}
		m.SnapshotMethod = string(info.Method)
		if cs, ok := e.Source.(*chainSource); ok {
			m.Chain = cs.position()
		}
	}
	snapTook := time.Since(snapStart)
	m.CreatedAt = m.SourcePosition.SnapshotAt
	if m.CreatedAt.IsZero() {
		m.CreatedAt = started
	}

	// 2. Its name, with the UTC time the backup started.
	path, err := p.artifactPath(Name{Type: p.typ, Host: host, Time: started.Truncate(time.Second), Compression: p.comp, Encryption: m.Encryption})
	if err != nil {
		return nil, err
	}
	m.File = filepath.Base(path)
	res = &Result{Path: path, ManifestPath: ManifestPath(path), Manifest: m, Snapshot: snapTook}

	// 3. Stream scratch → compression → encryption → temporary artifact,
	// hashing both ends; fsync, 0600, rename.
	if err := e.store(ctx, scratch, path, p, m, req.Progress); err != nil {
		return nil, err
	}
	if p.typ == TypeSchema {
		res.SchemaPath = SchemaPath(path)
		if err := writeFileAtomic(res.SchemaPath, []byte(schemaSQL)); err != nil {
			return nil, fmt.Errorf("write schema text: %w", err)
		}
		sum := sha256.Sum256([]byte(schemaSQL))
		m.SchemaFile = filepath.Base(res.SchemaPath)
		m.SchemaSHA256 = hex.EncodeToString(sum[:])
	}
	m.FinishedAt = e.now()
	// 4. The manifest, the same way.
	if err := m.write(res.ManifestPath); err != nil {
		return nil, err
	}

	if !req.Verify {
		return res, nil
	}
	// 5. Verification, recorded in the manifest.
	rep, err := e.verifyNew(ctx, path, scratch, m)
	res.Report = rep
	if err != nil {
		return res, err
	}
	at := e.now()
	m.VerifiedAt = &at
	if rep.decoded {
		m.Verification = VerifiedFull
	} else {
		m.Verification = VerifiedBeforeEncryption
	}
	if err := m.write(res.ManifestPath); err != nil {
		return res, err
	}
	return res, nil
}

// artifactPath picks the artifact's path: Output's, or the contract name
// with the first free sequence number.
func (p *plan) artifactPath(n Name) (string, error) {
	if p.output != "" {
		path := filepath.Join(p.dir, p.output)
		if _, err := os.Lstat(path); err == nil {
			return "", fail(ErrInvalidRequest, "output %s already exists; choose another name", path)
		}
		if _, err := os.Lstat(ManifestPath(path)); err == nil {
			return "", fail(ErrInvalidRequest, "output %s: its manifest name %s is taken by another backup", path, filepath.Base(ManifestPath(path)))
		}
		return path, nil
	}
	for seq := 1; ; seq++ {
		n.Seq = seq
		path := filepath.Join(p.dir, n.String())
		_, err1 := os.Lstat(path)
		_, err2 := os.Lstat(ManifestPath(path))
		if errors.Is(err1, fs.ErrNotExist) && errors.Is(err2, fs.ErrNotExist) {
			return path, nil
		}
	}
}

// store streams the scratch snapshot into the artifact at path and fills
// the manifest's sizes and checksums.
func (e *Engine) store(ctx context.Context, scratch, path string, p *plan, m *Manifest, progress func(done, total int64)) (err error) {
	src, err := os.Open(scratch)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	total := fi.Size()

	f, err := createTemp(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return fmt.Errorf("create artifact: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	storedHash := sha256.New()
	stored := &countingWriter{w: io.MultiWriter(&flushWriter{f: f}, storedHash)}
	enc, err := newEncoder(stored, p.comp, p.recipients)
	if err != nil {
		return err
	}
	rawHash := sha256.New()
	buf := make([]byte, 1<<20)
	var done int64
	lastReport := time.Now()
	if progress != nil {
		progress(0, total)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			rawHash.Write(buf[:n])
			if _, err := enc.Write(buf[:n]); err != nil {
				return fmt.Errorf("write artifact: %w", err)
			}
			done += int64(n)
			if progress != nil && time.Since(lastReport) > 200*time.Millisecond {
				progress(done, total)
				lastReport = time.Now()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("read snapshot: %w", rerr)
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if progress != nil {
		progress(done, total)
	}
	m.DatabaseBytes = done
	m.DatabaseSHA256 = hex.EncodeToString(rawHash.Sum(nil))
	m.StoredBytes = stored.n
	m.StoredSHA256 = hex.EncodeToString(storedHash.Sum(nil))
	committed = true
	if err := commitTemp(f, path, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fail(ErrInvalidRequest, "output %s already exists; choose another name", path)
		}
		return fmt.Errorf("store artifact: %w", err)
	}
	return nil
}

// verifyNew verifies an artifact just written. When it is encrypted and no
// identity at hand can decrypt it, the scratch snapshot (whose SHA-256 the
// manifest records as database_sha256, so it is exactly what was
// encrypted) gets the database checks, and the stored file is re-read
// against stored_sha256.
func (e *Engine) verifyNew(ctx context.Context, path, scratch string, m *Manifest) (*Report, error) {
	if m.Encryption == EncryptionNone || e.Identities.canDecrypt(m.Encryption) {
		// The scratch snapshot is not needed: free its space first.
		removeDBFiles(scratch)
		return Verify(ctx, path, VerifyOptions{Identities: e.Identities, TempDir: filepath.Dir(scratch)})
	}
	rep := &Report{File: path, Manifest: m}
	rep.Warnings = append(rep.Warnings, "no identity to decrypt the backup was given: the snapshot was checked before encryption and the stored file against its checksum")
	if !checkStored(ctx, path, m, rep, nil) {
		return rep, rep.Err()
	}
	sum, n, err := hashFile(scratch)
	rep.add("database sha256", err == nil && sum == m.DatabaseSHA256 && n == m.DatabaseBytes, "%d bytes, sha256 %s", n, sum)
	if rep.ok() {
		checkDatabase(ctx, scratch, m, rep)
	}
	return rep, rep.Err()
}

func (ids *Identities) canDecrypt(e Encryption) bool {
	if ids == nil {
		return false
	}
	switch e {
	case EncryptionAge:
		return len(ids.age) > 0
	case EncryptionOpenPGP:
		return len(ids.pgp) > 0
	}
	return true
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// removeDBFiles removes a database file and its companions.
func removeDBFiles(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		os.Remove(p)
	}
}
