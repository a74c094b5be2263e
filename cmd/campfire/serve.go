package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/render"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/web"
)

func newServeCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the chat server",
		Long: `Run the chat server: the JSON API, health and metrics endpoints.

serve creates the database if it does not exist and applies pending schema
migrations before it listens. On SIGINT or SIGTERM it stops accepting
connections, finishes the requests in flight, checkpoints the database and
exits 0.

serve owns the database while it runs: it holds <database>.lock and answers
the backup and restore commands on its admin socket, <database
dir>/campfire.sock (owner-only, removed at exit), so they never open the
database beside it. Administrators see the backups at /account/backups.

On a fresh database, open http://localhost:3000/ in a browser to create
the administrator, or from a script:
  curl --json '{"name":"Ada","email":"ada@example.com","password":"a long password"}' \
    localhost:3000/api/first_run`,
		Example: `  campfire serve
  CAMPFIRE_ADDR=127.0.0.1:8080 campfire serve --database-url /var/lib/campfire/campfire.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(e.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), e, cfg)
		},
	}
	addConfigFlags(cmd.Flags())
	return cmd
}

// lockWait is how long serve and migrate wait for a command that works on
// the database alone (a backup, a restore) before they give up.
var lockWait = 30 * time.Second

// serve runs the server until ctx is cancelled, then shuts down in reverse
// order of start: the admin socket and HTTP first, the database last.
func serve(ctx context.Context, e *env, cfg Config) error {
	logger := newLogger(e.Stderr, cfg.LogLevel, cfg.LogFormat, e.terminal(e.Stderr))
	if cfg.DatabaseEngine != engineSQLite {
		return usageErrorf("CAMPFIRE_DATABASE_URL: PostgreSQL is not supported by this build yet; use a SQLite path such as ./data/campfire.db")
	}
	lock, err := lockDatabase(ctx, cfg.DatabasePath, admin.RoleServe, logger)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	ops := newOps(cfg, logger)
	cont, err := newContinuous(ctx, cfg, ops, logger)
	if err != nil {
		return err
	}
	var configure func(*sqldb.DB)
	if cont != nil {
		configure = cont.configure
	}
	db, err := openDatabase(ctx, cfg, logger, configure)
	if err != nil {
		return err
	}

	srv := web.NewServer(db, render.New(), logger, buildVersion())
	srv.DataDir = filepath.Dir(db.Path)
	srv.Backups = ops
	if cont != nil {
		if err := cont.Opened(ctx, db); err != nil {
			db.Close()
			return err
		}
		srv.Hooks, ops.Continuous = cont, cont.rep
	}
	defer func() {
		if err := srv.CloseDatabase(); err != nil {
			logger.Error("close database", "err", err)
		}
	}()
	stopSchedule, err := startScheduler(ctx, cfg, srv, ops, logger)
	if err != nil {
		return err
	}
	defer stopSchedule() // before the database closes
	if err := srv.Open(cfg.Addr); err != nil {
		return err
	}
	sock := admin.SocketPath(db.Path)
	ln, err := admin.Listen(sock)
	if err != nil {
		srv.Close()
		return err
	}
	adminSrv := &http.Server{
		Handler: admin.NewHandler(srv, ops, admin.Status{
			PID: os.Getpid(), Version: buildVersion(), Database: db.Path, BackupDir: ops.Config.Dir,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin socket stopped", "err", err)
		}
	}()
	logger.Info("campfire serving", "addr", srv.Addr().String(), "admin_socket", sock, "version", buildVersion(), "config", cfg)
	checkRemoteInBackground(ctx, ops)

	<-ctx.Done()
	logger.Info("shutting down")
	// A backup or restore under way through the socket finishes first.
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := adminSrv.Shutdown(actx); err != nil {
		logger.Warn("admin socket: operations still running at shutdown were cancelled", "err", err)
		adminSrv.Close()
	}
	os.Remove(sock)
	if err := srv.Close(); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	return nil
}

// lockDatabase takes the database's ownership lock for serve or migrate,
// waiting a while for a command that works on the database alone to
// finish; a running server is refused at once.
func lockDatabase(ctx context.Context, dbPath, role string, logger *slog.Logger) (*admin.DBLock, error) {
	deadline := time.Now().Add(lockWait)
	told := false
	for {
		lock, err := admin.LockDatabase(dbPath, role)
		if err == nil {
			return lock, nil
		}
		var busy *admin.BusyError
		if !errors.As(err, &busy) {
			return nil, err
		}
		if busy.Holder.Serving() {
			return nil, fmt.Errorf("campfire serve is already running on %s (pid %d); stop it first", busy.Path, busy.Holder.PID)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s; it was still busy after %s: run campfire %s again when it has finished", busy, lockWait, role)
		}
		if !told {
			logger.Info("waiting for another campfire command to finish with the database", "holder_pid", busy.Holder.PID, "holder", busy.Holder.Role)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// openDatabase opens the configured database and applies migrations;
// configure, when set, adjusts the DB before it opens.
func openDatabase(ctx context.Context, cfg Config, logger *slog.Logger, configure func(*sqldb.DB)) (*sqldb.DB, error) {
	if cfg.DatabaseEngine != engineSQLite {
		return nil, usageErrorf("CAMPFIRE_DATABASE_URL: PostgreSQL is not supported by this build yet; use a SQLite path such as ./data/campfire.db")
	}
	db := sqldb.New(cfg.DatabasePath)
	db.Logger = logger
	if configure != nil {
		configure(db)
	}
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	return db, nil
}
