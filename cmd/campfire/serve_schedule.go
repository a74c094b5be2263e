package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/monitor"
	"github.com/campfire-in-go/campfire/internal/schedule"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/web"
)

// scheduleActor names the scheduler in the audit log.
const scheduleActor = "server:schedule"

// scheduleStopWait bounds how long serve waits at shutdown for a scheduled
// job (a backup under way) to finish before cancelling it.
var scheduleStopWait = 10 * time.Minute

// startScheduler starts serve's backup jobs (cfg.Schedule) and the monitor
// check, and reports both on srv's /health/detailed; call it before
// srv.Open. The jobs run on srv's current database through srv.Use, like
// the admin socket, so a restore in progress makes a run fail instead of
// racing it. stop waits for running jobs, then cancels them.
func startScheduler(ctx context.Context, cfg Config, srv *web.Server, ops *admin.Ops, logger *slog.Logger) (stop func(), err error) {
	logger = logger.With("component", "schedule")
	dir := ops.Config.Dir
	notifier := &monitor.Notifier{
		WebhookURL: cfg.AlertWebhookURL, Host: backup.DefaultHost(), Repeat: cfg.Alerts.Repeat,
		Logger: logger, Store: &monitor.MemoryStore{},
	}
	check := func(ctx context.Context) ([]monitor.Alert, error) {
		st, err := monitor.LocalStatus(dir)
		if err != nil {
			return nil, err
		}
		if rep, ok := ops.Continuous.(*backup.Replicator); ok {
			lag, stats := rep.Lag(), rep.Stats()
			st.Continuous, st.ReplicationLag = true, &lag
			st.Destinations = append(st.Destinations, monitor.Destination{
				Name: "backup directory", ConsecutiveFailures: stats.ConsecutiveErrors, LastError: stats.LastError,
			})
			if off, offLag, ok := rep.Offsite(); ok {
				// The off-site copy's lag is the RPO when the machine is lost.
				lag = max(lag, offLag)
				st.Destinations = append(st.Destinations, monitor.Destination{
					Name: off.Destination, ConsecutiveFailures: off.ConsecutiveErrors, LastError: off.LastError,
				})
			}
		}
		return monitor.Check(time.Now(), st, cfg.Alerts.Thresholds), nil
	}
	useDB := func(ctx context.Context, action, typ string, fn func(db *sqldb.DB) error) error {
		err := srv.Use(ctx, fn)
		if admin.IsMaintenance(err) {
			return notAudited{action: action, typ: typ, err: errors.New("skipped: the server was restoring a backup")}
		}
		return err
	}
	backupJob := func(typ backup.Type, verify bool) func(context.Context) error {
		return func(ctx context.Context) error {
			return useDB(ctx, sqldb.BackupActionBackup, string(typ), func(db *sqldb.DB) error {
				_, err := ops.Backup(ctx, db, db, admin.BackupRequest{
					Type: string(typ), Compression: string(backup.CompressionZstd), Verify: verify, Actor: scheduleActor,
				}, nil)
				return err
			})
		}
	}
	jobs := []schedule.Job{
		{Name: "backup_full", Spec: cfg.Schedule.Full, Run: backupJob(backup.TypeFull, true)},
		{Name: "backup_schema", Spec: cfg.Schedule.Schema, Run: backupJob(backup.TypeSchema, false)},
		{Name: "prune", Spec: cfg.Schedule.Prune, Run: func(ctx context.Context) error {
			return useDB(ctx, sqldb.BackupActionPrune, "", func(db *sqldb.DB) error {
				_, err := ops.Prune(ctx, db, admin.PruneRequest{Actor: scheduleActor})
				return err
			})
		}},
		{Name: "verify_latest", Spec: cfg.Schedule.Verify, Run: func(ctx context.Context) error {
			entries, err := backup.List(dir)
			if err != nil {
				return notAudited{action: sqldb.BackupActionVerify, err: err}
			}
			latest, ok := backup.Latest(entries)
			if !ok {
				return notAudited{action: sqldb.BackupActionVerify, err: errors.New("no full or hot backup to verify")}
			}
			return useDB(ctx, sqldb.BackupActionVerify, string(latest.Type), func(db *sqldb.DB) error {
				_, err := ops.Verify(ctx, db, admin.VerifyRequest{File: latest.Path, Actor: scheduleActor}, nil)
				if ops.Continuous != nil {
					// And the restore drill: the chain restored to a shipped
					// position equals the live database there.
					_, derr := ops.Drill(ctx, db, db, admin.DrillRequest{Actor: scheduleActor})
					err = errors.Join(err, derr)
				}
				return err
			})
		}},
		{Name: "monitor", Spec: cfg.Schedule.Monitor, Run: func(ctx context.Context) error {
			alerts, err := check(ctx)
			if err != nil {
				return err
			}
			_, err = notifier.Update(ctx, time.Now(), alerts)
			return err
		}},
	}
	sched, err := schedule.New(jobs, schedule.Options{
		Logger: logger,
		// The operations audit themselves; a run that never reached
		// them is recorded here, so the audit log shows every miss.
		OnResult: func(ctx context.Context, r schedule.Result) {
			var na notAudited
			if !errors.As(r.Err, &na) {
				return
			}
			ev := sqldb.BackupEvent{
				Action: na.action, Type: na.typ, File: dir, Status: sqldb.BackupStatusFailure,
				Detail: "scheduled " + r.Job + ": " + na.err.Error(), Actor: scheduleActor,
				StartedAt: r.Started, FinishedAt: r.Finished, DurationMS: r.Finished.Sub(r.Started).Milliseconds(),
			}
			err := srv.Use(ctx, func(db *sqldb.DB) error {
				_, err := db.RecordBackupEvent(ctx, ev)
				return err
			})
			if err != nil {
				logger.Warn("scheduled job: could not record its failure in the audit log", "job", r.Job, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	srv.Monitoring = web.Monitoring{
		Schedule: sched.Status,
		Alerts: func(ctx context.Context) []monitor.Alert {
			alerts, err := check(ctx)
			if err != nil {
				logger.Warn("monitor check failed", "err", err)
			}
			return alerts
		},
	}
	sched.Start(ctx)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), scheduleStopWait)
		defer cancel()
		if err := sched.Stop(sctx); err != nil {
			logger.Warn("stopping the scheduler", "err", err)
		}
	}, nil
}

// notAudited is a scheduled run that failed before reaching the backup
// operations, which record their own outcome in the audit log.
type notAudited struct {
	action, typ string
	err         error
}

func (e notAudited) Error() string { return fmt.Sprintf("%s: %v", e.action, e.err) }
func (e notAudited) Unwrap() error { return e.err }
