package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/remote"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// continuous runs continuous backup for serve: it owns the database's
// checkpoints, ships every commit into the backup directory, and stops and
// starts again around a restore (web.DatabaseHooks).
type continuous struct {
	rep    *backup.Replicator
	ops    *admin.Ops
	logger *slog.Logger
}

// newContinuous returns serve's continuous backup, or nil when
// CAMPFIRE_BACKUP_CONTINUOUS is off.
func newContinuous(ctx context.Context, cfg Config, ops *admin.Ops, logger *slog.Logger) (*continuous, error) {
	if !cfg.BackupContinuous {
		return nil, nil
	}
	ids, err := ops.Identities(admin.Keys{})
	if err != nil {
		return nil, fmt.Errorf("continuous backup: %w", err)
	}
	var st *remote.Store
	if cfg.BackupRemote != "" {
		// Every segment and chain base is copied there too.
		if st, err = ops.OpenRemote(ctx); err != nil {
			// The server starts anyway; the self-test reports the
			// destination on /health/detailed.
			logger.Error("continuous backup: the off-site destination cannot be opened; segments stay local until the server restarts with it fixed", "err", err)
			st = nil
		}
	}
	return &continuous{logger: logger, ops: ops, rep: &backup.Replicator{
		Remote: st,
		Engine: &backup.Engine{
			Dir: ops.Config.Dir, Host: ops.Config.Host, AppVersion: ops.AppVersion, Identities: ids,
		},
		Recipients: ops.Config.Recipients,
		ShipDelay:  cfg.BackupShipDelay,
		Logger:     logger,
	}}, nil
}

// configure prepares a database before it opens: the replicator runs the
// checkpoints and hears of every commit.
func (c *continuous) configure(db *sqldb.DB) {
	db.AutoCheckpoint = false
	db.OnCommit = c.rep.Notify
}

// Opened starts a chain on db: a full backup, recorded in db's audit log,
// then shipping.
func (c *continuous) Opened(ctx context.Context, db *sqldb.DB) error {
	c.rep.DB = db
	c.rep.OnBase = func(ctx context.Context, res *backup.Result, err error, started, finished time.Time) {
		c.ops.RecordBackup(ctx, db, backup.TypeFull, "server:continuous", "", res, err, started, finished)
	}
	c.logger.Info("continuous backup: starting (continuing the last chain, or taking the full backup a new one starts from)", "dir", c.rep.Engine.Dir)
	return c.rep.Start(ctx)
}

// Closing ships the last commits and stops.
func (c *continuous) Closing(ctx context.Context) error {
	return c.rep.Close(ctx)
}
