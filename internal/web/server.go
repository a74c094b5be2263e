// Package web is the HTTP transport: the JSON API, health and metrics
// endpoints (and, later, pages and the WebSocket endpoint). Handlers return
// errors; one adapter turns them into responses.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/render"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Server serves HTTP for one database.
type Server struct {
	DB       *sqldb.DB
	Renderer *render.Renderer
	Logger   *slog.Logger
	Version  string
	// DataDir is reported on /health/detailed (disk free); "" skips it.
	DataDir string
	// BcryptCost hashes new passwords; tests lower it.
	BcryptCost int
	// LoginLimit and LoginWindow bound sign-in attempts per client IP.
	LoginLimit  int
	LoginWindow time.Duration
	// ShutdownTimeout bounds how long Close waits for in-flight requests.
	ShutdownTimeout time.Duration

	metrics *metrics
	logins  *rateLimiter
	started time.Time
	dummy   []byte // a bcrypt hash compared against for unknown emails

	ln     net.Listener
	server *http.Server
}

// NewServer returns a Server with default settings.
func NewServer(db *sqldb.DB, r *render.Renderer, logger *slog.Logger, version string) *Server {
	return &Server{
		DB:              db,
		Renderer:        r,
		Logger:          logger,
		Version:         version,
		BcryptCost:      bcrypt.DefaultCost,
		LoginLimit:      10,
		LoginWindow:     3 * time.Minute,
		ShutdownTimeout: 30 * time.Second,
	}
}

// Handler builds the routes and middleware. Call it once.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.started = time.Now()
	s.metrics = newMetrics(s.DB)
	s.logins = newRateLimiter(s.LoginLimit, s.LoginWindow)
	s.dummy, _ = bcrypt.GenerateFromPassword([]byte("campfire-timing-equalizer"), s.BcryptCost)

	mux := http.NewServeMux()
	s.routes(mux)

	csrf := http.NewCrossOriginProtection()
	// Refusals are API errors like any other, not net/http's plain text.
	csrf.SetDenyHandler(s.serve(func(w http.ResponseWriter, r *http.Request) error {
		return chat.Errorf(chat.EFORBIDDEN, "Cross-origin request refused; use the app from its own address.")
	}))
	var h http.Handler = csrf.Handler(mux)
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

// Close stops accepting connections and waits for in-flight requests.
func (s *Server) Close() error {
	if s.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	return s.server.Shutdown(ctx)
}
