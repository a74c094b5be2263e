package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

// cli runs the campfire binary as a user would, on one data directory and
// one backup directory.
type cli struct {
	t         *testing.T
	bin       string
	dir       string // working directory
	dbPath    string
	backupDir string
	env       []string
}

func newCLI(t *testing.T, extraEnv ...string) *cli {
	t.Helper()
	dir := t.TempDir()
	c := &cli{t: t, bin: testBinary(t), dir: dir,
		dbPath: filepath.Join(dir, "data", "campfire.db"), backupDir: filepath.Join(dir, "backups")}
	c.env = append(append(cleanEnv(), "CAMPFIRE_DATABASE_URL="+c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir,
		"CAMPFIRE_LOG_FORMAT=json"), extraEnv...)
	return c
}

type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("campfire %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs the binary with args (and extra environment variables given as
// leading "NAME=value" arguments).
func (c *cli) run(args ...string) result {
	c.t.Helper()
	var env []string
	for len(args) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(args[0]) {
		env, args = append(env, args[0]), args[1:]
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(append([]string(nil), c.env...), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errOut.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	default:
		c.t.Fatalf("run campfire %q: %v", args, err)
	}
	return r
}

// want fails unless r exited with code and, on failure, its last stderr
// line is "campfire: …" containing every one of subs.
func (r result) want(t *testing.T, code int, subs ...string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d; %s", code, r)
	}
	if code == 0 {
		return r
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "campfire: ") {
		t.Errorf("the last stderr line %q is not \"campfire: …\"; %s", last, r)
	}
	for _, s := range subs {
		if !strings.Contains(last, s) {
			t.Errorf("the error line %q does not mention %q", last, s)
		}
	}
	return r
}

// seed creates the database with an administrator, a room and messages.
func seed(t *testing.T, path string, bodies ...string) {
	t.Helper()
	withDB(t, path, func(db *sqldb.DB) {
		admin, room := sqldbtest.MustFirstRun(t, db)
		for _, b := range bodies {
			sqldbtest.MustPost(t, db, admin.ID, room.ID, b)
		}
	})
}

// post adds messages as the administrator to the first room.
func post(t *testing.T, path string, bodies ...string) {
	t.Helper()
	withDB(t, path, func(db *sqldb.DB) {
		for _, b := range bodies {
			sqldbtest.MustPost(t, db, 1, 1, b)
		}
	})
}

// withDB opens the database, runs fn and closes it (which checkpoints it).
func withDB(t *testing.T, path string, fn func(db *sqldb.DB)) {
	t.Helper()
	db := sqldb.New(path)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	fn(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// bodies returns the message bodies in a database file, oldest first.
func bodies(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT body FROM messages ORDER BY id`)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var b string
		rows.Scan(&b)
		out = append(out, b)
	}
	return out
}

// events returns the audit log of a database file, oldest first.
func events(t *testing.T, path string) []*sqldb.BackupEvent {
	t.Helper()
	var evs []*sqldb.BackupEvent
	withDB(t, path, func(db *sqldb.DB) {
		var err error
		if evs, err = db.BackupEvents(context.Background(), 1000); err != nil {
			t.Fatal(err)
		}
	})
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

func sha256Of(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// dbState is the database's main file hash plus its -wal (if any): what
// must not change when a restore is refused.
func dbState(t *testing.T, path string) string {
	t.Helper()
	s := sha256Of(t, path)
	if _, err := os.Stat(path + "-wal"); err == nil {
		s += " wal " + sha256Of(t, path+"-wal")
	}
	return s
}

// backupJSON takes a backup with --json and returns its result.
func (c *cli) backupJSON(args ...string) *backup.Result {
	c.t.Helper()
	r := c.run(append(args, "--json")...).want(c.t, 0)
	var res backup.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Manifest == nil {
		c.t.Fatalf("backup --json printed %q: %v", r.stdout, err)
	}
	return &res
}

// ageKey generates an age identity, writes it to a file and returns the
// recipient and the file.
func ageKey(t *testing.T) (recipient, identityFile string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identityFile = filepath.Join(t.TempDir(), "backup-key.txt")
	if err := os.WriteFile(identityFile, []byte("# public key: "+id.Recipient().String()+"\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), identityFile
}

var contractName = regexp.MustCompile(`^campfire_(full|hot|schema|safety)_[A-Za-z0-9.-]+_backup_\d{8}_\d{6}(_\d+)?\.db(\.zst|\.gz)?(\.age|\.gpg)?$`)

// TestBackupCommands runs every backup command and flag without a server.
func TestBackupCommands(t *testing.T) {
	c := newCLI(t)

	t.Run("NoDatabase", func(t *testing.T) {
		c.run("backup", "full").want(t, 1, "no database at", c.dbPath)
		if _, err := os.Stat(c.dbPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("backup full created the database (%v)", err)
		}
	})
	seed(t, c.dbPath, "first message", "second message")

	var verified *backup.Result
	t.Run("FullCompressVerify", func(t *testing.T) {
		r := c.run("backup", "full", "--compress", "--verify").want(t, 0)
		entries, err := backup.List(c.backupDir)
		if err != nil || len(entries) != 1 {
			t.Fatalf("after one backup the directory lists %v (%v)", entries, err)
		}
		en := entries[0]
		if !contractName.MatchString(en.Name) || en.Compression != backup.CompressionZstd || en.Type != backup.TypeFull || !en.Verified() {
			t.Errorf("backup %+v: want a verified full zstd backup named by the contract", en)
		}
		if !strings.Contains(r.stdout, en.Path) || !strings.Contains(r.stdout, "verified: ") || !strings.Contains(r.stdout, "messages=2") {
			t.Errorf("stdout does not report the backup:\n%s", r.stdout)
		}
		if fi, err := os.Stat(en.Path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup file mode: %v, want 0600", err)
		}
		// The audit line is logged (stderr is the log of a command working alone).
		if !strings.Contains(r.stderr, `"msg":"backup audit"`) || !strings.Contains(r.stderr, `"action":"backup"`) {
			t.Errorf("no audit line in the log:\n%s", r.stderr)
		}
		verified = &backup.Result{Path: en.Path, Manifest: en.Manifest}
	})

	t.Run("Gzip", func(t *testing.T) {
		res := c.backupJSON("backup", "full", "--compress=gzip")
		if !strings.HasSuffix(res.Path, ".db.gz") || res.Manifest.Compression != backup.CompressionGzip || res.Manifest.Verified() {
			t.Errorf("--compress=gzip gave %s (%s, verified %v)", res.Path, res.Manifest.Compression, res.Manifest.Verified())
		}
		b, _ := os.ReadFile(res.Path)
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s is not gzip", res.Path)
		}
	})

	t.Run("HotJSON", func(t *testing.T) {
		res := c.backupJSON("backup", "hot", "--compress", "--verify")
		if res.Manifest.Type != backup.TypeHot || res.Report == nil || !res.Report.OK || !res.Manifest.Verified() ||
			res.Manifest.RowCounts["messages"] != 2 || res.ManifestPath != backup.ManifestPath(res.Path) {
			t.Errorf("hot --json = %+v", res)
		}
	})

	t.Run("Schema", func(t *testing.T) {
		res := c.backupJSON("backup", "schema")
		if res.Manifest.Type != backup.TypeSchema || res.SchemaPath == "" || res.Manifest.RowCounts["messages"] != 0 {
			t.Errorf("schema backup = %+v", res)
		}
		if sqlText, err := os.ReadFile(res.SchemaPath); err != nil || !strings.Contains(string(sqlText), "CREATE TABLE messages") {
			t.Errorf("schema text %s: %v", res.SchemaPath, err)
		}
	})

	t.Run("Output", func(t *testing.T) {
		c.run("backup", "full", "--compress", "--output", "custom_backup_20240101.db").want(t, 0)
		if _, err := os.Stat(filepath.Join(c.backupDir, "custom_backup_20240101.db.zst")); err != nil {
			t.Errorf("--output custom_backup_20240101.db: %v", err)
		}
		// The spec's pre-deployment backup: --compress with a .gz name is gzip.
		res := c.backupJSON("backup", "full", "--compress", "--verify", "--output", "pre_deployment_20240101_120000.db.gz")
		if res.Path != filepath.Join(c.backupDir, "pre_deployment_20240101_120000.db.gz") || res.Manifest.Compression != backup.CompressionGzip {
			t.Errorf("--output pre_deployment_….db.gz gave %s (%s)", res.Path, res.Manifest.Compression)
		}
		// A path is used as is; none stores the plain database.
		elsewhere := filepath.Join(t.TempDir(), "plain.db")
		c.run("backup", "full", "--compress=none", "--output", elsewhere).want(t, 0)
		if b, err := os.ReadFile(elsewhere); err != nil || !bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
			t.Errorf("--compress=none --output %s: not a plain SQLite file (%v)", elsewhere, err)
		}
		// An existing file is never replaced.
		c.run("backup", "full", "--output", "custom_backup_20240101.db").want(t, 1, "already exists")
	})

	t.Run("Encrypt", func(t *testing.T) {
		recipient, identity := ageKey(t)
		// To the configured recipients; verified before encryption without an identity.
		res := c.backupJSON("CAMPFIRE_BACKUP_AGE_RECIPIENTS="+recipient, "backup", "full", "--compress", "--verify", "--encrypt")
		if !strings.HasSuffix(res.Path, ".db.zst.age") || res.Manifest.Encryption != backup.EncryptionAge ||
			res.Manifest.Verification != backup.VerifiedBeforeEncryption || len(res.Manifest.Recipients) != 1 || res.Manifest.Recipients[0] != recipient {
			t.Errorf("encrypted backup = %s, manifest %+v", res.Path, res.Manifest)
		}
		b, _ := os.ReadFile(res.Path)
		if !bytes.HasPrefix(b, []byte("age-encryption.org/v1")) {
			t.Errorf("%s is not an age file", res.Path)
		}
		// To --recipient, verified fully with --identity.
		res2 := c.backupJSON("backup", "hot", "--encrypt", "--recipient", recipient, "--verify", "--identity", identity)
		if res2.Manifest.Encryption != backup.EncryptionAge || res2.Manifest.Verification != backup.VerifiedFull {
			t.Errorf("--recipient --identity: %+v", res2.Manifest)
		}
		// verify needs the identity, from the flag or the environment.
		c.run("backup", "verify", res.Path).want(t, 1, "no identity")
		c.run("backup", "verify", res.Path, "--identity", identity).want(t, 0)
		c.run("CAMPFIRE_BACKUP_AGE_IDENTITY_FILE="+identity, "backup", "verify", filepath.Base(res.Path)).want(t, 0)
		// Encryption without recipients, or with a bad one, is a usage error.
		c.run("backup", "full", "--encrypt").want(t, 2, "recipient")
		c.run("backup", "full", "--recipient", "not-a-key").want(t, 2, "not-a-key")
	})

	t.Run("NotAvailable", func(t *testing.T) {
		before, _ := backup.List(c.backupDir)
		c.run("backup", "incremental", "--compress").want(t, 1, "no continuous backup chain")
		c.run("backup", "incremental", "--output", "x.db").want(t, 2, "segments are named by their position")
		c.run("backup", "incremental", "--compress=gzip").want(t, 2, "always zstd")
		c.run("backup", "full", "--remote").want(t, 2, "--remote needs an off-site destination", "CAMPFIRE_BACKUP_REMOTE")
		c.run("backup", "list", "--remote").want(t, 2, "CAMPFIRE_BACKUP_REMOTE")
		after, _ := backup.List(c.backupDir)
		if len(after) != len(before) {
			t.Errorf("refused commands changed the backup directory: %d → %d entries", len(before), len(after))
		}
	})

	t.Run("Usage", func(t *testing.T) {
		c.run("backup", "full", "--compress=brotli").want(t, 2, "--compress=brotli")
		c.run("backup", "full", "--compress", "gzip").want(t, 2, "--compress=gzip")
		c.run("backup", "sideways").want(t, 2, "unknown command")
		c.run("backup", "verify").want(t, 2)
		r := c.run("backup", "--help").want(t, 0)
		for _, s := range []string{"full", "hot", "schema", "incremental", "list", "verify", "prune", "campfire backup full --compress --verify"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("campfire backup --help does not mention %q", s)
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		entries, _ := backup.List(c.backupDir)
		r := c.run("backup", "list").want(t, 0)
		if !strings.HasPrefix(r.stdout, "NAME") || strings.Count(r.stdout, "\n") != len(entries)+1 {
			t.Errorf("backup list printed %d lines for %d backups:\n%s", strings.Count(r.stdout, "\n"), len(entries), r.stdout)
		}
		for _, en := range entries {
			if !strings.Contains(r.stdout, en.Name) {
				t.Errorf("backup list does not show %s", en.Name)
			}
		}
		r = c.run("backup", "list", "--json").want(t, 0)
		var got []backup.Entry
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != len(entries) {
			t.Fatalf("backup list --json: %d entries (%v), want %d", len(got), err, len(entries))
		}
		if !got[0].CreatedAt.After(got[len(got)-1].CreatedAt) && !got[0].CreatedAt.Equal(got[len(got)-1].CreatedAt) {
			t.Error("backup list --json is not newest first")
		}
		empty := newCLI(t)
		if r := empty.run("backup", "list", "--json").want(t, 0); strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("an empty directory lists %q, want []", r.stdout)
		}
	})

	t.Run("Verify", func(t *testing.T) {
		r := c.run("backup", "verify", verified.Path).want(t, 0)
		if !strings.Contains(r.stdout, ": OK") || !strings.Contains(r.stdout, "integrity_check") {
			t.Errorf("verify printed:\n%s", r.stdout)
		}
		r = c.run("backup", "verify", filepath.Base(verified.Path), "--json").want(t, 0)
		var rep backup.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.OK || len(rep.Checks) < 8 {
			t.Errorf("verify --json = %+v (%v)", rep, err)
		}
		// A flipped byte in the middle of the file fails verification.
		b, _ := os.ReadFile(verified.Path)
		b[len(b)/2] ^= 0xff
		os.WriteFile(verified.Path, b, 0o600)
		r = c.run("backup", "verify", verified.Path).want(t, 1, "failed verification", "stored sha256")
		if !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "FAIL  stored sha256") {
			t.Errorf("verify of a corrupted backup printed:\n%s", r.stdout)
		}
		c.run("backup", "verify", "no_such_backup.db.zst").want(t, 1, "not found")
	})

	t.Run("AuditLog", func(t *testing.T) {
		evs := events(t, c.dbPath)
		var backups, verifies, failedVerifies int
		for _, ev := range evs {
			if !strings.HasPrefix(ev.Actor, "cli:") || ev.FinishedAt.Before(ev.StartedAt) {
				t.Errorf("event %+v: want a cli: actor and ordered times", ev)
			}
			switch {
			case ev.Action == "backup" && ev.Status == "success":
				backups++
			case ev.Action == "verify" && ev.Status == "success":
				verifies++
			case ev.Action == "verify" && ev.Status == "failure":
				failedVerifies++
				if !strings.Contains(ev.Detail, "stored sha256") && !strings.Contains(ev.Detail, "identity") && !strings.Contains(ev.Detail, "not found") {
					t.Errorf("failed verification recorded as %q", ev.Detail)
				}
			}
		}
		if backups < 9 || verifies < 5 || failedVerifies < 2 {
			t.Errorf("the audit log holds %d backups, %d verifications and %d failed ones:\n%v", backups, verifies, failedVerifies, evs)
		}
	})
}

// TestBackupConcurrent runs two backups at once without a server: the
// second waits for the first, and both succeed.
func TestBackupConcurrent(t *testing.T) {
	c := newCLI(t)
	seed(t, c.dbPath, "hello")
	var wg sync.WaitGroup
	results := make([]result, 3)
	for i := range results {
		wg.Go(func() { results[i] = c.run("backup", "full", "--compress", "--verify") })
	}
	wg.Wait()
	for _, r := range results {
		r.want(t, 0)
	}
	entries, _ := backup.List(c.backupDir)
	if len(entries) != 3 {
		t.Fatalf("three concurrent backups left %d backups", len(entries))
	}
	for _, en := range entries {
		if !en.Verified() {
			t.Errorf("%s: %s", en.Name, en.Status)
		}
	}
}

// setCreated rewrites a manifest's created_at, as if the backup had been
// taken then.
func setCreated(t *testing.T, artifact string, at time.Time) {
	t.Helper()
	mp := backup.ManifestPath(artifact)
	b, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	m["created_at"] = at.UTC().Format(time.RFC3339Nano)
	b, _ = json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(mp, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupPrune checks retention: --dry-run prints every decision with
// its reason and deletes nothing; prune deletes what the policy drops.
func TestBackupPrune(t *testing.T) {
	c := newCLI(t, "CAMPFIRE_BACKUP_RETENTION_DAYS=2", "CAMPFIRE_BACKUP_RETENTION_WEEKS=0",
		"CAMPFIRE_BACKUP_RETENTION_MONTHS=0", "CAMPFIRE_BACKUP_RETENTION_YEARS=0")
	seed(t, c.dbPath, "hello")
	now := time.Now()
	newest := c.backupJSON("backup", "full", "--verify")
	older := c.backupJSON("backup", "full", "--verify")
	old1 := c.backupJSON("backup", "full")
	old2 := c.backupJSON("backup", "full")
	custom := c.backupJSON("backup", "full", "--output", "keep_me.db")
	setCreated(t, older.Path, now.Add(-5*24*time.Hour))
	setCreated(t, old1.Path, now.Add(-10*24*time.Hour))
	setCreated(t, old2.Path, now.Add(-10*24*time.Hour-time.Hour))
	setCreated(t, custom.Path, now.Add(-400*24*time.Hour))
	stale := filepath.Join(c.backupDir, ".campfire-tmp-snapshot-abc.db")
	os.WriteFile(stale, []byte("x"), 0o600)
	os.Chtimes(stale, now.Add(-48*time.Hour), now.Add(-48*time.Hour))
	doomed := []string{older.Path, old1.Path, old2.Path}

	r := c.run("backup", "prune", "--dry-run").want(t, 0)
	lines := strings.Split(r.stdout, "\n")
	lineOf := func(name string) string {
		for _, l := range lines {
			if strings.Contains(l, filepath.Base(name)) {
				return l
			}
		}
		t.Errorf("prune --dry-run says nothing about %s:\n%s", filepath.Base(name), r.stdout)
		return ""
	}
	if l := lineOf(newest.Path); !strings.HasPrefix(l, "keep") || !strings.Contains(l, "daily") || !strings.Contains(l, "newest verified full backup") {
		t.Errorf("newest: %q", l)
	}
	for _, p := range doomed {
		if l := lineOf(p); !strings.HasPrefix(l, "delete") || !strings.Contains(l, "older than every retention window") {
			t.Errorf("%s: %q", filepath.Base(p), l)
		}
	}
	if l := lineOf(custom.Path); !strings.HasPrefix(l, "keep") || !strings.Contains(l, "never pruned") {
		t.Errorf("custom name: %q", l)
	}
	if l := lineOf(stale); !strings.HasPrefix(l, "delete") {
		t.Errorf("stale temporary file: %q", l)
	}
	if !strings.Contains(r.stdout, "2 daily, 0 weekly, 0 monthly, 0 yearly") ||
		!strings.Contains(r.stdout, "Dry run: would delete 3 backups") || !strings.Contains(r.stdout, "Nothing was deleted.") {
		t.Errorf("prune --dry-run summary:\n%s", r.stdout)
	}
	for _, p := range append(doomed, stale) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("--dry-run deleted %s", filepath.Base(p))
		}
	}

	r = c.run("backup", "prune", "--dry-run", "--json").want(t, 0)
	var plan backup.PrunePlan
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || len(plan.Decisions) != 5 || len(plan.Deleted()) != 3 || plan.Policy.Daily != 2 {
		t.Errorf("prune --dry-run --json: %d decisions, %d deleted, policy %+v (%v)", len(plan.Decisions), len(plan.Deleted()), plan.Policy, err)
	}

	r = c.run("backup", "prune").want(t, 0)
	if !strings.Contains(r.stdout, "Deleted 3 backups") {
		t.Errorf("prune printed:\n%s", r.stdout)
	}
	for _, p := range append(doomed, stale) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("prune left %s", filepath.Base(p))
		}
		if _, err := os.Stat(backup.ManifestPath(p)); p != stale && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("prune left the manifest of %s", filepath.Base(p))
		}
	}
	for _, p := range []string{newest.Path, custom.Path} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("prune deleted %s", filepath.Base(p))
		}
	}
	var prunes []*sqldb.BackupEvent
	for _, ev := range events(t, c.dbPath) {
		if ev.Action == "prune" {
			prunes = append(prunes, ev)
		}
	}
	if len(prunes) != 1 || prunes[0].Status != "success" || !strings.Contains(prunes[0].Detail, "deleted 3") {
		t.Errorf("prune events %+v: want one (dry runs are not recorded)", prunes)
	}
}

// TestVerifyMarksVerified checks that a backup verified after the fact
// counts as verified: its manifest records it and `restore latest` may
// pick it.
func TestVerifyMarksVerified(t *testing.T) {
	c := newCLI(t)
	seed(t, c.dbPath, "only message")
	res := c.backupJSON("backup", "full", "--compress")
	if res.Manifest.Verified() {
		t.Fatalf("a backup taken without --verify is marked verified: %+v", res.Manifest)
	}
	c.run("restore", "latest", "--dry-run").want(t, 1)
	c.run("backup", "verify", res.Path).want(t, 0)
	m, err := backup.ReadManifest(backup.ManifestPath(res.Path))
	if err != nil || !m.Verified() || m.Verification != backup.VerifiedFull {
		t.Fatalf("after backup verify the manifest is %+v (%v); want it verified in full", m, err)
	}
	c.run("restore", "latest", "--dry-run").want(t, 0, filepath.Base(res.Path))
}
