package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// RequiredTables must exist in every backup (the spec's list, plus the
// migration records).
var RequiredTables = []string{"users", "rooms", "messages", "room_memberships", "sessions", "schema_migrations"}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Identities decrypt encrypted artifacts.
	Identities *Identities
	// TempDir receives the decoded database while it is checked (as big
	// as the database); empty means the artifact's directory.
	TempDir string
	// AllowMissingManifest verifies a file without a manifest as far as
	// possible (decoding, integrity, tables, consistency) and reports the
	// missing manifest as a warning instead of a failed check. Size,
	// checksums and row counts cannot be checked then.
	AllowMissingManifest bool
	// Progress, when set, is called now and then with the stored bytes
	// read so far (the file is read twice: checksum, then decoding) and
	// twice the stored size.
	Progress func(done, total int64)
}

// Check is one verification step.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Report is the outcome of a verification, for people (each check with
// its detail) and scripts (JSON).
type Report struct {
	File string `json:"file"`
	// Manifest is the artifact's manifest (nil when missing or unreadable).
	Manifest   *Manifest `json:"manifest,omitempty"`
	NoManifest bool      `json:"no_manifest"`
	Checks     []Check   `json:"checks"`
	Warnings   []string  `json:"warnings,omitempty"`
	OK         bool      `json:"ok"`
	// SchemaVersion and RowCounts are read from the decoded database.
	SchemaVersion int              `json:"schema_version"`
	RowCounts     map[string]int64 `json:"row_counts,omitempty"`

	decoded bool // the stored file was decoded (not only the pre-encryption snapshot)
}

func (r *Report) add(name string, ok bool, format string, args ...any) bool {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	r.OK = r.ok()
	return ok
}

func (r *Report) ok() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the checks that failed.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Err is nil when every check passed, else an ErrVerifyFailed error naming
// the failed checks.
func (r *Report) Err() error {
	r.OK = r.ok()
	if r.OK {
		return nil
	}
	var parts []string
	for _, c := range r.Failed() {
		parts = append(parts, c.Name+": "+c.Detail)
	}
	return fail(ErrVerifyFailed, "backup %s failed verification: %s", filepath.Base(r.File), strings.Join(parts, "; "))
}

// Verify checks an artifact end to end, in an order that never decodes
// bytes it cannot trust:
//
//  1. the manifest beside it (missing: a failed check, or a warning with
//     AllowMissingManifest);
//  2. the stored size and SHA-256 of the stored bytes: any corruption or
//     truncation of the file stops verification here, before decryption;
//  3. decryption and decompression into a temporary file, and the SHA-256
//     of the database it yields;
//  4. PRAGMA integrity_check, PRAGMA foreign_key_check, the required
//     tables, the schema version, the row counts of the manifest, and
//     consistency (no messages without users or rooms, no memberships
//     without rooms or users, no boosts without messages, no sessions
//     without users). A schema backup instead must hold the migration
//     records and no rows.
//
// The error is nil when the report is OK, else an ErrVerifyFailed (or
// ErrNoIdentity) error; the report lists every check either way.
func Verify(ctx context.Context, path string, opts VerifyOptions) (*Report, error) {
	rep, tmp, err := verify(ctx, path, opts, "")
	if tmp != "" {
		removeDBFiles(tmp)
	}
	return rep, err
}

