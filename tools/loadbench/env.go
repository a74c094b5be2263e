package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/render"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/web"

	"github.com/campfire-in-go/campfire/tools/apiclient"
)

// discard is the logger for the database and server: a benchmark that
// logs every request would measure the logger.
var discard = slog.New(slog.DiscardHandler)

// member is a signed-in user of the benchmark's Campfire.
type member struct {
	ID    int64
	Name  string
	Token string
}

// env is one Campfire served on loopback from one database file, with the
// HTTP client that talks to it.
type env struct {
	path   string
	db     *sqldb.DB
	srv    *web.Server
	base   string
	client *http.Client

	members []member // members[0] is the administrator
	roomID  int64    // the open room everyone belongs to
}

// newClient returns a keep-alive client that holds an idle connection for
// each of conns concurrent callers.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only, never a proxy
			MaxIdleConns:        conns + 4,
			MaxIdleConnsPerHost: conns + 4,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// start opens the database at e.path and serves it on a free loopback port.
func (e *env) start(ctx context.Context) error {
	e.db = sqldb.New(e.path)
	e.db.Logger = discard
	if err := e.db.Open(ctx); err != nil {
		return err
	}
	e.srv = web.NewServer(e.db, render.New(), discard, "bench")
	e.srv.LoginLimit = 1 << 20
	// Only setup hashes passwords; the measured requests never do.
	e.srv.BcryptCost = bcrypt.MinCost
	e.srv.ShutdownTimeout = 10 * time.Second
	if err := e.srv.Open("127.0.0.1:0"); err != nil {
		e.db.Close()
		return err
	}
	e.base = e.srv.URL()
	return nil
}

// stop closes the server, then the database (which checkpoints the WAL).
func (e *env) stop() error {
	e.client.CloseIdleConnections()
	var err error
	if e.srv != nil {
		err = e.srv.Close()
		e.srv = nil
	}
	if e.db != nil {
		if cerr := e.db.Close(); err == nil {
			err = cerr
		}
		e.db = nil
	}
	return err
}

// newEnv creates a Campfire in dir over HTTP: first run, then users extra
// members signed up through the join link.
func newEnv(ctx context.Context, dir string, users, conns int) (*env, error) {
	e := &env{path: filepath.Join(dir, "campfire.db"), client: newClient(conns)}
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			e.stop()
		}
	}()

	var admin struct {
		User  struct{ ID int64 } `json:"user"`
		Token string             `json:"token"`
	}
	err := e.call(ctx, "POST", "/api/first_run", "", map[string]string{
		"name": "Admin", "email": "admin@example.com", "password": "benchmark-password",
	}, http.StatusCreated, &admin)
	if err != nil {
		return nil, fmt.Errorf("first run: %w", err)
	}
	e.members = append(e.members, member{ID: admin.User.ID, Name: "Admin", Token: admin.Token})

	var acct struct {
		JoinPath string `json:"join_path"`
	}
	if err := e.call(ctx, "GET", "/api/account", admin.Token, nil, http.StatusOK, &acct); err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	code := strings.TrimPrefix(acct.JoinPath, "/join/")
	for i := range users {
		name := fmt.Sprintf("Poster %d", i+1)
		var u struct {
			User  struct{ ID int64 } `json:"user"`
			Token string             `json:"token"`
		}
		err := e.call(ctx, "POST", "/api/join/"+code, "", map[string]string{
			"name": name, "email": fmt.Sprintf("poster%d@example.com", i+1), "password": "benchmark-password",
		}, http.StatusCreated, &u)
		if err != nil {
			return nil, fmt.Errorf("sign up %s: %w", name, err)
		}
		e.members = append(e.members, member{ID: u.User.ID, Name: name, Token: u.Token})
	}

	var rooms struct {
		Rooms []struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"rooms"`
	}
	if err := e.call(ctx, "GET", "/api/rooms", admin.Token, nil, http.StatusOK, &rooms); err != nil {
		return nil, fmt.Errorf("rooms: %w", err)
	}
	for _, r := range rooms.Rooms {
		if r.Type == "open" {
			e.roomID = r.ID
			break
		}
	}
	if e.roomID == 0 {
		return nil, fmt.Errorf("first run made no open room")
	}
	ok = true
	return e, nil
}

// memberNames lists the members' display names, for @mentions.
func (e *env) memberNames() []string {
	names := make([]string, len(e.members))
	for i, m := range e.members {
		names[i] = m.Name
	}
	return names
}

// call sends a JSON request and decodes the answer into out (see
// apiclient.Call).
func (e *env) call(ctx context.Context, method, path, token string, in any, want int, out any) error {
	return apiclient.Call(ctx, e.client, e.base, method, path, token, in, want, out)
}
