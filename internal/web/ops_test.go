package web_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/web"
)

type healthBody struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

type detailedBody struct {
	Status        string   `json:"status"`
	Version       string   `json:"version"`
	UptimeSeconds *float64 `json:"uptime_seconds"`
	Database      struct {
		Status        string `json:"status"`
		Engine        string `json:"engine"`
		SQLiteVersion string `json:"sqlite_version"`
		SchemaVersion int    `json:"schema_version"`
		FileBytes     int64  `json:"file_bytes"`
		Error         string `json:"error"`
	} `json:"database"`
	Process struct {
		Goroutines int    `json:"goroutines"`
		HeapBytes  uint64 `json:"heap_bytes"`
	} `json:"process"`
	Live struct {
		Connections *int `json:"connections"`
	} `json:"live"`
	Backups map[string]any `json:"backups"`
	Disk    []struct {
		Name       string `json:"name"`
		FreeBytes  uint64 `json:"free_bytes"`
		TotalBytes uint64 `json:"total_bytes"`
		Error      string `json:"error"`
	} `json:"disk"`
}

func TestHealth(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	e := newEnv(t, func(s *web.Server) { s.DataDir = dataDir })
	anon := e.anon()
	// Health answers before first run.
	for _, path := range []string{"/health", "/health/live", "/health/ready"} {
		var h healthBody
		anon.call(http.StatusOK, "GET", path, nil, &h)
		if h.Status != "ok" || h.Version != testVersion {
			t.Errorf("%s = %+v", path, h)
		}
	}

	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	admin.post(admin.roomNamed(chat.FirstRoomName).ID, "secret message body")

	var d detailedBody
	r := anon.call(http.StatusOK, "GET", "/health/detailed", nil, &d)
	if d.Status != "ok" || d.Version != testVersion || d.Database.Status != "ok" || d.Database.Engine != "sqlite" ||
		d.Database.SchemaVersion < 1 || d.Database.FileBytes <= 0 || d.Database.SQLiteVersion == "" || d.Database.Error != "" {
		t.Errorf("%s: unexpected values", r)
	}
	if d.UptimeSeconds == nil || *d.UptimeSeconds < 0 {
		t.Errorf("%s: uptime_seconds %v", r, d.UptimeSeconds)
	}
	if d.Process.HeapBytes == 0 || d.Process.Goroutines == 0 {
		t.Errorf("%s: process %+v", r, d.Process)
	}
	if d.Backups == nil {
		t.Errorf("%s: no backups object", r)
	}
	if d.Live.Connections == nil || *d.Live.Connections != 0 {
		t.Errorf("%s: live connections %v, want 0", r, d.Live.Connections)
	}
	if len(d.Disk) != 1 || d.Disk[0].Name != "data" || d.Disk[0].FreeBytes == 0 || d.Disk[0].TotalBytes < d.Disk[0].FreeBytes || d.Disk[0].Error != "" {
		t.Errorf("%s: disk %+v", r, d.Disk)
	}
	body := string(r.Body)
	for _, secret := range []string{admin.token, bob.token, adminPassword, bob.password, adminEmail, bob.user.Email, "secret message body", e.dbPath} {
		if strings.Contains(body, secret) {
			t.Errorf("%s: contains %q", r, secret)
		}
	}
}

func TestHealthWithoutDatabaseFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.firstRun()
	e.dbGone = true
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(e.dbPath + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	checkUnhealthy(t, e)
}

func TestHealthWithClosedDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	e.dbGone = true
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	checkUnhealthy(t, e)
	// Requests fail cleanly, without details, and /metrics still answers.
	r := admin.call(http.StatusInternalServerError, "GET", "/api/rooms", nil, nil)
	if msg := r.errorMessage(t); msg != "Internal error." {
		t.Errorf("%s: message %q", r, msg)
	}
	e.anon().call(http.StatusOK, "GET", "/metrics", nil, nil)
}

