package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// TestServeBackupAndRestore runs the backup and restore commands against a
// running server: they go through its admin socket while people keep
// posting, and a restore pauses the server, swaps the database and serves
// the restored data.
func TestServeBackupAndRestore(t *testing.T) {
	c := newCLI(t)
	cmd, base, logs := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	sock := filepath.Join(filepath.Dir(c.dbPath), "campfire.sock")

	t.Run("Socket", func(t *testing.T) {
		fi, err := os.Lstat(sock)
		if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Fatalf("admin socket %s: %v, mode %v; want a socket, 0600", sock, err, fi.Mode())
		}
		if !strings.Contains(logs.String(), `"admin_socket":"`+sock+`"`) {
			t.Errorf("the start line does not name the admin socket:\n%s", logs)
		}
		// A second server on the same database is refused at once.
		second := exec.Command(c.bin, "serve")
		second.Env = append(append([]string(nil), c.env...), "CAMPFIRE_ADDR=127.0.0.1:0")
		out, err := second.CombinedOutput()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 || !strings.Contains(string(out), "already running") {
			t.Errorf("a second serve on the same database: %v\n%s", err, out)
		}
		// migrate would open and checkpoint the database beside the server.
		c.run("migrate").want(t, 1, "campfire serve is already running")
	})

	token := firstRun(t, base)
	mustPost(t, base, token, "before the backup")
	var b0 *backup.Result
	t.Run("BackupThroughSocket", func(t *testing.T) {
		b0 = c.backupJSON("backup", "full", "--compress", "--verify")
		if !b0.Manifest.Verified() || b0.Manifest.RowCounts["messages"] != 1 {
			t.Fatalf("backup through the server: %+v", b0.Manifest)
		}
		if !strings.Contains(logs.String(), `"msg":"backup audit","action":"backup","type":"full"`) {
			t.Errorf("the server did not log the backup:\n%s", logs)
		}
	})

	t.Run("BackupsWhilePosting", func(t *testing.T) {
		var posted, failed atomic.Int64
		var failures sync.Map
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					code, err := tryPost(base, token, fmt.Sprintf("writer %d message %d", w, i))
					if code == http.StatusCreated {
						posted.Add(1)
					} else {
						failed.Add(1)
						failures.Store(fmt.Sprint(code, err), true)
					}
				}
			})
		}
		time.Sleep(100 * time.Millisecond)
		results := make([]result, 3)
		var bw sync.WaitGroup
		for i := range results {
			bw.Go(func() {
				kind := []string{"full", "hot", "full"}[i]
				results[i] = c.run("backup", kind, "--compress", "--verify")
			})
		}
		bw.Wait()
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		for _, r := range results {
			r.want(t, 0)
			if !regexp.MustCompile(`taken by the running server \(pid \d+\)`).MatchString(r.stdout) {
				t.Errorf("the backup did not go through the server:\n%s", r.stdout)
			}
		}
		if failed.Load() != 0 || posted.Load() == 0 {
			var fs []string
			failures.Range(func(k, _ any) bool { fs = append(fs, k.(string)); return true })
			t.Errorf("while backing up: %d posts, %d failed (%v)", posted.Load(), failed.Load(), fs)
		}
		entries, _ := backup.List(c.backupDir)
		// 3 + the one before + the full backup continuous backup starts
		// its chain from when the server starts.
		if len(entries) != 5 {
			t.Errorf("the backup directory holds %d backups, want 5", len(entries))
		}
		for _, en := range entries {
			if !en.Verified() && !(en.Manifest != nil && en.Manifest.Chain != nil && en.Manifest.Chain.Seq == 0) {
				t.Errorf("%s: %s", en.Name, en.Status)
			}
		}
	})

	t.Run("MetricsAndHealth", func(t *testing.T) {
		m := httpGet(t, base+"/metrics")
		for _, s := range []string{`campfire_backup_last_success_timestamp_seconds{type="full"}`, `campfire_backup_last_success_timestamp_seconds{type="hot"}`,
			`campfire_backup_failures_total{type="full"} 0`, `campfire_backup_size_bytes{type="full"}`} {
			if !strings.Contains(m, s) {
				t.Errorf("/metrics has no %s", s)
			}
		}
		var h struct {
			Backups struct {
				Configured bool       `json:"configured"`
				LastFull   *time.Time `json:"last_full"`
				Count      int        `json:"count"`
			} `json:"backups"`
		}
		json.Unmarshal([]byte(httpGet(t, base+"/health/detailed")), &h)
		if !h.Backups.Configured || h.Backups.LastFull == nil || h.Backups.Count != 5 {
			t.Errorf("/health/detailed backups = %+v", h.Backups)
		}
	})

	t.Run("VerifyAndPruneThroughSocket", func(t *testing.T) {
		c.run("backup", "verify", b0.Path).want(t, 0)
		c.run("backup", "prune", "--dry-run").want(t, 0)
		if !strings.Contains(logs.String(), `"action":"verify","type":"full","file":"`+filepath.Base(b0.Path)) {
			t.Errorf("the server did not record the verification")
		}
	})

	t.Run("RestoreRefused", func(t *testing.T) {
		before := roomBodies(t, base, token)
		c.run("restore", b0.Path).want(t, 2, "refusing to restore without confirmation")
		c.run("restore", corruptCopy(t, b0.Path), "--auto-confirm").want(t, 1, "failed verification")
		if got := roomBodies(t, base, token); !slices.Equal(got, before) {
			t.Errorf("refused restores changed the served data: %d messages, want %d", len(got), len(before))
		}
		r := c.run("restore", b0.Path, "--dry-run").want(t, 0)
		if !strings.Contains(r.stdout, "pauses for the swap") {
			t.Errorf("restore --dry-run with a server does not say it pauses:\n%s", r.stdout)
		}
		if got := roomBodies(t, base, token); !slices.Equal(got, before) {
			t.Error("restore --dry-run changed the served data")
		}
		if l := leftovers(t, c.dbPath); slices.ContainsFunc(l, func(n string) bool { return !strings.HasPrefix(n, "campfire.db-") }) {
			t.Errorf("refused restores left %v beside the database", l)
		}
	})

	t.Run("RestoreThroughServer", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		closed := make(chan websocket.StatusCode, 1)
		go func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					closed <- websocket.CloseStatus(err)
					return
				}
			}
		}()

		r := c.run("restore", b0.Path, "--auto-confirm").want(t, 0)
		if !regexp.MustCompile(`campfire serve \(pid \d+\) paused for .* and serves the restored data`).MatchString(r.stdout) {
			t.Errorf("restore through the server printed:\n%s", r.stdout)
		}
		if got := roomBodies(t, base, token); !slices.Equal(got, []string{"before the backup"}) {
			t.Errorf("after the restore the server serves %d messages, want the backup's one", len(got))
		}
		mustPost(t, base, token, "after the restore")
		if got := roomBodies(t, base, token); !slices.Equal(got, []string{"before the backup", "after the restore"}) {
			t.Errorf("posting after the restore: %q", got)
		}
		select {
		case code := <-closed:
			if code != websocket.StatusServiceRestart {
				t.Errorf("the WebSocket closed with %d, want 1012", code)
			}
		case <-time.After(5 * time.Second):
			t.Error("the WebSocket stayed open through the restore")
		}
		for _, s := range []string{`"msg":"maintenance: pausing the server"`, `"msg":"maintenance: resumed"`, `"action":"restore"`} {
			if !strings.Contains(logs.String(), s) {
				t.Errorf("the server log has no %s", s)
			}
		}
		// The restore is in the restored database's audit log, on /metrics.
		if m := httpGet(t, base+"/metrics"); !strings.Contains(m, `campfire_backup_events_total{action="restore",status="success"} 1`) {
			t.Errorf("/metrics does not count the restore:\n%s", grepMetric(m, "campfire_backup_events_total"))
		}
	})

	t.Run("Shutdown", func(t *testing.T) {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve after SIGTERM: %v\n%s", err, logs)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not exit within 30 s of SIGTERM")
		}
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the admin socket is still there after SIGTERM (%v)", err)
		}
		// With the server gone, the command line works alone again.
		r := c.run("backup", "full").want(t, 0)
		if strings.Contains(r.stdout, "running server") {
			t.Errorf("a backup after shutdown claims a server:\n%s", r.stdout)
		}
		if got := bodies(t, c.dbPath); !slices.Equal(got, []string{"before the backup", "after the restore"}) {
			t.Errorf("after shutdown the database holds %q", got)
		}
	})
}

// TestStaleSocket starts serve where a crashed server left its socket:
// the socket is replaced, and commands find the new server.
func TestStaleSocket(t *testing.T) {
	c := newCLI(t)
	os.MkdirAll(filepath.Dir(c.dbPath), 0o700)
	sock := filepath.Join(filepath.Dir(c.dbPath), "campfire.sock")
	// A socket nobody listens on, as a killed server leaves it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatal("the stale socket is gone before the test starts")
	}
	// Commands see no server there and work alone.
	seed(t, c.dbPath, "hello")
	c.run("backup", "full").want(t, 0)

	_, base, _ := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	if r := c.run("backup", "full").want(t, 0); !strings.Contains(r.stdout, "running server") {
		t.Errorf("the backup did not find the new server:\n%s", r.stdout)
	}
	httpGet(t, base+"/health")
}

func tryPost(base, token, body string) (int, error) {
	b, _ := json.Marshal(map[string]string{"body": body})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/rooms/1/messages", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func grepMetric(m, name string) string {
	var out []string
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
