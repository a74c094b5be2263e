// Package web is the HTTP transport: the JSON API, the server-rendered
// pages, the WebSocket endpoint for live updates, and the health and
// metrics endpoints. Handlers return errors; one adapter per kind of
// client (JSON for the API, HTML for pages) turns them into responses.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/live"
	"github.com/campfire-in-go/campfire/internal/render"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Server serves HTTP for one database.
type Server struct {
	// Hooks, when set, hear about the database closing and reopening.
	Hooks DatabaseHooks
	// DB is the database. Set it before Handler; afterwards only a
	// restore (Maintain) replaces it, and code outside a request reads it
	// with Database.
	DB       *sqldb.DB
	Renderer *render.Renderer
	// Hub fans live events out to WebSocket connections.
	Hub     *live.Hub
	Logger  *slog.Logger
	Version string
	// DataDir is reported on /health/detailed (disk free); "" skips it.
	DataDir string
	// BcryptCost hashes new passwords; tests lower it.
	BcryptCost int
	// LoginLimit and LoginWindow bound sign-in attempts per client IP.
	LoginLimit  int
	LoginWindow time.Duration
	// ShutdownTimeout bounds how long Close waits for in-flight requests.
	ShutdownTimeout time.Duration
	// PingInterval is how often a WebSocket is pinged, and PongTimeout
	// how long its pong may take before the connection is dropped.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// Backups runs backups for the administrators' page and reports them
	// on /health/detailed; nil when the server has no backup
	// configuration.
	Backups *admin.Ops
	// Monitoring reports the backup schedule and alerts on
	// /health/detailed (health_monitoring.go). Set it before Handler.
	Monitoring Monitoring

	gate     gate       // requests in flight; closed during maintenance
	maintMu  sync.Mutex // one maintenance at a time
	dbClosed bool       // CloseDatabase ran (under maintMu)

	metrics   *metrics
	logins    *rateLimiter
	templates *templates
	assets    *assets
	sockets   sockets
	presence  presence
	started   time.Time
	dummy     []byte // a bcrypt hash compared against for unknown emails

	ln     net.Listener
	server *http.Server
}

// NewServer returns a Server with default settings.
func NewServer(db *sqldb.DB, r *render.Renderer, logger *slog.Logger, version string) *Server {
	return &Server{
		DB:              db,
		Renderer:        r,
		Hub:             live.NewHub(),
		Logger:          logger,
		Version:         version,
		BcryptCost:      bcrypt.DefaultCost,
		LoginLimit:      10,
		LoginWindow:     3 * time.Minute,
		ShutdownTimeout: 30 * time.Second,
		PingInterval:    30 * time.Second,
		PongTimeout:     10 * time.Second,
	}
}

// Handler builds the routes and middleware. Call it once. It parses the
// embedded templates and hashes the static files, and panics if they are
// broken: that is a bug in the build, caught by any test that starts a
// server.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Hub == nil {
		s.Hub = live.NewHub()
	}
	var err error
	if s.assets, err = loadAssets(); err != nil {
		panic(err)
	}
	if s.templates, err = parseTemplates(s.assets); err != nil {
		panic(err)
	}
	s.started = time.Now()
	s.metrics = newMetrics(func() *sqldb.DB { return s.DB }, s.Hub, func() admin.Continuous {
		if s.Backups == nil {
			return nil
		}
		return s.Backups.Continuous
	})
	s.logins = newRateLimiter(s.LoginLimit, s.LoginWindow)
	s.dummy, _ = bcrypt.GenerateFromPassword([]byte("campfire-timing-equalizer"), s.BcryptCost)

	mux := http.NewServeMux()
	s.routes(mux)

	csrf := http.NewCrossOriginProtection()
	// Refusals are API errors like any other, not net/http's plain text.
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := chat.Errorf(chat.EFORBIDDEN, "Cross-origin request refused; use the app from its own address.")
		if isAPI(r) {
			s.writeError(w, r, err)
		} else {
			s.writePageError(w, r, err)
		}
	}))
	var h http.Handler = csrf.Handler(s.pageNotFound(mux))
	h = s.gated(h)
	h = s.observe(h)
	return h
}

// Open listens on addr and serves in the background. Listening happens
// here, synchronously, so a bad address fails at once and ":0" works.
func (s *Server) Open(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.server = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the server's base URL on loopback.
func (s *Server) URL() string {
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	return "http://127.0.0.1:" + port
}

// Close stops accepting connections, waits for in-flight requests, then
// closes the WebSocket connections (1001, going away: pages reconnect to
// the next server).
func (s *Server) Close() error {
	if s.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	err := s.server.Shutdown(ctx)
	if werr := s.sockets.closeAll(ctx); err == nil && werr != nil {
		err = fmt.Errorf("close websockets: %w", werr)
	}
	return err
}
