package monitor

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hook is a test webhook: it records every message and answers status.
type hook struct {
	mu     sync.Mutex
	texts  []string
	status int
	srv    *httptest.Server
}

func newHook(t *testing.T) *hook {
	h := &hook{status: http.StatusOK}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.texts = append(h.texts, body.Text)
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// url has a secret path, as Slack's do.
func (h *hook) url() string { return h.srv.URL + "/services/T000/B000/s3cr3tt0ken" }

func (h *hook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.texts
	h.texts = nil
	return t
}

func (h *hook) setStatus(s int) {
	h.mu.Lock()
	h.status = s
	h.mu.Unlock()
}

func TestNotifierLifecycle(t *testing.T) {
	h := newHook(t)
	var logs bytes.Buffer
	n := &Notifier{WebhookURL: h.url(), Host: "myhost", Repeat: 24 * time.Hour, Backoff: time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Store: FileStore(filepath.Join(t.TempDir(), StateFile))}
	ctx := t.Context()
	noFull := []Alert{{Key: KeyNoFullBackup, Summary: "no full backup in the backup directory"}}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	// Starts: exactly one message.
	evs, err := n.Update(ctx, t0, noFull)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != Fired || !evs[0].Delivered {
		t.Fatalf("first check: %+v", evs)
	}
	if got := h.take(); len(got) != 1 || !strings.Contains(got[0], "myhost") || !strings.Contains(got[0], "no_full_backup") {
		t.Fatalf("webhook got %q", got)
	}
	// Repeated checks: nothing new.
	for i := 1; i <= 3; i++ {
		evs, err := n.Update(ctx, t0.Add(time.Duration(i)*5*time.Minute), noFull)
		if err != nil || len(evs) != 0 {
			t.Fatalf("check %d: %+v, %v", i, evs, err)
		}
	}
	if got := h.take(); len(got) != 0 {
		t.Fatalf("repeat checks sent %q", got)
	}
	// A second alert starts while the first goes on.
	both := append(noFull, Alert{Key: KeyLowDisk, Summary: "low disk space for backups"})
	if _, err := n.Update(ctx, t0.Add(time.Hour), both); err != nil {
		t.Fatal(err)
	}
	if got := h.take(); len(got) != 1 || !strings.Contains(got[0], "low_disk") {
		t.Fatalf("second alert: %q", got)
	}
	// After the repeat interval: the first is repeated, the second not yet.
	evs, _ = n.Update(ctx, t0.Add(24*time.Hour), both)
	if len(evs) != 1 || evs[0].Kind != Repeated || evs[0].Alert.Key != KeyNoFullBackup || evs[0].Alert.Notifications != 2 {
		t.Fatalf("after 24h: %+v", evs)
	}
	if got := h.take(); len(got) != 1 || !strings.Contains(got[0], "still active since 2026-11-27T12:00:00Z") {
		t.Fatalf("repeat: %q", got)
	}
	// Clears: one resolved message, then silence.
	evs, _ = n.Update(ctx, t0.Add(24*time.Hour+30*time.Minute), both[1:])
	if len(evs) != 1 || evs[0].Kind != Resolved || !evs[0].Delivered {
		t.Fatalf("on clear: %+v", evs)
	}
	if got := h.take(); len(got) != 1 || !strings.Contains(got[0], "resolved") || !strings.Contains(got[0], "no_full_backup") {
		t.Fatalf("resolved: %q", got)
	}
	n.Update(ctx, t0.Add(24*time.Hour+40*time.Minute), both[1:])
	if got := h.take(); len(got) != 0 {
		t.Fatalf("after clear: %q", got)
	}
	// A second notifier on the same file (the next cron run) remembers.
	n2 := &Notifier{WebhookURL: h.url(), Store: n.Store}
	if evs, _ := n2.Update(ctx, t0.Add(24*time.Hour+50*time.Minute), both[1:]); len(evs) != 0 {
		t.Fatalf("a fresh notifier on the same state file notified again: %+v", evs)
	}
	fi, err := os.Stat(string(n.Store.(FileStore)))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}
	l := logs.String()
	if !strings.Contains(l, `"level":"ERROR","msg":"backup alert"`) || !strings.Contains(l, `"level":"INFO","msg":"backup alert resolved"`) {
		t.Errorf("log lacks the alert at error level or the recovery at info:\n%s", l)
	}
	if strings.Contains(l, "s3cr3tt0ken") {
		t.Errorf("webhook URL in the log:\n%s", l)
	}
}

