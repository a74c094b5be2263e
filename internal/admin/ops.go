package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Config is the backup configuration of the process that runs the
// operations (the server's, or the command line's when no server runs).
type Config struct {
	// Dir is the backup directory (CAMPFIRE_BACKUP_DIR), absolute.
	Dir string
	// Recipients encrypt every backup (CAMPFIRE_BACKUP_AGE_RECIPIENTS).
	Recipients []string
	// Keys decrypt backups (CAMPFIRE_BACKUP_AGE_IDENTITY_FILE,
	// CAMPFIRE_BACKUP_PGP_PASSPHRASE).
	Keys Keys
	// Policy is the retention policy of prune.
	Policy backup.Policy
	// Host names the backups; "" means backup.DefaultHost().
	Host string
	// PITRWindow is how far back point-in-time restore reaches to any
	// moment; prune keeps the segments it needs
	// (CAMPFIRE_BACKUP_PITR_DAYS).
	PITRWindow time.Duration
	// Remote is the off-site destination URL (CAMPFIRE_BACKUP_REMOTE), or
	// "" for none. It may hold secrets: never log it (remote.Redact).
	Remote string
	// RemotePolicy is the retention policy of prune --remote.
	RemotePolicy backup.Policy
}

// Ops runs backups, verifications, prunes and restores for the socket, the
// web page and the command line. Each operation is recorded in the audit
// log through a Recorder and logged in one line ("backup audit").
type Ops struct {
	Config     Config
	AppVersion string
	Logger     *slog.Logger
	// Continuous is the running server's continuous backup (nil when it
	// is off or no server runs): full and hot backups become starting
	// points of its chain, and incremental backups ship through it.
	Continuous Continuous

	remoteCheck atomic.Pointer[RemoteCheck] // the last CheckRemote
}

// Continuous is what Ops needs of continuous backup (*backup.Replicator).
type Continuous interface {
	Source() backup.Source
	Incremental(ctx context.Context) (*backup.Result, error)
	Health() backup.ReplicationHealth
	Drill(ctx context.Context, ids *backup.Identities) (*backup.DrillReport, error)
}

// Recorder stores audit events: the server's *sqldb.DB, or FileRecorder
// for a command working alone.
type Recorder interface {
	RecordBackupEvent(ctx context.Context, ev sqldb.BackupEvent) (*sqldb.BackupEvent, error)
}

// FileRecorder records events into the database file at its path without
// migrating it (sqldb.RecordBackupEventFile), for a command that holds the
// database's lock.
type FileRecorder string

// RecordBackupEvent implements Recorder.
func (f FileRecorder) RecordBackupEvent(ctx context.Context, ev sqldb.BackupEvent) (*sqldb.BackupEvent, error) {
	return sqldb.RecordBackupEventFile(ctx, string(f), ev)
}

func (o *Ops) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Dir returns dir if set, else the configured backup directory.
func (o *Ops) Dir(dir string) string {
	if dir != "" {
		return dir
	}
	return o.Config.Dir
}

// Identities loads the decryption identities of keys, or of the
// configuration when keys names none; nil when there are none.
func (o *Ops) Identities(keys Keys) (*backup.Identities, error) {
	files := keys.IdentityFiles
	if len(files) == 0 {
		files = o.Config.Keys.IdentityFiles
	}
	pass := keys.PGPPassphrase
	if pass == "" {
		pass = o.Config.Keys.PGPPassphrase
	}
	if len(files) == 0 {
		return nil, nil
	}
	return backup.LoadIdentities([]byte(pass), files...)
}

// resolve finds the artifact a request names: an absolute path as is, a
// bare name in the backup directory.
func (o *Ops) resolve(file, dir string) (string, error) {
	if filepath.IsAbs(file) {
		if _, err := os.Stat(file); err != nil {
			return "", fmt.Errorf("backup %s: %w", file, errors.Join(backup.ErrNotFound, err))
		}
		return file, nil
	}
	return backup.Find(o.Dir(dir), file)
}

func actorOr(actor string) string {
	if actor == "" {
		return "server"
	}
	return actor
}

