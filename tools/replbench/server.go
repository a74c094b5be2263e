package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/tools/apiclient"
)

// server is one `campfire serve` child on loopback.
type server struct {
	cmd     *exec.Cmd
	dir     string // holds the database, the backups and the log
	dbPath  string
	backups string
	base    string
	client  *http.Client
	tokens  []string // posters' tokens
	roomID  int64
	log     *os.File
}

// serverEnv is the environment of campfire commands on dir.
func serverEnv(dbPath, backups string, continuous bool) []string {
	on := "off"
	if continuous {
		on = "on"
	}
	env := append(os.Environ(),
		"CAMPFIRE_DATABASE_URL="+dbPath,
		"CAMPFIRE_BACKUP_DIR="+backups,
		"CAMPFIRE_STORAGE_DIR="+filepath.Join(filepath.Dir(dbPath), "storage"),
		"CAMPFIRE_LOG_LEVEL=warn",
		"CAMPFIRE_LOG_FORMAT=text",
		"CAMPFIRE_BACKUP_CONTINUOUS="+on,
	)
	// Scheduled jobs (the 5-minute monitor, nightly backups) would land in
	// some runs and not others: off for the benchmark.
	for _, j := range []string{"FULL", "SCHEMA", "PRUNE", "VERIFY", "MONITOR"} {
		env = append(env, "CAMPFIRE_BACKUP_SCHEDULE_"+j+"=off")
	}
	return env
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer runs bin serve on a fresh database in dir and signs up the
// administrator and posters-1 more users.
func startServer(ctx context.Context, bin, dir string, continuous bool, posters, conns int) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, dbPath: filepath.Join(dir, "campfire.db"), backups: filepath.Join(dir, "backups"),
		base: "http://" + addr, client: newClient(conns)}
	s.log, err = os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = append(serverEnv(s.dbPath, s.backups, continuous), "CAMPFIRE_ADDR="+addr)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := startChild(s.cmd); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.kill()
		return nil, err
	}
	if err := s.setup(ctx, posters); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// kill is the machine dying: SIGKILL, no shutdown.
func (s *server) kill() {
	killChild(s.cmd)
	s.client.CloseIdleConnections()
	s.log.Close()
}

func (s *server) waitReady(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/health/live", nil)
		if resp, err := s.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if s.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(s.log.Name())
	return fmt.Errorf("campfire serve did not become ready: %s", strings.TrimSpace(string(b)))
}

// setup does the first run and signs posters-1 users up with the join
// link (the sign-in limit is 10 per client address, so keep it small).
func (s *server) setup(ctx context.Context, posters int) error {
	var admin struct {
		Token string `json:"token"`
	}
	if err := s.call(ctx, "POST", "/api/first_run", "", map[string]string{
		"name": "Admin", "email": "admin@example.com", "password": "benchmark-password",
	}, http.StatusCreated, &admin); err != nil {
		return fmt.Errorf("first run: %w", err)
	}
	s.tokens = append(s.tokens, admin.Token)
	var acct struct {
		JoinPath string `json:"join_path"`
	}
	if err := s.call(ctx, "GET", "/api/account", admin.Token, nil, http.StatusOK, &acct); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	code := strings.TrimPrefix(acct.JoinPath, "/join/")
	for i := 1; i < posters; i++ {
		var u struct {
			Token string `json:"token"`
		}
		if err := s.call(ctx, "POST", "/api/join/"+code, "", map[string]string{
			"name": fmt.Sprintf("Poster %d", i), "email": fmt.Sprintf("poster%d@example.com", i), "password": "benchmark-password",
		}, http.StatusCreated, &u); err != nil {
			return fmt.Errorf("sign up: %w", err)
		}
		s.tokens = append(s.tokens, u.Token)
	}
	var rooms struct {
		Rooms []struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"rooms"`
	}
	if err := s.call(ctx, "GET", "/api/rooms", admin.Token, nil, http.StatusOK, &rooms); err != nil {
		return fmt.Errorf("rooms: %w", err)
	}
	for _, r := range rooms.Rooms {
		if r.Type == "open" {
			s.roomID = r.ID
			return nil
		}
	}
	return fmt.Errorf("first run made no open room")
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only
			MaxIdleConns:        conns + 4,
			MaxIdleConnsPerHost: conns + 4,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// call sends a JSON request and decodes the answer into out (see
// apiclient.Call).
func (s *server) call(ctx context.Context, method, path, token string, in any, want int, out any) error {
	return apiclient.Call(ctx, s.client, s.base, method, path, token, in, want, out)
}
