package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// remoteList runs backup list --remote --json.
func (c *cli) remoteList() []backup.Entry {
	c.t.Helper()
	r := c.run("backup", "list", "--remote", "--json").want(c.t, 0)
	var es []backup.Entry
	if err := json.Unmarshal([]byte(r.stdout), &es); err != nil {
		c.t.Fatalf("list --remote --json printed %q: %v", r.stdout, err)
	}
	return es
}

func findEntry(es []backup.Entry, name string) *backup.Entry {
	for i := range es {
		if es[i].Name == name {
			return &es[i]
		}
	}
	return nil
}

func hasEvent(evs []*sqldb.BackupEvent, action, typ, status string) bool {
	return slices.ContainsFunc(evs, func(e *sqldb.BackupEvent) bool {
		return e.Action == action && e.Type == typ && e.Status == status
	})
}

// TestRemoteBackupAndDisasterRecovery: back up off-site to each kind of
// destination, list it, then restore on an "empty machine" (a new
// directory, no database, no backup directory) from the environment alone.
func TestRemoteBackupAndDisasterRecovery(t *testing.T) {
	for _, d := range destinations {
		t.Run(d.name, func(t *testing.T) {
			env := d.setup(t)
			c := newCLI(t, env...)
			seed(t, c.dbPath, "first message", "second message")

			full := c.backupJSON("backup", "full", "--compress", "--verify", "--remote")
			if full.Upload == nil || len(full.Upload.Keys) != 2 || !strings.HasSuffix(full.Upload.Keys[1], backup.ManifestSuffix) {
				t.Fatalf("upload: %+v; want the artifact, then the manifest", full.Upload)
			}
			r := c.run("backup", "schema", "--remote").want(t, 0)
			if !strings.Contains(r.stdout, "off-site: ") {
				t.Errorf("backup --remote does not say where the copy went:\n%s", r.stdout)
			}
			es := c.remoteList()
			if len(es) != 2 {
				t.Fatalf("list --remote = %d entries, want 2: %+v", len(es), es)
			}
			if e := findEntry(es, filepath.Base(full.Path)); e == nil || e.Status != backup.StatusVerified || e.Bytes != full.Manifest.StoredBytes {
				t.Errorf("the full backup is listed as %+v", e)
			}
			for _, e := range es {
				if e.Status == backup.StatusIncomplete {
					t.Errorf("%s is listed as incomplete: %s", e.Name, e.Problem)
				}
			}
			if !hasEvent(events(t, c.dbPath), sqldb.BackupActionBackup, "remote", sqldb.BackupStatusSuccess) {
				t.Error("the upload is not in the audit log")
			}

			// Disaster recovery: nothing but the binary and the environment.
			dr := newCLI(t, env...)
			r = dr.run("restore", "--list", "--from-remote").want(t, 0)
			if !strings.Contains(r.stdout, filepath.Base(full.Path)) || !strings.Contains(r.stdout, "latest") {
				t.Errorf("restore --list --from-remote:\n%s", r.stdout)
			}
			r = dr.run("restore", "--from-remote", "latest", "--auto-confirm").want(t, 0)
			if !strings.HasPrefix(r.stdout, "Restored ") || !strings.Contains(r.stdout, filepath.Base(full.Path)) {
				t.Errorf("restore output:\n%s", r.stdout)
			}
			if got := bodies(t, dr.dbPath); !slices.Equal(got, []string{"first message", "second message"}) {
				t.Errorf("restored messages = %q", got)
			}
			des, err := os.ReadDir(dr.backupDir)
			if err != nil {
				t.Fatalf("the backup directory was not created: %v", err)
			}
			for _, de := range des {
				if strings.HasPrefix(de.Name(), ".campfire-remote-") {
					t.Errorf("the download %s was left behind", de.Name())
				}
			}
			if !hasEvent(events(t, dr.dbPath), sqldb.BackupActionRestore, "full", sqldb.BackupStatusSuccess) {
				t.Error("the restore is not in the restored database's audit log")
			}
		})
	}
}