// verify is Verify that decodes into keepDir when it is set and returns the
// decoded database's path, which the caller removes ("" when nothing was
// decoded).
func verify(ctx context.Context, path string, opts VerifyOptions, keepDir string) (*Report, string, error) {
	rep := &Report{File: path}
	m, merr := ReadManifest(ManifestPath(path))
	switch {
	case merr == nil:
		rep.Manifest = m
		if m.File != filepath.Base(path) {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the manifest names %s: the artifact was renamed", m.File))
		}
		rep.add("manifest", true, "%s", filepath.Base(ManifestPath(path)))
	case errors.Is(merr, ErrNoManifest):
		rep.NoManifest = true
		msg := fmt.Sprintf("no manifest %s: size, checksums and row counts cannot be checked, so damage that leaves a well-formed database goes unnoticed", filepath.Base(ManifestPath(path)))
		if opts.AllowMissingManifest {
			rep.Warnings = append(rep.Warnings, msg)
		} else {
			rep.add("manifest", false, "%s", msg)
		}
	default:
		rep.NoManifest = true
		rep.add("manifest", false, "%v", merr)
	}

	// 2. The stored bytes, before anything decodes them.
	if m != nil && !checkStored(ctx, path, m, rep, opts.Progress) {
		return rep, "", rep.Err()
	}
	if _, err := os.Stat(path); err != nil {
		rep.add("stored file", false, "%v", err)
		return rep, "", rep.Err()
	}

	// 3. Decode into a temporary file.
	dir := keepDir
	if dir == "" {
		dir = opts.TempDir
	}
	if dir == "" {
		dir = filepath.Dir(path)
	}
	tmp, err := decodeTo(ctx, path, m, opts, dir)
	if err != nil {
		if errors.Is(err, ErrNoIdentity) {
			rep.add("decrypt", false, "%v", err)
			return rep, tmp, err
		}
		rep.add("decode", false, "%v", err)
		return rep, tmp, rep.Err()
	}
	rep.decoded = true
	sum, n, err := hashFile(tmp)
	if err != nil {
		rep.add("database sha256", false, "%v", err)
		return rep, tmp, rep.Err()
	}
	if m != nil {
		if !rep.add("database sha256", sum == m.DatabaseSHA256 && n == m.DatabaseBytes,
			"decoded %d bytes with sha256 %s; manifest: %d bytes, %s", n, sum, m.DatabaseBytes, m.DatabaseSHA256) {
			return rep, tmp, rep.Err()
		}
	} else {
		rep.add("decode", true, "%d bytes", n)
	}

	// 4. The database.
	checkDatabase(ctx, tmp, m, rep)
	if m != nil && m.SchemaFile != "" {
		sum, _, err := hashFile(filepath.Join(filepath.Dir(path), m.SchemaFile))
		rep.add("schema text", err == nil && sum == m.SchemaSHA256, "%s: sha256 %s, manifest %s%s", m.SchemaFile, sum, m.SchemaSHA256, errSuffix(err))
	}
	return rep, tmp, rep.Err()
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// checkStored checks the artifact's size and the SHA-256 of its stored
// bytes against the manifest.
func checkStored(ctx context.Context, path string, m *Manifest, rep *Report, progress func(done, total int64)) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return rep.add("stored size", false, "%v", err)
	}
	if !rep.add("stored size", fi.Size() == m.StoredBytes, "%d bytes; manifest: %d", fi.Size(), m.StoredBytes) {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return rep.add("stored sha256", false, "%v", err)
	}
	defer f.Close()
	h := sha256.New()
	var r io.Reader = f
	if progress != nil {
		r = &progressReader{r: f, total: 2 * fi.Size(), fn: progress}
	}
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: r}); err != nil {
		return rep.add("stored sha256", false, "%v", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return rep.add("stored sha256", sum == m.StoredSHA256, "%s; manifest: %s", sum, m.StoredSHA256)
}

// decodeTo decrypts and decompresses the artifact into a new temporary
// file in dir and returns its path ("" when it could not create it).
func decodeTo(ctx context.Context, path string, m *Manifest, opts VerifyOptions, dir string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	// The stored bytes are hashed again as they are decoded, so a file
	// that changes after its checksum was checked is noticed too.
	stored := sha256.New()
	var r io.Reader = io.TeeReader(src, stored)
	if opts.Progress != nil {
		fi, _ := src.Stat()
		var base int64
		if m != nil {
			base = fi.Size() // the checksum pass read it once already
		}
		r = &progressReader{r: r, done: base, total: 2 * fi.Size(), fn: opts.Progress}
	}
	var dec *decoder
	if m != nil {
		dec, err = newDecoder(r, m.Encryption, m.Compression, true, opts.Identities)
	} else {
		dec, err = newDecoder(r, "", "", false, opts.Identities)
	}
	if err != nil {
		return "", err
	}
	defer dec.Close()
	f, err := os.CreateTemp(dir, tempPrefix+"decoded-*.db")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = io.Copy(&flushWriter{f: f}, &ctxReader{ctx: ctx, r: dec})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return tmp, err
	}
	if m != nil {
		// Decoders may stop before the end (trailing bytes): hash the rest.
		if _, err := io.Copy(stored, src); err != nil {
			return tmp, err
		}
		if sum := hex.EncodeToString(stored.Sum(nil)); sum != m.StoredSHA256 {
			return tmp, fmt.Errorf("the file changed while it was verified (sha256 now %s)", sum)
		}
	}
	head := make([]byte, len(sqliteMagic))
	if hf, err := os.Open(tmp); err == nil {
		io.ReadFull(hf, head)
		hf.Close()
	}
	if !bytes.Equal(head, sqliteMagic) {
		return tmp, errors.New("the decoded data is not a SQLite database")
	}
	return tmp, nil
}

