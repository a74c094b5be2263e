package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// TestServeSchedule runs serve with a full backup every 2 seconds: the
// backups appear with their audit rows, and /health/detailed shows the
// schedule and the (cleared) alerts.
func TestServeSchedule(t *testing.T) {
	c := newCLI(t)
	seed(t, c.dbPath, "hello")
	cmd, base, logs := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir,
		"CAMPFIRE_BACKUP_SCHEDULE_FULL=@every 2s", "CAMPFIRE_BACKUP_SCHEDULE_SCHEMA=off",
		"CAMPFIRE_BACKUP_SCHEDULE_MONITOR=@every 1s",
		// Off, so that no backup exists before the first scheduled one.
		"CAMPFIRE_BACKUP_CONTINUOUS=off")

	var full backup.Entry
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, _ := backup.List(c.backupDir)
		if e, ok := backup.Latest(entries); ok && e.Type == backup.TypeFull {
			full = e
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled full backup after 20s:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if full.Status != backup.StatusVerified || full.Compression != backup.CompressionZstd {
		t.Errorf("scheduled backup %s: status %s, compression %s; want verified zstd", full.Name, full.Status, full.Compression)
	}

	// The monitor job runs every second: wait until it has seen the backup.
	var h struct {
		Schedule []struct {
			Job        string     `json:"job"`
			Spec       string     `json:"spec"`
			NextRun    *time.Time `json:"next_run"`
			LastRun    *time.Time `json:"last_run"`
			LastResult string     `json:"last_result"`
		} `json:"schedule"`
		Alerts []struct{ Key string } `json:"alerts"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := json.Unmarshal([]byte(httpGet(t, base+"/health/detailed")), &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Alerts) == 0 && strings.Contains(logs.String(), `"msg":"backup alert resolved"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	jobs := map[string]int{}
	for i, j := range h.Schedule {
		jobs[j.Job] = i
	}
	if len(h.Schedule) != 5 {
		t.Fatalf("schedule = %+v, want 5 jobs", h.Schedule)
	}
	if j := h.Schedule[jobs["backup_full"]]; j.Spec != "@every 2s" || j.NextRun == nil || j.LastRun == nil || j.LastResult != "success" {
		t.Errorf("backup_full on /health/detailed: %+v", j)
	}
	if j := h.Schedule[jobs["backup_schema"]]; j.Spec != "off" || j.NextRun != nil {
		t.Errorf("backup_schema on /health/detailed: %+v", j)
	}
	if j := h.Schedule[jobs["prune"]]; j.Spec != "30 3 * * *" || j.NextRun == nil {
		t.Errorf("prune on /health/detailed: %+v", j)
	}
	if len(h.Alerts) != 0 {
		t.Errorf("alerts with a fresh full backup: %+v", h.Alerts)
	}
	// Before the first backup there was none: the monitor logged the
	// alert, then its recovery (no webhook configured).
	l := logs.String()
	if !strings.Contains(l, `"msg":"backup alert","component":"schedule","alert":"no_full_backup"`) ||
		!strings.Contains(l, `"msg":"backup alert resolved"`) {
		t.Errorf("the monitor job did not log the alert and its recovery:\n%s", l)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v\n%s", err, logs)
	}
	withDB(t, c.dbPath, func(db *sqldb.DB) {
		evs, err := db.BackupEvents(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		var backups int
		for _, ev := range evs {
			if ev.Action == sqldb.BackupActionBackup && ev.Type == "full" && ev.Actor == scheduleActor && ev.Succeeded() {
				backups++
			}
		}
		if backups == 0 {
			t.Errorf("no audit row for the scheduled backups: %+v", evs)
		}
	})
}

func TestServeBadSchedule(t *testing.T) {
	c := newCLI(t)
	r := c.run("CAMPFIRE_BACKUP_SCHEDULE_FULL=every night", "serve").want(t, 2, `CAMPFIRE_BACKUP_SCHEDULE_FULL="every night" is not a valid schedule`)
	if n := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n"); n != 0 {
		t.Errorf("stderr has %d lines, want one:\n%s", n+1, r.stderr)
	}
	if _, err := os.Stat(c.dbPath); err == nil {
		t.Error("serve created the database before refusing its configuration")
	}
}

// webhook records the messages a test Slack webhook receives.
type webhook struct {
	mu    sync.Mutex
	texts []string
	url   string
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		json.NewDecoder(r.Body).Decode(&body)
		w.mu.Lock()
		w.texts = append(w.texts, body.Text)
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL + "/services/T0/B0/secrettoken"
	return w
}

func (w *webhook) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.texts
	w.texts = nil
	return t
}

func TestBackupMonitor(t *testing.T) {
	hook := newWebhook(t)
	c := newCLI(t, "CAMPFIRE_ALERT_WEBHOOK_URL="+hook.url)
	seed(t, c.dbPath, "hello")
	if err := os.MkdirAll(c.backupDir, 0o700); err != nil {
		t.Fatal(err)
	}

	r := c.run("backup", "monitor").want(t, 1, "1 backup alert(s) active: no_full_backup")
	if !regexp.MustCompile(`(?m)^ALERT +no_full_backup +no full backup`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^OK +low_disk `).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "fired: no_full_backup (sent to the webhook)") {
		t.Errorf("output:\n%s", r.stdout)
	}
	if got := hook.take(); len(got) != 1 || !strings.Contains(got[0], "no_full_backup") {
		t.Fatalf("webhook got %q, want one no_full_backup alert", got)
	}
	if strings.Contains(r.stderr+r.stdout, "secrettoken") {
		t.Errorf("the webhook URL was printed:\n%s\n%s", r.stdout, r.stderr)
	}
	fi, err := os.Stat(c.backupDir + "/.campfire-monitor.json")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}

	// The next cron run remembers: nothing sent.
	c.run("backup", "monitor").want(t, 1, "no_full_backup")
	if got := hook.take(); len(got) != 0 {
		t.Fatalf("a repeated check sent %q", got)
	}
	// --no-notify and --json change nothing.
	r = c.run("backup", "monitor", "--no-notify", "--json").want(t, 1)
	var rep monitorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.OK || len(rep.Alerts) != 1 || len(rep.Findings) != 4 {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}

	c.run("backup", "full").want(t, 0)
	r = c.run("backup", "monitor").want(t, 0)
	if !regexp.MustCompile(`(?m)^OK +no_full_backup +newest full backup`).MatchString(r.stdout) || !strings.Contains(r.stdout, "resolved: no_full_backup (sent to the webhook)") {
		t.Errorf("output after a backup:\n%s", r.stdout)
	}
	if got := hook.take(); len(got) != 1 || !strings.Contains(got[0], "resolved") || !strings.Contains(got[0], "no_full_backup") {
		t.Fatalf("webhook got %q, want one resolved message", got)
	}
	c.run("backup", "monitor").want(t, 0)
	if got := hook.take(); len(got) != 0 {
		t.Fatalf("a healthy check sent %q", got)
	}
}
