package web_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/web"
)

// withBackups gives the server a backup directory (not created yet).
func withBackups(dir string) func(*web.Server) {
	return func(s *web.Server) {
		s.Backups = &admin.Ops{
			Config:     admin.Config{Dir: dir, Policy: backup.DefaultPolicy(), Host: "test-host"},
			AppVersion: testVersion,
		}
	}
}

func scrape(t *testing.T, c *client) string {
	t.Helper()
	return string(c.call(http.StatusOK, "GET", "/metrics", nil, nil).Body)
}

// TestBackupMetricsAndHealth checks that /metrics and /health/detailed
// report the audit log: nothing before the first backup, real values
// after it, and failures.
func TestBackupMetricsAndHealth(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "backups")
	e := newEnv(t, withBackups(dir))
	anon := e.anon()
	adminClient := e.firstRun()
	adminClient.post(adminClient.roomNamed(chat.FirstRoomName).ID, "to back up")

	var d detailedBody
	anon.call(http.StatusOK, "GET", "/health/detailed", nil, &d)
	if d.Backups["configured"] != false || d.Backups["last_full"] != nil || d.Backups["count"] != 0.0 {
		t.Errorf("before any backup, backups = %v; want configured false (no directory yet), last_full null, count 0", d.Backups)
	}
	if m := scrape(t, anon); strings.Contains(m, "campfire_backup_last_success_timestamp_seconds{") ||
		!strings.Contains(m, `campfire_backup_failures_total{type="full"} 0`) {
		t.Errorf("before any backup, metrics:\n%s", grepLines(m, "campfire_backup_"))
	}

	before := time.Now()
	res, err := e.srv.Backups.Backup(context.Background(), e.db, e.db,
		backupRequest(backup.TypeFull), nil)
	if err != nil {
		t.Fatal(err)
	}

	m := scrape(t, anon)
	for _, re := range []string{
		`campfire_backup_last_success_timestamp_seconds\{type="full"\} 1\.\d+e\+09`,
		`campfire_backup_duration_seconds\{type="full"\} [0-9.e+-]+`,
		`campfire_backup_size_bytes\{type="full"\} ` + itoa(res.Manifest.StoredBytes) + `\n`,
		`campfire_backup_failures_total\{type="full"\} 0`,
		`campfire_backup_last_verify_success_timestamp_seconds 1\.\d+e\+09`,
		`campfire_backup_events_total\{action="backup",status="success"\} 1`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("metrics do not match %s:\n%s", re, grepLines(m, "campfire_backup_"))
		}
	}

	r := anon.call(http.StatusOK, "GET", "/health/detailed", nil, &d)
	b := d.Backups
	if b["configured"] != true || b["dir"] != dir || b["count"] != 1.0 || b["last_verified"] == nil || b["last_failure"] != nil {
		t.Errorf("%s: backups = %v", r, b)
	}
	last, err := time.Parse(time.RFC3339Nano, b["last_full"].(string))
	if err != nil || last.Before(before.Add(-time.Second)) || last.After(time.Now()) {
		t.Errorf("last_full = %v (%v), want about now", b["last_full"], err)
	}
	if age, ok := b["last_full_age_seconds"].(float64); !ok || age < 0 || age > 60 {
		t.Errorf("last_full_age_seconds = %v", b["last_full_age_seconds"])
	}
	var backupDisk bool
	for _, dk := range d.Disk {
		backupDisk = backupDisk || (dk.Name == "backups" && dk.FreeBytes > 0)
	}
	if !backupDisk {
		t.Errorf("%s: no disk entry for the backup directory", r)
	}

	// A failure: the output name is taken.
	req := backupRequest(backup.TypeFull)
	req.Output = filepath.Base(res.Path)
	if _, err := e.srv.Backups.Backup(context.Background(), e.db, e.db, req, nil); err == nil {
		t.Fatal("a backup over an existing file succeeded")
	}
	m = scrape(t, anon)
	if !strings.Contains(m, `campfire_backup_failures_total{type="full"} 1`) {
		t.Errorf("after a failed backup, metrics:\n%s", grepLines(m, "campfire_backup_"))
	}
	anon.call(http.StatusOK, "GET", "/health/detailed", nil, &d)
	if f, ok := d.Backups["last_failure"].(map[string]any); !ok || f["action"] != "backup" || !strings.Contains(f["detail"].(string), "already exists") {
		t.Errorf("last_failure = %v", d.Backups["last_failure"])
	}
}