func TestNotifierWebhookFailure(t *testing.T) {
	h := newHook(t)
	h.setStatus(http.StatusInternalServerError)
	var logs bytes.Buffer
	n := &Notifier{WebhookURL: h.url(), Attempts: 3, Backoff: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := t.Context()
	a := []Alert{{Key: KeyNoFullBackup, Summary: "no full backup"}}
	t0 := time.Now()
	evs, err := n.Update(ctx, t0, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Delivered {
		t.Fatalf("events: %+v", evs)
	}
	if got := h.take(); len(got) != 3 {
		t.Fatalf("webhook got %d attempts, want 3", len(got))
	}
	if l := logs.String(); !strings.Contains(l, "alert webhook failed") || !strings.Contains(l, "500 Internal Server Error") || !strings.Contains(l, "level=ERROR") {
		t.Errorf("failure not logged:\n%s", l)
	}
	// The webhook recovers: the undelivered alert goes out at the next check.
	h.setStatus(http.StatusOK)
	evs, _ = n.Update(ctx, t0.Add(5*time.Minute), a)
	if len(evs) != 1 || evs[0].Kind != Fired || !evs[0].Delivered {
		t.Fatalf("retry at next check: %+v", evs)
	}
	if got := h.take(); len(got) != 1 {
		t.Fatalf("webhook got %q", got)
	}
	if evs, _ = n.Update(ctx, t0.Add(10*time.Minute), a); len(evs) != 0 {
		t.Fatalf("delivered alert notified again: %+v", evs)
	}

	// A 4xx is not retried; an unreachable webhook is logged without its URL.
	h.setStatus(http.StatusNotFound)
	logs.Reset()
	if n.deliver(ctx, "x") {
		t.Fatal("404 counted as delivered")
	}
	if got := h.take(); len(got) != 1 {
		t.Fatalf("404 retried: %d attempts", len(got))
	}
	h.srv.Close()
	n.WebhookURL = h.url()
	if n.deliver(ctx, "x") {
		t.Fatal("closed server counted as delivered")
	}
	if l := logs.String(); strings.Contains(l, "s3cr3tt0ken") || strings.Contains(l, "/services/") {
		t.Errorf("webhook URL in the log:\n%s", l)
	} else if !strings.Contains(l, "alert webhook failed") {
		t.Errorf("failure not logged:\n%s", l)
	}
}

func TestNotifierWithoutWebhookLogs(t *testing.T) {
	var logs bytes.Buffer
	n := &Notifier{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	t0 := time.Now()
	evs, err := n.Update(t.Context(), t0, []Alert{{Key: KeyLowDisk, Summary: "low"}})
	if err != nil || len(evs) != 1 || evs[0].Delivered {
		t.Fatalf("%+v %v", evs, err)
	}
	if evs, _ := n.Update(t.Context(), t0.Add(time.Minute), []Alert{{Key: KeyLowDisk, Summary: "low"}}); len(evs) != 0 {
		t.Fatalf("logged twice: %+v", evs)
	}
	act, _ := n.Active()
	if len(act) != 1 || act[0].Key != KeyLowDisk {
		t.Fatalf("Active = %+v", act)
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"backup alert\" alert=low_disk") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestFileStoreDamaged(t *testing.T) {
	p := filepath.Join(t.TempDir(), StateFile)
	os.WriteFile(p, []byte("{not json"), 0o600)
	n := &Notifier{Store: FileStore(p), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := n.Update(t.Context(), time.Now(), []Alert{{Key: "k", Summary: "s"}}); err != nil {
		t.Fatal(err)
	}
	st, err := FileStore(p).Load()
	if err != nil || len(st.Alerts) != 1 {
		t.Fatalf("state rewritten: %+v, %v", st, err)
	}
}

// Every alert condition, from its cause to the webhook, and back.
func TestEachConditionReachesTheWebhook(t *testing.T) {
	h := newHook(t)
	n := &Notifier{WebhookURL: h.url(), Host: "myhost", Repeat: 24 * time.Hour, Backoff: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Store: &MemoryStore{}}
	bad := Status{
		Backups:    []Backup{full("new", 30*time.Hour, 1), full("b", 50*time.Hour, 1000)},
		Continuous: true, ReplicationLag: dur(time.Hour),
		Destinations: []Destination{{Name: "s3://bucket/campfire", ConsecutiveFailures: 4, LastError: "503 Slow Down"}},
		Disk:         &Disk{Path: "/b", FreeBytes: 1, TotalBytes: 1000},
	}
	if _, err := n.Update(t.Context(), now, Check(now, bad, DefaultThresholds())); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(h.take(), "\n")
	for _, key := range []string{KeyNoFullBackup, KeyBackupTooSmall, KeyReplicationLag, KeyDestinationFailing + ":s3://bucket/campfire", KeyLowDisk} {
		if !strings.Contains(got, key) {
			t.Errorf("the webhook got no %s alert:\n%s", key, got)
		}
	}
	good := Status{Backups: []Backup{full("a", time.Hour, 1000), full("b", 25*time.Hour, 1100)}, Continuous: true, ReplicationLag: dur(0),
		Destinations: []Destination{{Name: "s3://bucket/campfire"}}, Disk: &Disk{Path: "/b", FreeBytes: 500 << 30, TotalBytes: 1000 << 30}}
	if _, err := n.Update(t.Context(), now.Add(time.Minute), Check(now.Add(time.Minute), good, DefaultThresholds())); err != nil {
		t.Fatal(err)
	}
	if msgs := h.take(); len(msgs) != 5 || strings.Count(strings.Join(msgs, "\n"), "resolved") != 5 {
		t.Errorf("recovery messages: %q", msgs)
	}
}
