package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

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

On a fresh database, create the administrator with
  curl -X POST localhost:3000/api/first_run \
    -d '{"name":"Ada","email":"ada@example.com","password":"a long password"}'`,
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

// serve runs the server until ctx is cancelled, then shuts down in reverse
// order of start: HTTP first, the database last.
func serve(ctx context.Context, e *env, cfg Config) error {
	logger := newLogger(e.Stderr, cfg.LogLevel, cfg.LogFormat, isTerminal(e.Stderr))
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			logger.Error("close database", "err", err)
		}
	}()

	srv := web.NewServer(db, render.New(), logger, buildVersion())
	srv.DataDir = filepath.Dir(db.Path)
	if err := srv.Open(cfg.Addr); err != nil {
		return err
	}
	logger.Info("campfire serving", "addr", srv.Addr().String(), "version", buildVersion(), "config", cfg)

	<-ctx.Done()
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	return nil
}

// openDatabase opens the configured database and applies migrations.
func openDatabase(ctx context.Context, cfg Config, logger *slog.Logger) (*sqldb.DB, error) {
	if cfg.DatabaseEngine != engineSQLite {
		return nil, usageErrorf("CAMPFIRE_DATABASE_URL: PostgreSQL is not supported by this build yet; use a SQLite path such as ./data/campfire.db")
	}
	db := sqldb.New(cfg.DatabasePath)
	db.Logger = logger
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	return db, nil
}