// checkDatabase runs the database checks on a plain SQLite file.
func checkDatabase(ctx context.Context, path string, m *Manifest, rep *Report) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(1000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		rep.add("open", false, "%v", err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	var problems []string
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err == nil {
		for rows.Next() {
			var s string
			rows.Scan(&s)
			problems = append(problems, s)
		}
		err = rows.Err()
		rows.Close()
	}
	if err != nil {
		rep.add("integrity_check", false, "%v", err)
		return
	}
	if !rep.add("integrity_check", len(problems) == 1 && problems[0] == "ok", "%s", strings.Join(problems, "; ")) {
		return
	}

	var fk []string
	rows, err = db.QueryContext(ctx, `SELECT "table", rowid, parent FROM pragma_foreign_key_check LIMIT 10`)
	if err == nil {
		for rows.Next() {
			var table, parent string
			var rowid sql.NullInt64
			rows.Scan(&table, &rowid, &parent)
			fk = append(fk, fmt.Sprintf("%s row %d → %s", table, rowid.Int64, parent))
		}
		err = rows.Err()
		rows.Close()
	}
	if err != nil {
		rep.add("foreign_key_check", false, "%v", err)
	} else {
		rep.add("foreign_key_check", len(fk) == 0, "%s", orText(strings.Join(fk, "; "), "no violations"))
	}

	have := map[string]bool{}
	rows, err = db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err == nil {
		for rows.Next() {
			var n string
			rows.Scan(&n)
			have[n] = true
		}
		rows.Close()
	}
	var missing []string
	for _, t := range RequiredTables {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if !rep.add("tables", len(missing) == 0, "%s", orText(prefixed("missing: ", strings.Join(missing, ", ")), strings.Join(RequiredTables, ", ")+" present")) {
		return
	}

	var version sql.NullInt64
	var migrations int64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version), COUNT(*) FROM schema_migrations`).Scan(&version, &migrations); err != nil {
		rep.add("schema version", false, "%v", err)
		return
	}
	rep.SchemaVersion = int(version.Int64)
	latest := sqldb.LatestSchemaVersion()
	if m != nil {
		rep.add("schema version", rep.SchemaVersion == m.SchemaVersion, "%d (%d migration records); manifest: %d; this binary: %d", rep.SchemaVersion, migrations, m.SchemaVersion, latest)
	} else {
		rep.add("schema version", migrations > 0, "%d (%d migration records); this binary: %d", rep.SchemaVersion, migrations, latest)
	}

	counts, err := sqldb.CountRows(ctx, db)
	if err != nil {
		rep.add("row counts", false, "%v", err)
		return
	}
	rep.RowCounts = counts
	switch {
	case m != nil && m.Type == TypeSchema:
		var nonEmpty []string
		for _, t := range slices.Sorted(maps.Keys(counts)) {
			if counts[t] != 0 {
				nonEmpty = append(nonEmpty, fmt.Sprintf("%s has %d", t, counts[t]))
			}
		}
		rep.add("schema only", len(nonEmpty) == 0 && migrations > 0, "%s", orText(strings.Join(nonEmpty, ", "), fmt.Sprintf("no rows, %d migration records", migrations)))
		return
	case m != nil:
		rep.add("row counts", maps.Equal(counts, m.RowCounts), "%s; manifest: %s", formatCounts(counts), formatCounts(m.RowCounts))
	default:
		rep.add("row counts", true, "%s", formatCounts(counts))
	}

	var bad []string
	for _, c := range consistencyChecks {
		if !have[c.table] || !have[c.parent] {
			continue
		}
		var n int64
		if err := db.QueryRowContext(ctx, c.query).Scan(&n); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", c.what, err))
		} else if n > 0 {
			bad = append(bad, fmt.Sprintf("%d %s", n, c.what))
		}
	}
	rep.add("consistency", len(bad) == 0, "%s", orText(strings.Join(bad, "; "), "no orphaned messages, memberships, boosts or sessions"))
}

var consistencyChecks = []struct{ table, parent, what, query string }{
	{"messages", "users", "messages without users", `SELECT COUNT(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.creator_id)`},
	{"messages", "rooms", "messages without rooms", `SELECT COUNT(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM rooms r WHERE r.id = m.room_id)`},
	{"room_memberships", "rooms", "memberships without rooms", `SELECT COUNT(*) FROM room_memberships x WHERE NOT EXISTS (SELECT 1 FROM rooms r WHERE r.id = x.room_id)`},
	{"room_memberships", "users", "memberships without users", `SELECT COUNT(*) FROM room_memberships x WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)`},
	{"boosts", "messages", "boosts without messages", `SELECT COUNT(*) FROM boosts b WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = b.message_id)`},
	{"sessions", "users", "sessions without users", `SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)`},
}

func formatCounts(c map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
	}
	return strings.Join(parts, " ")
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// progressReader reports bytes read.
type progressReader struct {
	r           io.Reader
	done, total int64
	fn          func(done, total int64)
	last        int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.done-p.last >= 16<<20 || err == io.EOF {
		p.fn(p.done, p.total)
		p.last = p.done
	}
	return n, err
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