// Backup takes a backup of src into the backup directory and audits it
// (and its verification, when asked for).
func (o *Ops) Backup(ctx context.Context, src backup.Source, rec Recorder, req BackupRequest, progress ProgressFunc) (*backup.Result, error) {
	typ, err := backup.ParseType(req.Type)
	if err != nil {
		// Not a backup at all (incremental, an unknown type): nothing to
		// audit.
		return nil, err
	}
	ids, err := o.Identities(req.Keys)
	if err != nil {
		return nil, err
	}
	recipients := req.Recipients
	if len(recipients) == 0 {
		recipients = o.Config.Recipients
	}
	if o.Continuous != nil && (typ == backup.TypeFull || typ == backup.TypeHot) {
		src = o.Continuous.Source()
	}
	eng := &backup.Engine{Source: src, Dir: o.Dir(req.Dir), Host: o.Config.Host, AppVersion: o.AppVersion, Identities: ids}
	breq := backup.Request{
		Type: typ, Compression: backup.Compression(req.Compression), Encrypt: req.Encrypt,
		Recipients: recipients, Output: req.Output, Verify: req.Verify,
	}
	if progress != nil {
		breq.Progress = func(done, total int64) { progress(Progress{Stage: "backup", Done: done, Total: total}) }
	}
	started := time.Now()
	var res *backup.Result
	if typ == backup.TypeIncremental {
		res, err = o.incremental(ctx, src, eng.Dir, recipients, ids)
	} else {
		res, err = eng.Backup(ctx, breq)
	}
	finished := time.Now()

	ev := o.RecordBackup(ctx, rec, typ, req.Actor, req.Output, res, err, started, finished)

	if req.Verify && res != nil && res.Report != nil {
		v := sqldb.BackupEvent{
			Action: sqldb.BackupActionVerify, Type: string(typ), File: ev.File, Bytes: ev.Bytes,
			Actor: ev.Actor, StartedAt: finished, FinishedAt: finished,
		}
		if res.Report.OK {
			v.Status, v.Detail = sqldb.BackupStatusSuccess, fmt.Sprintf("verified after backup: %d checks passed", len(res.Report.Checks))
			if res.Manifest.Verification == backup.VerifiedBeforeEncryption {
				v.Detail += " (before encryption: no identity to decrypt it)"
			}
		} else {
			v.Status, v.Detail = sqldb.BackupStatusFailure, "verified after backup: "+failedChecks(res.Report)
		}
		o.audit(ctx, rec, v)
	}
	if req.Remote && err == nil && res != nil {
		err = o.upload(ctx, rec, res, req.Actor, progress)
	}
	return res, err
}

// Drill runs a restore drill (Replicator.Drill through the server, else
// backup.DrillFile on src's file) and audits it as a verification of type
// "drill".
func (o *Ops) Drill(ctx context.Context, src backup.Source, rec Recorder, req DrillRequest) (*backup.DrillReport, error) {
	ids, err := o.Identities(req.Keys)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	var rep *backup.DrillReport
	switch f, ok := src.(interface{ Path() string }); {
	case o.Continuous != nil:
		rep, err = o.Continuous.Drill(ctx, ids)
	case ok:
		rep, err = backup.DrillFile(ctx, f.Path(), o.Config.Dir, ids)
	default:
		err = chat.Errorf(chat.EUNAVAILABLE, "Continuous backup is off in the running server (CAMPFIRE_BACKUP_CONTINUOUS=off): a restore drill compares its chain with the live database; verify a backup instead.")
	}
	finished := time.Now()
	ev := sqldb.BackupEvent{
		Action: sqldb.BackupActionVerify, Type: "drill", Actor: actorOr(req.Actor), File: o.Config.Dir,
		StartedAt: started, FinishedAt: finished, DurationMS: finished.Sub(started).Milliseconds(),
		Status: sqldb.BackupStatusSuccess,
	}
	if rep != nil && rep.Base != "" {
		ev.File = rep.Base
		ev.Detail = fmt.Sprintf("restore drill: %s + %d segments to position %d of chain %s", rep.Base, rep.Segments, rep.Seq, rep.Chain)
	}
	if err != nil {
		ev.Status, ev.Detail = sqldb.BackupStatusFailure, errorText(err)
	} else {
		ev.Detail += fmt.Sprintf(": integrity_check, checksum and row counts equal the live database (%s)", rep.Duration)
	}
	o.audit(ctx, rec, ev)
	return rep, err
}

