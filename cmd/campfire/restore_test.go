package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// leftovers lists files in the database's directory besides the database,
// its lock and the socket: a refused restore must leave none.
func leftovers(t *testing.T, dbPath string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Dir(dbPath))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	base := filepath.Base(dbPath)
	for _, de := range des {
		switch de.Name() {
		case base, base + ".lock", admin.SocketName:
			continue
		}
		out = append(out, de.Name())
	}
	return out
}

// corruptCopy copies an artifact and its manifest into a new directory
// and flips one byte in the middle of the copy.
func corruptCopy(t *testing.T, artifact string) string {
	t.Helper()
	dir := t.TempDir()
	dst := filepath.Join(dir, filepath.Base(artifact))
	b, err := os.ReadFile(artifact)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	os.WriteFile(dst, b, 0o600)
	m, _ := os.ReadFile(backup.ManifestPath(artifact))
	os.WriteFile(backup.ManifestPath(dst), m, 0o600)
	return dst
}

// TestRestoreCommands runs every restore command and flag without a
// server, and checks that every refusal leaves the database untouched.
func TestRestoreCommands(t *testing.T) {
	c := newCLI(t)
	seed(t, c.dbPath, "kept 1", "kept 2")
	b1 := c.backupJSON("backup", "full", "--compress", "--verify")
	schema := c.backupJSON("backup", "schema")
	post(t, c.dbPath, "after the backup")
	state := dbState(t, c.dbPath)
	untouched := func(t *testing.T, what string) {
		t.Helper()
		if got := dbState(t, c.dbPath); got != state {
			t.Errorf("%s changed the database", what)
		}
		if l := leftovers(t, c.dbPath); len(l) != 0 {
			t.Errorf("%s left %v beside the database", what, l)
		}
	}

	t.Run("List", func(t *testing.T) {
		r := c.run("restore", "--list").want(t, 0)
		if !strings.Contains(r.stdout, filepath.Base(b1.Path)) || !strings.Contains(r.stdout, "verified, latest") {
			t.Errorf("restore --list:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, filepath.Base(schema.Path)) {
			t.Errorf("restore --list shows the schema backup, which cannot be restored:\n%s", r.stdout)
		}
		r = c.run("restore", "--list", "--json").want(t, 0)
		var out struct {
			Latest  string         `json:"latest"`
			Backups []backup.Entry `json:"backups"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Latest != b1.Path || len(out.Backups) != 1 {
			t.Errorf("restore --list --json = %+v (%v)", out, err)
		}
		c.run("restore", "--list", "latest").want(t, 2)
		untouched(t, "restore --list")
	})

	t.Run("DryRun", func(t *testing.T) {
		r := c.run("restore", b1.Path, "--dry-run").want(t, 0)
		for _, s := range []string{"Dry run: nothing was changed", b1.Path, c.dbPath, "safety backup", "integrity_check", "messages=2"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("restore --dry-run does not say %q:\n%s", s, r.stdout)
			}
		}
		r = c.run("restore", "latest", "--dry-run", "--json").want(t, 0)
		var out admin.RestoreOutcome
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.DryRun || out.Plan == nil ||
			out.Plan.Source != b1.Path || out.Plan.Target != c.dbPath || !out.Plan.TargetExists || out.Plan.RowCounts["messages"] != 2 {
			t.Errorf("restore latest --dry-run --json = %s (%v)", r.stdout, err)
		}
		untouched(t, "restore --dry-run")
	})

	t.Run("VerifyOnly", func(t *testing.T) {
		r := c.run("restore", "--verify-only", b1.Path).want(t, 0)
		if !strings.Contains(r.stdout, "can be restored") {
			t.Errorf("restore --verify-only:\n%s", r.stdout)
		}
		c.run("restore", "--verify-only", schema.Path).want(t, 1, "schema backup")
		c.run("restore", "--verify-only", corruptCopy(t, b1.Path)).want(t, 1, "failed verification")
		// Verifications are recorded in the audit log, so the file changes;
		// the data does not, and nothing is left beside it.
		if got := bodies(t, c.dbPath); !slices.Equal(got, []string{"kept 1", "kept 2", "after the backup"}) {
			t.Errorf("after --verify-only the database holds %q", got)
		}
		if l := leftovers(t, c.dbPath); len(l) != 0 {
			t.Errorf("--verify-only left %v beside the database", l)
		}
		var verifies int
		for _, ev := range events(t, c.dbPath) {
			if ev.Action == "verify" && strings.HasPrefix(ev.File, "campfire_full_") {
				verifies++
			}
		}
		if verifies < 3 { // after the backup, and the two --verify-only of full backups
			t.Errorf("%d verifications of the full backup recorded, want 3", verifies)
		}
		state = dbState(t, c.dbPath)
	})

	t.Run("Refused", func(t *testing.T) {
		// No terminal and no --auto-confirm.
		c.run("restore", b1.Path).want(t, 2, "refusing to restore without confirmation", "--auto-confirm")
		c.run("restore", "latest").want(t, 2, "--auto-confirm")
		untouched(t, "a restore without confirmation")
		// A damaged backup is refused before anything changes.
		c.run("restore", corruptCopy(t, b1.Path), "--auto-confirm").want(t, 1, "failed verification")
		untouched(t, "a restore of a damaged backup")
		// A schema backup holds no data.
		c.run("restore", schema.Path, "--auto-confirm").want(t, 1, "schema backup")
		untouched(t, "a restore of a schema backup")
		c.run("restore", "no_such_backup.db.zst", "--auto-confirm").want(t, 1, "not found")
		c.run("restore", "--auto-confirm").want(t, 2, "name the backup")
		c.run("restore", "latest", "--to-time", "2024-01-01 12:00:00", "--auto-confirm").want(t, 2, "--to-time picks the backups itself")
		c.run("restore", "--to-time", "yesterday", "--auto-confirm").want(t, 2, `want "YYYY-MM-DD HH:MM:SS"`)
		// These backups were taken with no server: none starts a chain.
		c.run("restore", "--to-time", "2024-01-01 12:00:00", "--auto-confirm").want(t, 1, "no full backup taken by the running server")
		c.run("restore", "latest", "--from-remote", "--auto-confirm").want(t, 2, "CAMPFIRE_BACKUP_REMOTE")
		untouched(t, "refused restores")
		if evs := events(t, c.dbPath); slices.ContainsFunc(evs, func(e *sqldb.BackupEvent) bool { return e.Action == "restore" }) {
			t.Error("a refused restore was recorded in the live database (it must stay untouched)")
		}
		state = dbState(t, c.dbPath) // reading the events opened it
	})

	t.Run("AutoConfirm", func(t *testing.T) {
		r := c.run("restore", "latest", "--auto-confirm").want(t, 0)
		if got := bodies(t, c.dbPath); !slices.Equal(got, []string{"kept 1", "kept 2"}) {
			t.Fatalf("after the restore the database holds %q, want the backup's messages", got)
		}
		entries, _ := backup.List(c.backupDir)
		var safety *backup.Entry
		for i := range entries {
			if entries[i].Type == backup.TypeSafety {
				safety = &entries[i]
			}
		}
		if safety == nil || !strings.Contains(r.stdout, safety.Path) {
			t.Fatalf("no safety backup reported:\n%s", r.stdout)
		}
		if got := bodies(t, safety.Path); !slices.Equal(got, []string{"kept 1", "kept 2", "after the backup"}) {
			t.Errorf("the safety backup holds %q, want the replaced database", got)
		}
		evs := events(t, c.dbPath)
		last := evs[len(evs)-1]
		if last.Action != "restore" || last.Status != "success" || last.File != filepath.Base(b1.Path) || !strings.Contains(last.Detail, filepath.Base(safety.Path)) {
			t.Errorf("the restored database's last audit event is %+v", last)
		}
		// Undo: the safety backup restores what was replaced.
		c.run("restore", safety.Path, "--auto-confirm").want(t, 0)
		if got := bodies(t, c.dbPath); !slices.Equal(got, []string{"kept 1", "kept 2", "after the backup"}) {
			t.Errorf("after undoing, the database holds %q", got)
		}
	})

	t.Run("NoDatabaseYet", func(t *testing.T) {
		// Disaster recovery on a new machine: the database does not exist.
		fresh := newCLI(t)
		fresh.run("restore", b1.Path, "--auto-confirm").want(t, 0)
		if got := bodies(t, fresh.dbPath); !slices.Equal(got, []string{"kept 1", "kept 2"}) {
			t.Errorf("restored into a new directory: %q", got)
		}
	})
}

// TestRestoreConfirm plays a person at a terminal: the restore asks, and
// only "yes" goes ahead.
func TestRestoreConfirm(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "campfire.db")
	backupDir := filepath.Join(dir, "backups")
	seed(t, dbPath, "in the backup")
	vars := map[string]string{"CAMPFIRE_DATABASE_URL": dbPath, "CAMPFIRE_BACKUP_DIR": backupDir, "CAMPFIRE_LOG_FORMAT": "json"}
	runAt := func(stdin string, terminal bool, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		e := &env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Getenv: mapEnv(vars),
			IsTerminal: func(x any) bool { return terminal }}
		code := runEnv(context.Background(), args, e)
		return code, out.String(), errOut.String()
	}
	// Progress shows on a terminal only.
	if code, _, errOut := runAt("", false, "backup", "full", "--verify"); code != 0 || strings.Contains(errOut, "\r") {
		t.Fatalf("backup without a terminal: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runAt("", true, "backup", "hot", "--verify"); code != 0 || !strings.Contains(errOut, "\r\033[Kbackup: ") {
		t.Fatalf("backup on a terminal: exit %d, stderr %q", code, errOut)
	}
	post(t, dbPath, "not in the backup")
	state := dbState(t, dbPath)

	code, _, errOut := runAt("no\n", true, "restore", "latest")
	if code != 1 || !strings.Contains(errOut, "Replace "+dbPath) || !strings.Contains(errOut, "[y/N]") ||
		!strings.Contains(errOut, "Restore plan:") || !strings.Contains(errOut, "restore cancelled; nothing was changed") {
		t.Errorf("answering no: exit %d, stderr:\n%s", code, errOut)
	}
	if dbState(t, dbPath) != state {
		t.Error("answering no changed the database")
	}
	// End of input counts as no.
	if code, _, _ := runAt("", true, "restore", "latest"); code != 1 || dbState(t, dbPath) != state {
		t.Errorf("no answer: exit %d", code)
	}

	code, out, errOut := runAt("yes\n", true, "restore", "latest")
	if code != 0 || !strings.Contains(out, "Restored ") {
		t.Fatalf("answering yes: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "\r\033[Kverify: ") {
		t.Errorf("no progress on the terminal:\n%q", errOut)
	}
	if got := bodies(t, dbPath); !slices.Equal(got, []string{"in the backup"}) {
		t.Errorf("after answering yes the database holds %q", got)
	}
}

// TestRestoreAfterCrash restores over the database of a server that was
// killed: its WAL still holds commits. The safety backup keeps them, the
// restored database does not replay them, and no -wal is left behind.
func TestRestoreAfterCrash(t *testing.T) {
	c := newCLI(t)
	// Without continuous backup, "latest" is the full backup: the commits
	// after it exist only in the crashed database's WAL. (With it, they
	// would be restored: TestContinuousBackup_SIGKILL.)
	cmd, base, logs := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir, "CAMPFIRE_BACKUP_CONTINUOUS=off")
	token := firstRun(t, base)
	mustPost(t, base, token, "in the backup")
	r := c.run("backup", "full", "--verify").want(t, 0)
	if !strings.Contains(r.stdout, "by the running server") {
		t.Errorf("the backup did not go through the server:\n%s", r.stdout)
	}
	for _, b := range []string{"lost 1", "lost 2"} {
		mustPost(t, base, token, b)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if fi, err := os.Stat(c.dbPath + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("after the crash the WAL is %v (%v); the test needs commits in it; log:\n%s", fi, err, logs)
	}

	c.run("restore", "latest", "--auto-confirm").want(t, 0)
	if got := bodies(t, c.dbPath); !slices.Equal(got, []string{"in the backup"}) {
		t.Errorf("restored database holds %q", got)
	}
	if _, err := os.Stat(c.dbPath + "-wal"); !errors.Is(err, os.ErrNotExist) {
		if fi, _ := os.Stat(c.dbPath + "-wal"); fi != nil && fi.Size() > 0 {
			t.Errorf("a -wal of %d bytes is left beside the restored database", fi.Size())
		}
	}
	entries, _ := backup.List(c.backupDir)
	i := slices.IndexFunc(entries, func(e backup.Entry) bool { return e.Type == backup.TypeSafety })
	if i < 0 {
		t.Fatal("no safety backup")
	}
	if got := bodies(t, entries[i].Path); !slices.Equal(got, []string{"in the backup", "lost 1", "lost 2"}) {
		t.Errorf("the safety backup holds %q; want the commits that were only in the WAL too", got)
	}
}

// firstRun creates the administrator over HTTP and returns the token.
func firstRun(t *testing.T, base string) string {
	t.Helper()
	code, fr := postJSON(t, base+"/api/first_run", "", `{"name":"Ada","email":"ada@example.com","password":"correct horse"}`)
	if code != http.StatusCreated {
		t.Fatalf("first run: status %d, body %v", code, fr)
	}
	return fr["token"].(string)
}

func mustPost(t *testing.T, base, token, body string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"body": body})
	if code, out := postJSON(t, base+"/api/rooms/1/messages", token, string(b)); code != http.StatusCreated {
		t.Fatalf("post %q: status %d, body %v", body, code, out)
	}
}

// roomBodies lists the first room's messages over HTTP.
func roomBodies(t *testing.T, base, token string) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/rooms/1/messages?limit=200", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []struct {
			Body string `json:"body"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET messages: %d, %v", resp.StatusCode, err)
	}
	var bs []string
	for _, m := range out.Messages {
		bs = append(bs, m.Body)
	}
	return bs
}
