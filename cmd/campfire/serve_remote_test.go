package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// remoteHealth reads backups.remote from /health/detailed.
func remoteHealth(t *testing.T, base string) map[string]any {
	t.Helper()
	var h struct {
		Backups struct {
			Remote map[string]any `json:"remote"`
		} `json:"backups"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, base+"/health/detailed")), &h); err != nil {
		t.Fatal(err)
	}
	return h.Backups.Remote
}

func waitLog(t *testing.T, logs *syncBuffer, sub string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(logs.String(), sub); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve never logged %q:\n%s", sub, logs)
		}
	}
}

// TestServeRemote: serve self-tests the destination at start and shows it
// on /health/detailed; backup --remote and restore --from-remote go through
// the running server.
func TestServeRemote(t *testing.T) {
	rdir := t.TempDir()
	remote := "CAMPFIRE_BACKUP_REMOTE=file://" + rdir
	c := newCLI(t, remote)
	_, base, logs := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir, remote)
	waitLog(t, logs, "off-site backup destination OK")
	if h := remoteHealth(t, base); h["ok"] != true || h["destination"] != "file://"+rdir || h["checked_at"] == nil || h["error"] != nil {
		t.Errorf("backups.remote = %v", h)
	}

	token := firstRun(t, base)
	mustPost(t, base, token, "kept off-site")
	r := c.run("backup", "hot", "--verify", "--remote").want(t, 0)
	if !strings.Contains(r.stdout, "taken by the running server") || !strings.Contains(r.stdout, "off-site: ") {
		t.Errorf("backup --remote through the server:\n%s", r.stdout)
	}
	// The hot backup, and the full backup continuous backup started its
	// chain from (copied off site by the replicator).
	es := c.remoteList()
	if hot := slices.IndexFunc(es, func(e backup.Entry) bool { return e.Type == backup.TypeHot }); len(es) != 2 || hot < 0 || es[hot].Status != "verified" {
		t.Fatalf("remote after the server's upload: %+v", es)
	}
	mustPost(t, base, token, "not in the backup")
	r = c.run("restore", "--from-remote", "latest", "--auto-confirm").want(t, 0)
	if !strings.Contains(r.stdout, "paused for") {
		t.Errorf("the restore did not go through the server:\n%s", r.stdout)
	}
	got := roomBodies(t, base, token)
	if len(got) == 0 || got[len(got)-1] != "kept off-site" {
		t.Errorf("after the restore the room holds %q", got)
	}

	// A broken destination: one error line naming the step, the server
	// still serves, and health says why.
	bad := newCLI(t)
	_, base2, logs2 := startServe(t, bad.dbPath, "CAMPFIRE_BACKUP_DIR="+bad.backupDir,
		"CAMPFIRE_BACKUP_REMOTE=file:///nonexistent-campfire-remote")
	waitLog(t, logs2, "failed its self-test")
	httpGet(t, base2+"/health")
	h := remoteHealth(t, base2)
	if msg, _ := h["error"].(string); h["ok"] != false || !strings.Contains(msg, "nonexistent-campfire-remote") {
		t.Errorf("backups.remote of a broken destination = %v", h)
	}
}
