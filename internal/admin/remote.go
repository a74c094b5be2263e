package admin

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/remote"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Off-site operations. Uploads and remote prunes are audited with type
// "remote" (action backup or prune), so /metrics and /health/detailed show
// the last off-site copy beside the last local backup.

// AuditTypeRemote is the audit log type of uploads and remote prunes.
const AuditTypeRemote = "remote"

// ErrNoRemote: an off-site operation without a configured destination.
var ErrNoRemote = chat.Errorf(chat.EINVALID, "no off-site destination is configured: set CAMPFIRE_BACKUP_REMOTE (or CAMPFIRE_S3_BUCKET or CAMPFIRE_GCS_BUCKET)")

// RemoteCheck is the last self-test of the off-site destination.
type RemoteCheck struct {
	// Destination is the URL with secrets redacted.
	Destination string    `json:"destination"`
	OK          bool      `json:"ok"`
	CheckedAt   time.Time `json:"checked_at"`
	Error       *string   `json:"error"`
}

// OpenRemote opens the configured off-site destination.
func (o *Ops) OpenRemote(ctx context.Context) (*remote.Store, error) {
	if o.Config.Remote == "" {
		return nil, ErrNoRemote
	}
	return remote.Open(ctx, o.Config.Remote)
}

// CheckRemote runs the destination's self-test within timeout, logs one
// line and keeps the result for RemoteStatus. Nil without a destination.
func (o *Ops) CheckRemote(ctx context.Context, timeout time.Duration) *RemoteCheck {
	if o.Config.Remote == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &RemoteCheck{Destination: remote.Redact(o.Config.Remote)}
	st, err := remote.Open(ctx, o.Config.Remote)
	if err == nil {
		err = st.SelfTest(ctx)
		st.Close()
	}
	c.CheckedAt = time.Now().UTC()
	if err != nil {
		msg := err.Error()
		c.Error = &msg
		o.logger().LogAttrs(ctx, slog.LevelError, "off-site backup destination failed its self-test; off-site backups will fail until it is fixed",
			slog.String("destination", c.Destination), slog.String("err", msg))
	} else {
		c.OK = true
		o.logger().LogAttrs(ctx, slog.LevelInfo, "off-site backup destination OK (wrote, read, listed and deleted a probe object)",
			slog.String("destination", c.Destination))
	}
	o.remoteCheck.Store(c)
	return c
}

// RemoteStatus returns the last CheckRemote result, or nil.
func (o *Ops) RemoteStatus() *RemoteCheck { return o.remoteCheck.Load() }

// upload copies the backup res to the destination and audits it.
func (o *Ops) upload(ctx context.Context, rec Recorder, res *backup.Result, actor string, progress ProgressFunc) error {
	started := time.Now()
	ev := sqldb.BackupEvent{Action: sqldb.BackupActionBackup, Type: AuditTypeRemote, File: filepath.Base(res.Path),
		Actor: actorOr(actor), StartedAt: started}
	var up *backup.Upload
	st, err := o.OpenRemote(ctx)
	if err == nil {
		defer st.Close()
		var pf func(done, total int64)
		if progress != nil {
			pf = func(done, total int64) { progress(Progress{Stage: "upload", Done: done, Total: total}) }
		}
		up, err = backup.UploadBackup(ctx, st, res.Path, pf)
	}
	ev.FinishedAt = time.Now()
	ev.DurationMS = ev.FinishedAt.Sub(started).Milliseconds()
	if err != nil {
		err = fmt.Errorf("the backup %s was written, but its off-site copy failed: %w", res.Path, err)
		ev.Status, ev.Detail = sqldb.BackupStatusFailure, errorText(err)
	} else {
		res.Upload = up
		ev.Bytes = up.Bytes
		ev.Status = sqldb.BackupStatusSuccess
		ev.Detail = fmt.Sprintf("uploaded %d objects to %s", len(up.Keys), up.Destination)
	}
	o.audit(ctx, rec, ev)
	return err
}