func checkUnhealthy(t *testing.T, e *env) {
	t.Helper()
	anon := e.anon()
	var h healthBody
	anon.call(http.StatusServiceUnavailable, "GET", "/health", nil, &h)
	if h.Status != "unavailable" || h.Version != testVersion {
		t.Errorf("/health = %+v", h)
	}
	anon.call(http.StatusServiceUnavailable, "GET", "/health/ready", nil, nil)
	anon.call(http.StatusOK, "GET", "/health/live", nil, nil)
	var d detailedBody
	r := anon.call(http.StatusServiceUnavailable, "GET", "/health/detailed", nil, &d)
	if d.Status != "unavailable" || d.Database.Status != "unavailable" || d.Database.Error == "" || d.Process.HeapBytes == 0 {
		t.Errorf("%s: want database unavailable and process data", r)
	}
	if strings.Contains(string(r.Body), e.dbPath) {
		t.Errorf("%s: shows the database path", r)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	room := admin.roomNamed(chat.FirstRoomName)
	path := fmt.Sprintf("/api/rooms/%d/messages", room.ID)
	admin.post(room.ID, "one")
	bob.post(room.ID, "two")
	admin.call(http.StatusCreated, "POST", path, map[string]string{"body": "three", "client_id": "c3"}, nil)
	admin.call(http.StatusOK, "POST", path, map[string]string{"body": "three", "client_id": "c3"}, nil) // a retry
	admin.call(http.StatusBadRequest, "POST", path, map[string]string{"body": ""}, nil)
	admin.call(http.StatusNotFound, "GET", "/api/rooms/424242", nil, nil)
	admin.call(http.StatusNotFound, "GET", "/api/nothing/here/77", nil, nil)
	admin.call(http.StatusNotFound, "GET", "/nothing/here/78", nil, nil)
	e.anon().call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": adminEmail, "password": "wrong password"}, nil)
	w := admin.dial()
	w.subscribe(room.ID)

	r := e.anon().call(http.StatusOK, "GET", "/metrics", nil, nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type = %q", ct)
	}
	body := string(r.Body)
	for _, want := range []string{
		`campfire_http_requests_total{method="POST",route="POST /api/rooms/{id}/messages",status="201"} 3`,
		`campfire_http_requests_total{method="POST",route="POST /api/rooms/{id}/messages",status="200"} 1`,
		`campfire_http_requests_total{method="POST",route="POST /api/rooms/{id}/messages",status="400"} 1`,
		`campfire_http_requests_total{method="GET",route="GET /api/rooms/{id}",status="404"} 1`,
		`campfire_http_requests_total{method="POST",route="POST /api/session",status="401"} 1`,
		`campfire_http_requests_total{method="POST",route="POST /api/first_run",status="201"} 1`,
		`campfire_http_request_duration_seconds_bucket{method="POST",route="POST /api/rooms/{id}/messages",le="`,
		`campfire_http_request_duration_seconds_count{method="POST",route="POST /api/rooms/{id}/messages"} 5`,
		"\ncampfire_messages_posted_total 3\n",
		`campfire_db_open_connections{pool="writer",state="idle"}`,
		`campfire_db_open_connections{pool="reader",state="in_use"}`,
		"campfire_db_wal_bytes ",
		"\ncampfire_live_connections 1\n",
		"\ncampfire_live_published_total ",
		"\ngo_goroutines ",
		"\nprocess_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Route labels are patterns, never raw paths.
	if m := regexp.MustCompile(`route="[^"]*(/\d+|nothing)[^"]*"`).FindString(body); m != "" {
		t.Errorf("/metrics has a raw path in a label: %s", m)
	}
	for _, secret := range []string{admin.token, bob.token, adminPassword, adminEmail, bob.user.Email, "wrong password"} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}

	// Every metric name follows the conventions.
	for _, line := range strings.Split(body, "\n") {
		name, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok || !strings.HasPrefix(name, "campfire_") {
			continue
		}
		f := strings.Fields(name)
		if f[1] == "counter" && !strings.HasSuffix(f[0], "_total") {
			t.Errorf("counter %s does not end in _total", f[0])
		}
	}

	// Two servers in one process keep their own counts.
	other := newEnv(t)
	r = other.anon().call(http.StatusOK, "GET", "/metrics", nil, nil)
	if !strings.Contains(string(r.Body), "\ncampfire_messages_posted_total 0\n") {
		t.Errorf("a fresh server counts messages of another")
	}
}

// TestLogsHoldNoSecrets signs in, posts and searches with distinctive
// values and checks that none reaches the log, while requests do.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	e := newEnvWithLogger(t, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	admin := e.firstRun()
	code := admin.joinCode()
	bob := e.join(admin, "Bob")
	e.anon().call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": adminEmail, "password": "hunter2 wrong password"}, nil)
	room := admin.roomNamed(chat.FirstRoomName)
	admin.post(room.ID, "the launch code is swordfish")
	admin.search("swordfish")
	bob.call(http.StatusOK, "PATCH", "/api/me", map[string]string{"password": "bob's new password"}, nil)

	out := logs.String()
	if !strings.Contains(out, `"route":"POST /api/rooms/{id}/messages"`) || !strings.Contains(out, `"status":201`) {
		t.Fatalf("no request lines in the log:\n%s", out)
	}
	for _, secret := range []string{admin.token, bob.token, adminPassword, "hunter2", bob.password, "bob's new password",
		adminEmail, bob.user.Email, "swordfish", code, "/api/rooms/" + itoa(room.ID)} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}
}

// TestOpenAndClose runs the server on its own listener.
func TestOpenAndClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // for the database only
	srv := web.NewServer(e.db, renderer(), slog.New(slog.DiscardHandler), testVersion)
	srv.BcryptCost = bcrypt.MinCost
	if err := srv.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || srv.Addr() == nil {
		t.Errorf("URL %q, Addr %v", srv.URL(), srv.Addr())
	}
	resp, err := http.Get(srv.URL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Version") != testVersion {
		t.Errorf("GET /health = %d, X-Version %q", resp.StatusCode, resp.Header.Get("X-Version"))
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if resp, err := http.Get(srv.URL() + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after Close")
	}
	// A bad address fails at once.
	if err := web.NewServer(e.db, renderer(), nil, testVersion).Open("256.0.0.1:http"); err == nil {
		t.Error("Open with a bad address succeeded")
	}
}