// TestRemoteIncomplete: a remote backup that is not whole is never picked
// as latest and is refused by name, leaving the database untouched.
func TestRemoteIncomplete(t *testing.T) {
	rdir := t.TempDir()
	c := newCLI(t, "CAMPFIRE_BACKUP_REMOTE=file://"+rdir)
	seed(t, c.dbPath, "one")
	b1 := c.backupJSON("backup", "full", "--verify", "--remote")
	post(t, c.dbPath, "two")
	b2 := c.backupJSON("backup", "full", "--verify", "--remote")
	name1, name2 := filepath.Base(b1.Path), filepath.Base(b2.Path)
	if name1 == name2 {
		t.Fatal("two backups with one name")
	}
	state := dbState(t, c.dbPath)
	untouched := func(what string) {
		t.Helper()
		if dbState(t, c.dbPath) != state {
			t.Fatalf("%s changed the database", what)
		}
	}

	// Truncated: the size differs from the manifest.
	artifact := filepath.Join(rdir, name2)
	whole, err := os.ReadFile(artifact)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(artifact, int64(len(whole)/2)); err != nil {
		t.Fatal(err)
	}
	if e := findEntry(c.remoteList(), name2); e == nil || e.Status != backup.StatusIncomplete {
		t.Fatalf("a truncated artifact is listed as %+v", e)
	}
	r := c.run("restore", "--from-remote", "latest", "--dry-run").want(t, 0)
	if !strings.Contains(r.stdout, name1) || !strings.Contains(r.stderr, "skipped incomplete or damaged "+name2) {
		t.Errorf("latest did not pass over the truncated backup:\n%s", r)
	}
	c.run("restore", "--from-remote", name2, "--auto-confirm").want(t, 1, name2, "incomplete")
	untouched("a restore of a truncated remote backup")
	c.run("backup", "verify", "--remote", name2).want(t, 1, name2, "incomplete")
	state = dbState(t, c.dbPath) // the failed verification is in the audit log

	// Same size, other bytes: the listing cannot see it, the download does.
	flipped := slices.Clone(whole)
	flipped[len(flipped)/2] ^= 0xff
	if err := os.WriteFile(artifact, flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	c.run("restore", "--from-remote", name2, "--auto-confirm").want(t, 1, name2, "sha256", "refusing")
	untouched("a restore of a damaged remote backup")

	// The manifest gone: the artifact alone is incomplete.
	if err := os.WriteFile(artifact, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(rdir, strings.TrimSuffix(name2, ".db.zst")+backup.ManifestSuffix)
	if err := os.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	os.Remove(manifest + ".attrs")
	if e := findEntry(c.remoteList(), name2); e == nil || e.Status != backup.StatusIncomplete || !strings.Contains(e.Problem, "no manifest") {
		t.Fatalf("an artifact without manifest is listed as %+v", e)
	}
	r = c.run("backup", "list", "--remote").want(t, 0)
	if !strings.Contains(r.stdout, "incomplete") {
		t.Errorf("the table does not show the incomplete backup:\n%s", r.stdout)
	}
	c.run("restore", "--from-remote", name2, "--auto-confirm").want(t, 1, name2, "incomplete")
	untouched("a restore of a remote backup without manifest")
	r = c.run("restore", "--from-remote", "latest", "--auto-confirm").want(t, 0)
	if !strings.Contains(r.stdout, name1) {
		t.Errorf("latest restored something else than %s:\n%s", name1, r.stdout)
	}
	if got := bodies(t, c.dbPath); !slices.Equal(got, []string{"one"}) {
		t.Errorf("after restoring %s the messages are %q", name1, got)
	}
}

// writeRemote puts a tiny backup straight into a directory destination (no
// recorded SHA-256, as a copy by another tool would be).
func writeRemote(t *testing.T, dir string, at time.Time, verified bool) string {
	t.Helper()
	name := backup.Name{Type: backup.TypeFull, Host: "h", Time: at, Compression: backup.CompressionZstd}.String()
	data := []byte("artifact " + name)
	m := backup.Manifest{FormatVersion: 1, Type: backup.TypeFull, File: name, CreatedAt: at, StartedAt: at, FinishedAt: at,
		Host: "h", Engine: "sqlite", Compression: backup.CompressionZstd, StoredBytes: int64(len(data)), StoredSHA256: strings.Repeat("0", 64)}
	if verified {
		v := at.Add(time.Minute)
		m.VerifiedAt = &v
	}
	mb, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".db.zst")+backup.ManifestSuffix), mb, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestRemotePrune: prune --remote applies its own GFS policy to the
// destination and leaves the local directory alone.
func TestRemotePrune(t *testing.T) {
	rdir := t.TempDir()
	c := newCLI(t, "CAMPFIRE_BACKUP_REMOTE=file://"+rdir,
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS=2", "CAMPFIRE_BACKUP_REMOTE_RETENTION_WEEKS=0",
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_MONTHS=0", "CAMPFIRE_BACKUP_REMOTE_RETENTION_YEARS=0")
	seed(t, c.dbPath, "x")
	local := c.backupJSON("backup", "full")
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 1, 0, time.UTC)
	var names []string
	for i := range 5 { // one a day; only the oldest verified
		names = append(names, writeRemote(t, rdir, today.AddDate(0, 0, -i), i == 4))
	}
	// Uploads that never got their manifest: an old one and one that may
	// still be under way.
	oldOrphan := backup.Name{Type: backup.TypeFull, Host: "h", Time: today.AddDate(0, 0, -10), Compression: backup.CompressionZstd}.String()
	newOrphan := backup.Name{Type: backup.TypeHot, Host: "h", Time: today, Compression: backup.CompressionZstd}.String()
	for _, n := range []string{oldOrphan, newOrphan} {
		if err := os.WriteFile(filepath.Join(rdir, n), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := now.Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(rdir, oldOrphan), old, old); err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(rdir, name))
		return err == nil
	}

	r := c.run("backup", "prune", "--remote", "--dry-run").want(t, 0)
	for _, n := range []string{names[2], names[3], oldOrphan} {
		if !announcedDelete(r.stdout, n) || !exists(n) {
			t.Errorf("dry run: %s not announced as deleted, or deleted:\n%s", n, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "2 daily, 0 weekly, 0 monthly, 0 yearly") {
		t.Errorf("dry run does not show the remote policy:\n%s", r.stdout)
	}

	c.run("backup", "prune", "--remote").want(t, 0)
	for i, n := range names {
		base := strings.TrimSuffix(n, ".db.zst")
		keep := i == 0 || i == 1 || i == 4 // two days, and the newest verified
		if exists(n) != keep || exists(base+backup.ManifestSuffix) != keep {
			t.Errorf("%s (day -%d): artifact present %v, manifest present %v; want %v", n, i, exists(n), exists(base+backup.ManifestSuffix), keep)
		}
	}
	if exists(oldOrphan) || !exists(newOrphan) {
		t.Errorf("orphans: old present %v (want false), new present %v (want true)", exists(oldOrphan), exists(newOrphan))
	}
	if _, err := os.Stat(local.Path); err != nil {
		t.Errorf("prune --remote touched the local backup: %v", err)
	}
	if !hasEvent(events(t, c.dbPath), sqldb.BackupActionPrune, "remote", sqldb.BackupStatusSuccess) {
		t.Error("the remote prune is not in the audit log")
	}
	c.run("CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS=0", "backup", "prune", "--remote").want(t, 2, "CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS")
}

func announcedDelete(out, name string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "delete") && strings.Contains(l, name) {
			return true
		}
	}
	return false
}
