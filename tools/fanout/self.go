package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/render"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/web"
	"github.com/campfire-in-go/campfire/tools/wsbaseline/baseline"
)

// self is a target served by this process on a free loopback port.
type self struct {
	target target
	stop   func()
}

func startSelf(ctx context.Context, kind string) (*self, error) {
	if kind == "campfire" {
		return startCampfire(ctx)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: baseline.Handler()}
	go srv.Serve(ln) // ends when stop closes the listener
	return &self{
		target: newTarget("baseline", "http://"+ln.Addr().String(), "", 0),
		stop:   func() { srv.Close() },
	}, nil
}

// startCampfire serves a fresh Campfire from a temporary database and
// takes its first run over HTTP, as a person would: the administrator's
// token and the open room it creates are what the clients use.
func startCampfire(ctx context.Context) (_ *self, err error) {
	dir, err := os.MkdirTemp("", "fanout-*")
	if err != nil {
		return nil, err
	}
	discard := slog.New(slog.DiscardHandler) // a logged request would cost more than it measures
	db := sqldb.New(filepath.Join(dir, "campfire.db"))
	db.Logger = discard
	srv := web.NewServer(db, render.New(), discard, "bench")
	srv.BcryptCost = bcrypt.MinCost // only the first run hashes a password
	srv.ShutdownTimeout = 5 * time.Second
	stop := func() {
		srv.Close()
		db.Close()
		os.RemoveAll(dir)
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	if err := srv.Open("127.0.0.1:0"); err != nil {
		return nil, err
	}

	client := newHTTPClient()
	var admin struct {
		Token string `json:"token"`
	}
	if err := callJSON(ctx, client, "POST", srv.URL()+"/api/first_run", "", map[string]string{
		"name": "Fanout", "email": "fanout@example.com", "password": "fanout-benchmark",
	}, &admin); err != nil {
		return nil, fmt.Errorf("first run: %w", err)
	}
	var rooms struct {
		Rooms []struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"rooms"`
	}
	if err := callJSON(ctx, client, "GET", srv.URL()+"/api/rooms", admin.Token, nil, &rooms); err != nil {
		return nil, fmt.Errorf("rooms: %w", err)
	}
	var room int64
	for _, r := range rooms.Rooms {
		if r.Type == "open" {
			room = r.ID
			break
		}
	}
	if room == 0 {
		return nil, errors.New("first run made no open room")
	}
	return &self{target: newTarget("campfire", srv.URL(), admin.Token, room), stop: stop}, nil
}

// callJSON sends in as JSON and decodes a 2xx answer into out.
func callJSON(ctx context.Context, client *http.Client, method, url, token string, in, out any) error {
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