// downloadRemote fetches the remote backup name (PickRemote's rules) into
// a private directory inside dir.
func (o *Ops) downloadRemote(ctx context.Context, name, dir string, progress ProgressFunc) (path, where string, cleanup func(), err error) {
	st, err := o.OpenRemote(ctx)
	if err != nil {
		return "", "", nil, err
	}
	defer st.Close()
	entries, err := backup.ListRemote(ctx, st)
	if err != nil {
		return "", "", nil, err
	}
	e, _, err := backup.PickRemote(entries, st.String(), name)
	if err != nil {
		return "", "", nil, err
	}
	var pf func(done, total int64)
	if progress != nil {
		pf = func(done, total int64) { progress(Progress{Stage: "download", Done: done, Total: total}) }
	}
	path, cleanup, err = backup.Download(ctx, st, e, o.Dir(dir), pf)
	if err != nil {
		return "", "", nil, err
	}
	return path, strings.TrimSuffix(st.String(), "/") + "/" + e.Name, cleanup, nil
}

// verifyRemote downloads and verifies a remote backup.
func (o *Ops) verifyRemote(ctx context.Context, req VerifyRequest, progress ProgressFunc) (*backup.Report, error) {
	path, where, cleanup, err := o.downloadRemote(ctx, req.File, req.Dir, progress)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	ids, err := o.Identities(req.Keys)
	if err != nil {
		return nil, err
	}
	opts := backup.VerifyOptions{Identities: ids}
	if progress != nil {
		opts.Progress = func(done, total int64) { progress(Progress{Stage: "verify", Done: done, Total: total}) }
	}
	rep, err := backup.Verify(ctx, path, opts)
	if rep != nil {
		rep.File = where
	}
	return rep, err
}

// prepareRemoteRestore downloads the remote backup req.File, checks it
// against its manifest and prepares the restore from it; the download is
// removed once the plan is ready (the plan holds its own copy).
func (o *Ops) prepareRemoteRestore(ctx context.Context, req RestoreRequest, target string, openByCaller bool, progress ProgressFunc) (*backup.Plan, error) {
	path, where, cleanup, err := o.downloadRemote(ctx, req.File, req.Dir, progress)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	local := req
	local.File, local.Remote = path, false
	plan, err := o.PrepareRestore(ctx, local, target, openByCaller, progress)
	if plan != nil {
		plan.Source = where
	}
	return plan, err
}

// pruneRemote applies the remote retention policy to the destination.
func (o *Ops) pruneRemote(ctx context.Context, rec Recorder, req PruneRequest) (*backup.PrunePlan, error) {
	policy := o.Config.RemotePolicy
	if req.Policy != nil {
		policy = *req.Policy
	}
	started := time.Now()
	ev := sqldb.BackupEvent{Action: sqldb.BackupActionPrune, Type: AuditTypeRemote, File: remote.Redact(o.Config.Remote),
		Actor: actorOr(req.Actor), StartedAt: started}
	var plan *backup.PrunePlan
	st, err := o.OpenRemote(ctx)
	if err == nil {
		defer st.Close()
		plan, err = backup.PlanRemotePrune(ctx, st, policy, started)
		if err == nil && !req.DryRun {
			err = backup.ApplyRemote(ctx, st, plan)
		}
		if err == nil {
			err = o.pruneRemoteSegments(ctx, st, plan, started, req.DryRun)
		}
	}
	ev.FinishedAt = time.Now()
	ev.DurationMS = ev.FinishedAt.Sub(started).Milliseconds()
	if plan != nil {
		deleted := plan.Deleted()
		for _, d := range deleted {
			ev.Bytes += d.Entry.Bytes
		}
		ev.Detail = fmt.Sprintf("deleted %d, kept %d, %d stale incomplete uploads (%s)", len(deleted), len(plan.Kept()), len(plan.Stale), policy)
		if req.DryRun {
			ev.Detail = "dry run: would have " + ev.Detail
		}
	}
	o.auditPrune(ctx, rec, ev, err, req.DryRun)
	return plan, err
}

// pruneRemoteSegments deletes the destination's continuous-backup segments
// that neither the point-in-time window nor its kept full backups need.
// The local directory's lock is held meanwhile: a restore from the
// destination (which holds it too) never loses a segment under it.
func (o *Ops) pruneRemoteSegments(ctx context.Context, st *remote.Store, plan *backup.PrunePlan, now time.Time, dryRun bool) error {
	lock, err := backup.LockDir(ctx, o.Config.Dir, backup.DefaultLockWait)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	entries, err := backup.ListRemote(ctx, st)
	if err != nil {
		return err
	}
	var keep func(backup.Entry) bool
	if dryRun {
		keep = plan.Keeps
	}
	plan.Segments, err = backup.PruneSegments(ctx, st, entries, keep, o.Config.PITRWindow, now, dryRun)
	return err
}