func backupRequest(typ backup.Type) admin.BackupRequest {
	return admin.BackupRequest{Type: string(typ), Verify: true, Actor: "test"}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestBackupsPage checks the administrators' page: the list, the audit
// log, the button, and that members get 403.
func TestBackupsPage(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "backups")
	e := newEnv(t, withBackups(dir))
	adminClient := e.firstRun()
	bob := e.join(adminClient, "Bob")
	adminClient.post(adminClient.roomNamed(chat.FirstRoomName).ID, "hello")
	ab := e.browserAs(adminClient)
	bb := e.browserAs(bob)

	// The account page links to it for administrators only.
	if doc := ab.page(http.StatusOK, "/account").doc(t); byID(doc, "account-backups") == nil {
		t.Error("the account page has no backups link for an administrator")
	}
	if doc := bb.page(http.StatusOK, "/account").doc(t); byID(doc, "account-backups") != nil {
		t.Error("the account page shows the backups link to a member")
	}

	doc := ab.page(http.StatusOK, "/account/backups").doc(t)
	if rows := findAll(doc, withClass("tr", "backup")); len(rows) != 0 {
		t.Errorf("a new server lists %d backups", len(rows))
	}
	if byID(doc, "backup-now") == nil || !strings.Contains(textOf(byID(doc, "backup-now")), dir) {
		t.Errorf("no backup-now section naming %s", dir)
	}

	r := ab.form(http.StatusSeeOther, "/account/backups", url.Values{})
	loc := r.Header.Get("Location")
	name, _ := url.QueryUnescape(strings.TrimPrefix(loc, "/account/backups?created="))
	if n, ok := backup.ParseName(name); !ok || n.Type != backup.TypeFull || n.Compression != backup.CompressionZstd {
		t.Fatalf("Back up now redirected to %q; want /account/backups?created=<a full zstd backup>", loc)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Fatalf("the backup the page reported: %v", err)
	}

	doc = ab.page(http.StatusOK, loc).doc(t)
	if fl := findAll(doc, withClass("p", "flash--notice")); len(fl) != 1 || !strings.Contains(textOf(fl[0]), name) {
		t.Errorf("no notice naming %s", name)
	}
	rows := findAll(doc, withClass("tr", "backup"))
	if len(rows) != 1 || !strings.Contains(textOf(rows[0]), name) || attr(rows[0], "data-status") != backup.StatusVerified {
		t.Fatalf("the list has %d rows; want the new, verified backup", len(rows))
	}
	events := findAll(doc, withClass("tr", "backup-event"))
	if len(events) != 2 { // the backup and its verification
		t.Fatalf("the audit log shows %d events, want 2", len(events))
	}
	for _, ev := range events {
		if txt := textOf(ev); !strings.Contains(txt, "success") || !strings.Contains(txt, "web:user "+itoa(adminClient.user.ID)) {
			t.Errorf("event row %q: want success by web:user %d", txt, adminClient.user.ID)
		}
	}

	// Members: 403, and nothing is backed up.
	bb.page(http.StatusForbidden, "/account/backups")
	bb.form(http.StatusForbidden, "/account/backups", url.Values{})
	if entries, _ := backup.List(dir); len(entries) != 1 {
		t.Errorf("after a member's attempt the directory holds %d backups, want 1", len(entries))
	}
	// Signed out: to the sign-in page.
	e.browser().page(http.StatusSeeOther, "/account/backups")
}

// TestMaintenance pauses a server as a restore does: requests answer 503
// (JSON for the API and health, a page for people), liveness stays up,
// WebSockets close with 1012, and afterwards the server serves the
// database opened again.
func TestMaintenance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminClient := e.firstRun()
	room := adminClient.roomNamed(chat.FirstRoomName)
	adminClient.post(room.ID, "before")
	ws := adminClient.dial()
	ws.subscribe(room.ID)
	ab := e.browserAs(adminClient)
	t.Cleanup(func() { e.srv.CloseDatabase() })
	old := e.srv.Database()

	var during atomic.Bool
	err := e.srv.Maintain(context.Background(), func(ctx context.Context) error {
		during.Store(true)
		r := adminClient.call(http.StatusServiceUnavailable, "GET", "/api/rooms", nil, nil)
		if msg := r.errorMessage(t); msg != "Restoring a backup; back in a moment." || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: message %q, Retry-After %q", r, msg, r.Header.Get("Retry-After"))
		}
		r = adminClient.call(http.StatusServiceUnavailable, "POST", "/api/rooms/"+itoa(room.ID)+"/messages", map[string]string{"body": "during"}, nil)
		var h healthBody
		e.anon().call(http.StatusServiceUnavailable, "GET", "/health", nil, &h)
		if h.Status != "unavailable" {
			t.Errorf("/health during maintenance: %+v", h)
		}
		e.anon().call(http.StatusServiceUnavailable, "GET", "/health/ready", nil, nil)
		e.anon().call(http.StatusOK, "GET", "/health/live", nil, nil)
		p := ab.page(http.StatusServiceUnavailable, "/rooms/"+itoa(room.ID))
		if !strings.Contains(string(p.Body), "Restoring a backup") {
			t.Errorf("%s: the page does not say why", p)
		}
		if _, resp, err := adminClient.dialWith(nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("a WebSocket opened during maintenance: err %v, response %v", err, resp)
		}
		// The database is closed while fn runs: nothing may use it.
		if err := old.Ping(ctx); err == nil {
			t.Error("the database is still open during maintenance")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !during.Load() {
		t.Fatal("Maintain did not run its function")
	}
	if code := ws.closed(); code != websocket.StatusServiceRestart {
		t.Errorf("the WebSocket closed with %d, want 1012 (service restart)", code)
	}
	if e.srv.Database() == old {
		t.Error("the server still holds the closed database")
	}
	adminClient.post(room.ID, "after")
	if got := adminClient.messages(room.ID, ""); len(got) != 2 || got[1].Body != "after" {
		t.Errorf("after maintenance the room holds %d messages", len(got))
	}
	ws2 := adminClient.dial()
	ws2.subscribe(room.ID)

	// Use runs with the current database, and refuses during maintenance.
	var used *sqldb.DB
	if err := e.srv.Use(context.Background(), func(db *sqldb.DB) error { used = db; return nil }); err != nil || used != e.srv.Database() {
		t.Errorf("Use = %v with %p, want the current database %p", err, used, e.srv.Database())
	}
	err = e.srv.Maintain(context.Background(), func(ctx context.Context) error {
		if err := e.srv.Use(ctx, func(*sqldb.DB) error { return nil }); !admin.IsMaintenance(err) {
			t.Errorf("Use during maintenance = %v, want the maintenance error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
