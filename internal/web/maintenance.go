package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Maintenance: a restore through the admin socket swaps the database file
// under the running server. The gate counts the requests in flight (every
// one that may touch s.DB, WebSockets included); Maintain closes it, so
// new requests answer 503, closes the WebSockets (1012, service restart),
// waits until no request is in flight, closes the database, runs the
// restore, opens the database again at the same path, swaps it into s.DB
// and opens the gate. s.DB is written only while the gate is closed and
// empty, under the gate's mutex; requests read it only between entering
// and leaving the gate, so the mutex orders every read after the write.
// The live hub stays: pages reconnect and subscribe again, with their
// memberships checked against the restored database.

// gate counts requests in flight and refuses new ones while closed.
type gate struct {
	mu      sync.Mutex
	active  int
	closed  bool
	drained chan struct{} // closed when active reaches 0 while closed
}

// enter counts a request in; false while the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.active++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	if g.closed && g.active == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
}

// close refuses new requests and returns a channel that is closed once
// none is in flight.
func (g *gate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	ch := make(chan struct{})
	if g.active == 0 {
		close(ch)
	} else {
		g.drained = ch
	}
	return ch
}

// open lets requests in again, after running swap (if not nil) under the
// gate's mutex.
func (g *gate) open(swap func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if swap != nil {
		swap()
	}
	g.closed = false
	g.drained = nil
}

// ungated requests never touch the database, so they answer during
// maintenance: liveness (the process is fine; a supervisor must not kill
// it mid-restore) and the static files. Only what those routes serve is
// let through: anything else (another method, a path no route matches)
// may end on an error page, which reads the database.
func ungated(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.URL.Path == "/health/live" {
		return true
	}
	file, ok := strings.CutPrefix(r.URL.Path, "/static/")
	return ok && file != "" && !strings.Contains(file, "/")
}

// gated counts every request through the gate and answers 503 while the
// server is in maintenance.
func (s *Server) gated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ungated(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !s.gate.enter() {
			s.writeMaintenance(w, r)
			return
		}
		defer s.gate.leave()
		next.ServeHTTP(w, r)
	})
}

// writeMaintenance answers a request that arrives during maintenance,
// without touching the database: JSON for the API, health checks and
// metrics, the error page for people.
func (s *Server) writeMaintenance(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	msg := chat.ErrorMessage(admin.ErrMaintenance)
	switch {
	case strings.HasPrefix(r.URL.Path, "/health"):
		writeJSON(w, http.StatusServiceUnavailable, healthStatus{Status: "unavailable", Version: s.Version, Error: msg})
	case isAPI(r) || r.URL.Path == "/metrics":
		writeJSON(w, http.StatusServiceUnavailable, errorBodyOf(chat.EUNAVAILABLE, msg))
	default:
		data := errorPage{Page: Page{Title: http.StatusText(http.StatusServiceUnavailable), Account: chat.DefaultAccountName},
			Status: http.StatusServiceUnavailable, Message: msg}
		if err := s.renderPage(w, http.StatusServiceUnavailable, "error", data); err != nil {
			http.Error(w, msg, http.StatusServiceUnavailable)
		}
	}
}

// Use runs fn with the server's database as a request in flight, so that
// a restore waits for it; during maintenance it fails with
// admin.ErrMaintenance. It implements admin.Host.
func (s *Server) Use(ctx context.Context, fn func(db *sqldb.DB) error) error {
	if !s.gate.enter() {
		return admin.ErrMaintenance
	}
	defer s.gate.leave()
	return fn(s.DB)
}

// Database returns the database the server serves now (a restore replaces
// it).
func (s *Server) Database() *sqldb.DB {
	s.gate.mu.Lock()
	defer s.gate.mu.Unlock()
	return s.DB
}

// DatabaseHooks hear about the server's database closing and opening
// again around a restore, and closing at shutdown: continuous backup ships
// the last commits before and starts a new chain after.
type DatabaseHooks interface {
	Closing(ctx context.Context) error
	Opened(ctx context.Context, db *sqldb.DB) error
}

