package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// startServe runs "campfire serve" on a free port, with extraEnv added to
// its environment, and returns its base URL once it listens. The log is
// JSON because stderr is not a terminal.
func startServe(t *testing.T, dbPath string, extraEnv ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(testBinary(t), "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(cleanEnv(), "CAMPFIRE_ADDR=127.0.0.1:0", "CAMPFIRE_DATABASE_URL="+dbPath), extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var rest syncBuffer
	sc := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		rest.Write([]byte(sc.Text() + "\n"))
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "campfire serving" {
			// The same scanner goes on: lines it has buffered already
			// would be lost to a new reader of the pipe.
			go func() {
				for sc.Scan() {
					rest.Write([]byte(sc.Text() + "\n"))
				}
				io.Copy(&rest, stderr) // a line too long for the scanner
			}()
			return cmd, "http://" + line.Addr, &rest
		}
	}
	t.Fatalf("campfire serve did not start:\n%s", rest.String())
	return nil, "", nil
}

func postJSON(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestServeGracefulShutdown checks the newcomer's path on an empty
// directory: serve creates the database, first run and a post work over
// HTTP, and SIGTERM exits 0 with the WAL checkpointed into the file.
func TestServeGracefulShutdown(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "data", "campfire.db")
	cmd, base, logs := startServe(t, dbPath)

	code, fr := postJSON(t, base+"/api/first_run", "", `{"name":"Ada","email":"ada@example.com","password":"correct horse"}`)
	if code != http.StatusCreated {
		t.Fatalf("first run: status %d, body %v", code, fr)
	}
	token, _ := fr["token"].(string)
	code, msg := postJSON(t, base+"/api/rooms/1/messages", token, `{"body":"kept after shutdown","client_id":"c1"}`)
	if code != http.StatusCreated {
		t.Fatalf("post: status %d, body %v", code, msg)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("serve exited %d after SIGTERM; log:\n%s", exitErr.ExitCode(), logs)
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit within 30 s of SIGTERM; log:\n%s", logs)
	}
	if fi, err := os.Stat(dbPath + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("after shutdown the WAL holds %d bytes; want it checkpointed", fi.Size())
	}
	if fi, err := os.Stat(dbPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file: %v; want mode 0600", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dbPath), "campfire.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after shutdown the admin socket is still there (%v)", err)
	}
	for _, secret := range []string{token, "correct horse", "kept after shutdown"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains %q; tokens, passwords and message bodies must never be logged", secret)
		}
	}

	db := sqldb.New(dbPath)
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.FindMessages(context.Background(), 1, 1, chat.Page{})
	if err != nil || len(msgs) != 1 || msgs[0].Body != "kept after shutdown" {
		t.Fatalf("after restart the room holds %v (err %v); want the one message", msgs, err)
	}
}

func TestMigrateStatus(t *testing.T) {
	bin := testBinary(t)
	dbPath := filepath.Join(t.TempDir(), "campfire.db")
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(cleanEnv(), "CAMPFIRE_DATABASE_URL="+dbPath)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		}
		return out.String(), errOut.String(), code
	}
	if out, errOut, code := run("migrate"); code != 0 || !strings.Contains(out, fmt.Sprintf("schema version %d", sqldb.LatestSchemaVersion())) {
		t.Fatalf("migrate: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code := run("migrate", "status", "--json")
	if code != 0 {
		t.Fatalf("migrate status --json: exit %d, stderr %q", code, errOut)
	}
	var rows []struct {
		Version   int        `json:"version"`
		Name      string     `json:"name"`
		AppliedAt *time.Time `json:"applied_at"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) == 0 || rows[0].Name != "0001_initial" || rows[0].AppliedAt == nil {
		t.Fatalf("migrate status --json printed %q (err %v); want 0001_initial applied", out, err)
	}
	if out, _, code := run("migrate", "status"); code != 0 || !strings.Contains(out, "0001_initial") {
		t.Fatalf("migrate status: exit %d, stdout %q", code, out)
	}
	if _, errOut, code := run("migrate", "sideways"); code != 2 || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("migrate sideways: exit %d, stderr %q; want exit 2 and one line", code, errOut)
	}
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