// pruneSegments deletes the continuous-backup segments that neither the
// point-in-time window nor the kept full backups need (after the backups
// themselves were pruned; a dry run passes the plan's decisions on).
func (o *Ops) pruneSegments(ctx context.Context, plan *backup.PrunePlan, dir string, now time.Time, dryRun bool) error {
	var keep func(backup.Entry) bool
	if dryRun {
		keep = plan.Keeps
	}
	sp, err := backup.PruneSegmentsInDir(ctx, dir, keep, o.Config.PITRWindow, now, dryRun, 0)
	plan.Segments = sp
	return err
}

// RecordBackup audits one backup (res, or err with output its requested
// name) and returns the event recorded.
func (o *Ops) RecordBackup(ctx context.Context, rec Recorder, typ backup.Type, actor, output string, res *backup.Result, err error, started, finished time.Time) sqldb.BackupEvent {
	ev := sqldb.BackupEvent{
		Action: sqldb.BackupActionBackup, Type: string(typ), Actor: actorOr(actor),
		StartedAt: started, FinishedAt: finished, DurationMS: finished.Sub(started).Milliseconds(),
	}
	if res != nil {
		ev.File = filepath.Base(res.Path)
		ev.Bytes = res.Manifest.StoredBytes
	} else if output != "" {
		ev.File = filepath.Base(output)
	}
	if err != nil {
		ev.Status, ev.Detail = sqldb.BackupStatusFailure, errorText(err)
	} else {
		ev.Status, ev.Detail = sqldb.BackupStatusSuccess, describeBackup(res)
	}
	o.audit(ctx, rec, ev)
	return ev
}

// incremental ships what the server committed since its last segment, or,
// with no server, extends the chain with the database file's changes.
func (o *Ops) incremental(ctx context.Context, src backup.Source, dir string, recipients []string, ids *backup.Identities) (*backup.Result, error) {
	if o.Continuous != nil {
		return o.Continuous.Incremental(ctx)
	}
	f, ok := src.(interface{ Path() string })
	if !ok {
		return nil, chat.Errorf(chat.EUNAVAILABLE, "Continuous backup is off in the running server (CAMPFIRE_BACKUP_CONTINUOUS=off), so there is nothing incremental to take; take a full backup.")
	}
	return backup.IncrementalFromFile(ctx, f.Path(), dir, backup.IncrementalOptions{AppVersion: o.AppVersion, Recipients: recipients, Identities: ids})
}

func describeBackup(res *backup.Result) string {
	m := res.Manifest
	if m.Type == backup.TypeIncremental && m.Chain != nil {
		if m.File == "" {
			return fmt.Sprintf("nothing new since position %d of chain %s", m.Chain.Seq, m.Chain.Chain)
		}
		return fmt.Sprintf("chain %s up to position %d (%s), extending %s", m.Chain.Chain, m.Chain.Seq, m.CreatedAt.Format(time.RFC3339Nano), m.Parent)
	}
	parts := []string{string(m.Compression)}
	if m.Encryption != backup.EncryptionNone {
		parts = append(parts, string(m.Encryption)+"-encrypted")
	}
	if m.Verified() {
		parts = append(parts, "verified ("+m.Verification+")")
	} else {
		parts = append(parts, "not verified")
	}
	return fmt.Sprintf("%s; %d bytes of database, schema %d", strings.Join(parts, ", "), m.DatabaseBytes, m.SchemaVersion)
}

func failedChecks(rep *backup.Report) string {
	var names []string
	for _, c := range rep.Failed() {
		names = append(names, c.Name)
	}
	if len(names) == 0 {
		return "failed"
	}
	return "failed: " + strings.Join(names, ", ")
}