// closing tells the hooks, if any, that the database is about to close.
func (s *Server) closing(ctx context.Context) error {
	if s.Hooks == nil {
		return nil
	}
	return s.Hooks.Closing(ctx)
}

// CloseDatabase waits for a restore under way to finish, then closes the
// current database; no restore starts afterwards. Call it after Close.
func (s *Server) CloseDatabase() error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	s.dbClosed = true
	ctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout())
	defer cancel()
	return errors.Join(s.closing(ctx), s.Database().Close())
}

func (s *Server) shutdownTimeout() time.Duration {
	if s.ShutdownTimeout <= 0 {
		return 30 * time.Second
	}
	return s.ShutdownTimeout
}

// serviceRestart closes WebSockets during maintenance: pages reconnect.
var serviceRestart = closeReason{websocket.StatusServiceRestart, "service restart"}

// Maintain pauses the server, closes its database, runs fn, opens the
// database at the same path again and resumes (see the comment at the top
// of this file). When requests in flight do not finish within
// ShutdownTimeout it resumes without running fn. When the database cannot
// be opened again the server stays in maintenance (503) and the error says
// to restart it. It implements admin.Host.
func (s *Server) Maintain(ctx context.Context, fn func(ctx context.Context) error) error {
	if !s.maintMu.TryLock() {
		return chat.Errorf(chat.ECONFLICT, "Another restore is under way on this server.")
	}
	defer s.maintMu.Unlock()
	if s.dbClosed {
		return chat.Errorf(chat.EUNAVAILABLE, "The server is shutting down.")
	}
	start := time.Now()
	timeout := s.shutdownTimeout()
	drained := s.gate.close()
	s.Logger.InfoContext(ctx, "maintenance: pausing the server", "reason", "restore")
	// Repeated, for a WebSocket that entered the gate but had not yet
	// registered when the first round of closes went out.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for done := false; !done; {
		s.sockets.closeEvery(serviceRestart)
		select {
		case <-drained:
			done = true
		case <-tick.C:
		case <-deadline:
			s.gate.open(nil)
			return chat.Errorf(chat.EUNAVAILABLE, "Requests were still running after %s, so nothing was changed; try again.", timeout)
		}
	}

	old := s.DB
	if err := s.closing(ctx); err != nil {
		s.Logger.WarnContext(ctx, "maintenance: before closing the database", "err", err)
	}
	if err := old.Close(); err != nil {
		s.Logger.WarnContext(ctx, "maintenance: close the database", "err", err)
	}
	ferr := fn(ctx)

	db := sqldb.New(old.Path)
	db.Logger, db.Now = old.Logger, old.Now
	db.AutoCheckpoint, db.CheckpointInterval, db.CheckpointPages = old.AutoCheckpoint, old.CheckpointInterval, old.CheckpointPages
	db.OnCommit = old.OnCommit
	if err := db.Open(ctx); err != nil {
		s.Logger.ErrorContext(ctx, "maintenance: the database could not be opened again; the server answers 503 until it is restarted", "err", err)
		return errors.Join(ferr, fmt.Errorf("open the database again after the restore: %w; restart campfire serve", err))
	}
	if s.Hooks != nil {
		if err := s.Hooks.Opened(ctx, db); err != nil {
			s.Logger.ErrorContext(ctx, "maintenance: after opening the database again", "err", err)
		}
	}
	s.gate.open(func() { s.DB = db })
	s.Logger.InfoContext(ctx, "maintenance: resumed", "paused_ms", time.Since(start).Milliseconds())
	return ferr
}

// closeEvery asks every connection to close with cr, without refusing new
// ones (the gate does that during maintenance).
func (ss *sockets) closeEvery(cr closeReason) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, byConn := range ss.byUser {
		for sc := range byConn {
			sc.askClose(cr)
		}
	}
}