// Verify verifies one artifact and audits it.
func (o *Ops) Verify(ctx context.Context, rec Recorder, req VerifyRequest, progress ProgressFunc) (*backup.Report, error) {
	started := time.Now()
	ev := sqldb.BackupEvent{Action: sqldb.BackupActionVerify, Actor: actorOr(req.Actor), File: filepath.Base(req.File), StartedAt: started}
	if n, ok := backup.ParseName(ev.File); ok {
		ev.Type = string(n.Type)
	}
	var rep *backup.Report
	var err error
	if req.Remote {
		rep, err = o.verifyRemote(ctx, req, progress)
	} else {
		rep, err = o.verify(ctx, req, progress)
	}
	if rep != nil {
		if rep.Manifest != nil {
			ev.Type = string(rep.Manifest.Type)
			ev.Bytes = rep.Manifest.StoredBytes
		} else if fi, serr := os.Stat(rep.File); serr == nil && !req.Remote {
			ev.Bytes = fi.Size()
		}
	}
	ev.FinishedAt = time.Now()
	ev.DurationMS = ev.FinishedAt.Sub(started).Milliseconds()
	if err != nil {
		ev.Status, ev.Detail = sqldb.BackupStatusFailure, errorText(err)
	} else {
		ev.Status, ev.Detail = sqldb.BackupStatusSuccess, fmt.Sprintf("%d checks passed", len(rep.Checks))
	}
	o.audit(ctx, rec, ev)
	return rep, err
}

func (o *Ops) verify(ctx context.Context, req VerifyRequest, progress ProgressFunc) (*backup.Report, error) {
	path, err := o.resolve(req.File, req.Dir)
	if err != nil {
		return nil, err
	}
	ids, err := o.Identities(req.Keys)
	if err != nil {
		return nil, err
	}
	opts := backup.VerifyOptions{Identities: ids}
	if progress != nil {
		opts.Progress = func(done, total int64) { progress(Progress{Stage: "verify", Done: done, Total: total}) }
	}
	rep, err := backup.Verify(ctx, path, opts)
	if err != nil {
		return rep, err
	}
	// A backup verified after the fact counts as verified from now on.
	if err := backup.MarkVerified(path, rep, time.Now()); err != nil {
		return rep, fmt.Errorf("record the verification in the manifest: %w", err)
	}
	return rep, nil
}

// Prune applies the retention policy (the request's, else the
// configured one) and audits it. A dry run changes nothing and is logged
// only.
func (o *Ops) Prune(ctx context.Context, rec Recorder, req PruneRequest) (*backup.PrunePlan, error) {
	if req.Remote {
		return o.pruneRemote(ctx, rec, req)
	}
	policy := o.Config.Policy
	if req.Policy != nil {
		policy = *req.Policy
	}
	dir := o.Dir(req.Dir)
	started := time.Now()
	plan, err := backup.Prune(ctx, dir, policy, started, req.DryRun, 0)
	if err == nil {
		err = o.pruneSegments(ctx, plan, dir, started, req.DryRun)
	}
	finished := time.Now()
	ev := sqldb.BackupEvent{
		Action: sqldb.BackupActionPrune, File: dir, Actor: actorOr(req.Actor),
		StartedAt: started, FinishedAt: finished, DurationMS: finished.Sub(started).Milliseconds(),
	}
	if plan != nil {
		var deleted int
		for _, d := range plan.Deleted() {
			deleted++
			ev.Bytes += d.Entry.Bytes
		}
		ev.Detail = fmt.Sprintf("deleted %d, kept %d, %d stale temporary files (%s)", deleted, len(plan.Kept()), len(plan.Stale), policy)
		if sp := plan.Segments; sp != nil {
			ev.Detail += fmt.Sprintf("; continuous backup segments: deleted %d, kept %d (point-in-time window %s)", sp.DeletedCount, sp.KeptCount, sp.Window)
			ev.Bytes += sp.DeletedBytes
		}
		if req.DryRun {
			ev.Detail = "dry run: would have " + ev.Detail
		}
	}
	o.auditPrune(ctx, rec, ev, err, req.DryRun)
	return plan, err
}

// auditPrune records a prune: in the database unless it was a dry run.
func (o *Ops) auditPrune(ctx context.Context, rec Recorder, ev sqldb.BackupEvent, err error, dryRun bool) {
	if err != nil {
		ev.Status, ev.Detail = sqldb.BackupStatusFailure, errorText(err)
	} else {
		ev.Status = sqldb.BackupStatusSuccess
	}
	if dryRun {
		rec = nil
	}
	o.audit(ctx, rec, ev)
}

// PrepareRestore verifies the artifact a request names and prepares it to
// replace the database at target (backup.PrepareRestore). openByCaller
// says the caller has the target open and will close it before Apply (the
// running server). It changes nothing but a temporary file beside target;
// the caller applies the plan, then calls RecordRestore.
func (o *Ops) PrepareRestore(ctx context.Context, req RestoreRequest, target string, openByCaller bool, progress ProgressFunc) (*backup.Plan, error) {
	if req.Remote && !req.PointInTime {
		return o.prepareRemoteRestore(ctx, req, target, openByCaller, progress)
	}
	ids, err := o.Identities(req.Keys)
	if err != nil {
		return nil, err
	}
	opts := backup.RestoreOptions{
		Identities: ids, BackupDir: o.Dir(req.Dir), Host: o.Config.Host, AppVersion: o.AppVersion,
		Logger: o.logger(), TargetOpenByCaller: openByCaller,
	}
	if progress != nil {
		opts.Progress = func(done, total int64) { progress(Progress{Stage: "verify", Done: done, Total: total}) }
	}
	if req.PointInTime && req.Remote {
		st, err := o.OpenRemote(ctx)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		return backup.PrepareRemotePointInTime(ctx, st, req.ToTime, target, opts)
	}
	if req.PointInTime {
		return backup.PreparePointInTime(ctx, req.ToTime, target, opts)
	}
	path, err := o.resolve(req.File, req.Dir)
	if err != nil {
		return nil, err
	}
	return backup.PrepareRestore(ctx, path, target, opts)
}

// RecordRestore audits a restore. Only a restore that replaced the
// database is recorded in the database, the new one, through rec; a
// dry run, a refused or a failed restore is logged only, so the live
// database stays byte for byte as it was.
func (o *Ops) RecordRestore(ctx context.Context, rec Recorder, req RestoreRequest, plan *backup.Plan, res *backup.RestoreResult, err error, started time.Time) {
	finished := time.Now()
	ev := sqldb.BackupEvent{
		Action: sqldb.BackupActionRestore, File: filepath.Base(req.File), Actor: actorOr(req.Actor),
		StartedAt: started, FinishedAt: finished, DurationMS: finished.Sub(started).Milliseconds(),
	}
	if n, ok := backup.ParseName(ev.File); ok {
		ev.Type = string(n.Type)
	}
	if plan != nil {
		ev.File = filepath.Base(plan.Source)
		ev.Bytes = plan.ReadyBytes
		if plan.Manifest != nil {
			ev.Type = string(plan.Manifest.Type)
		}
	}
	switch {
	case err != nil:
		ev.Status, ev.Detail = sqldb.BackupStatusFailure, errorText(err)+"; the database was not changed"
		rec = nil
	case req.DryRun:
		ev.Status, ev.Detail = sqldb.BackupStatusSuccess, "dry run: verified and prepared; nothing was changed"
		rec = nil
	default:
		ev.Status = sqldb.BackupStatusSuccess
		ev.Detail = fmt.Sprintf("replaced the database (schema %d → %d)", plan.SchemaFrom, plan.SchemaTo)
		if res != nil && res.Safety != nil {
			ev.Detail += "; safety copy " + filepath.Base(res.Safety.Path)
		} else if res != nil && res.SafetyRaw != "" {
			ev.Detail += "; raw safety copy " + filepath.Base(res.SafetyRaw)
		}
	}
	o.audit(ctx, rec, ev)
}

// audit records ev through rec (when not nil) and logs it in one line.
func (o *Ops) audit(ctx context.Context, rec Recorder, ev sqldb.BackupEvent) {
	recorded := false
	var recErr error
	if rec != nil {
		if _, recErr = rec.RecordBackupEvent(context.WithoutCancel(ctx), ev); recErr == nil {
			recorded = true
		}
	}
	level := slog.LevelInfo
	if ev.Status != sqldb.BackupStatusSuccess {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("action", ev.Action), slog.String("type", ev.Type), slog.String("file", ev.File),
		slog.String("status", ev.Status), slog.Int64("bytes", ev.Bytes), slog.Int64("duration_ms", ev.DurationMS),
		slog.String("actor", ev.Actor), slog.String("detail", ev.Detail), slog.Bool("recorded", recorded),
	}
	if recErr != nil {
		attrs = append(attrs, slog.String("record_error", errorText(recErr)))
	}
	o.logger().LogAttrs(ctx, level, "backup audit", attrs...)
}

// errorText is the message of err for people: a domain error's message
// without its code.
func errorText(err error) string {
	var ce *chat.Error
	if errors.As(err, &ce) && error(ce) == err {
		return ce.Message
	}
	return err.Error()
}
