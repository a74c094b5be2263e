package backup

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// DrillReport is the outcome of a restore drill: the backups restored into
// a scratch directory and compared with the live database at the same
// position.
type DrillReport struct {
	OK       bool      `json:"ok"`
	At       time.Time `json:"at"`
	Duration string    `json:"duration"`
	// Chain and Seq are the position compared; Base and Segments what
	// was restored to reach it.
	Chain    string `json:"chain"`
	Seq      uint64 `json:"seq"`
	Base     string `json:"base"`
	Segments int    `json:"segments"`
	// Checks are the comparisons made, in order; the first failure ends
	// the drill.
	Checks []Check `json:"checks"`

	offline bool // DrillFile: the live database is a file no server ships
}

func (d *DrillReport) add(name string, ok bool, format string, args ...any) bool {
	d.Checks = append(d.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	return ok
}

// Err is nil when the drill passed, else an ErrVerifyFailed naming the
// first failed check.
func (d *DrillReport) Err() error {
	for _, c := range d.Checks {
		if !c.OK {
			return fail(ErrVerifyFailed, "restore drill: %s: %s", c.Name, c.Detail)
		}
	}
	return nil
}

// Drill proves that the backups restore the live database: it takes a
// snapshot of the live database at a shipped position (the writer held
// only while the position is read), restores the chain to exactly that
// position into a scratch directory inside the backup directory, runs a
// full integrity_check, and compares checksum and row counts with the
// snapshot. Nothing of the live database or the backups changes.
func (r *Replicator) Drill(ctx context.Context, ids *Identities) (*DrillReport, error) {
	start := time.Now()
	rep := &DrillReport{At: r.now()}
	defer func() { rep.Duration = time.Since(start).Round(time.Millisecond).String() }()
	scratch, err := os.MkdirTemp(r.Engine.Dir, tempPrefix+"drill-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)

	// The live database at a shipped position (after a chain being
	// started has its base).
	live := filepath.Join(scratch, "live.db")
	var pos ChainPosition
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	info, err := r.DB.SnapshotPinned(ctx, live, func(ctx context.Context, _ *sqldb.Writer) error {
		r.shipMu.Lock()
		defer r.shipMu.Unlock()
		if r.sums == nil {
			return fail(ErrNotFound, "continuous backup has no chain yet")
		}
		if err := r.ship(ctx); err != nil {
			return err
		}
		pos = ChainPosition{Chain: r.chain, Seq: r.seq, Checksum: r.checksum, PageSize: r.pageSize}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore drill: snapshot of the live database: %w", err)
	}
	rep.Chain, rep.Seq = pos.Chain, pos.Seq
	liveSum, err := fileChecksum(live, int(info.PageSize))
	if err != nil {
		return nil, err
	}
	os.Remove(live)
	if !rep.add("shipped state", liveSum == pos.Checksum, "live database at position %d: checksum %s, continuous backup recorded %s", pos.Seq, liveSum, pos.Checksum) {
		return rep, rep.Err()
	}

	// The backups, restored to that position.
	entries, err := List(r.Engine.Dir)
	if err != nil {
		return nil, err
	}
	plan, err := PlanPosition(ctx, r.store, entries, pos.Chain, pos.Seq)
	if err != nil {
		rep.add("plan", false, "%v", err)
		return rep, rep.Err()
	}
	return rep.restoreAndCompare(ctx, r.store, plan, ids, scratch, liveSum, info)
}

// DrillFile is the restore drill with no server running: it restores the
// newest position of the backups in dir into a scratch directory, runs a
// full integrity_check and compares the result with a snapshot of the
// database file at dbPath. They differ when the database changed after
// the last segment (writes while no server ran: campfire backup
// incremental ships them).
func DrillFile(ctx context.Context, dbPath, dir string, ids *Identities) (*DrillReport, error) {
	start := time.Now()
	rep := &DrillReport{At: time.Now().UTC(), offline: true}
	defer func() { rep.Duration = time.Since(start).Round(time.Millisecond).String() }()
	lock, err := LockDir(ctx, dir, DefaultLockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	scratch, err := os.MkdirTemp(dir, tempPrefix+"drill-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	live := filepath.Join(scratch, "live.db")
	info, err := sqldb.SnapshotFile(ctx, dbPath, live)
	if err != nil {
		return nil, fmt.Errorf("restore drill: snapshot of the database: %w", err)
	}
	liveSum, err := fileChecksum(live, int(info.PageSize))
	if err != nil {
		return nil, err
	}
	os.Remove(live)
	entries, err := List(dir)
	if err != nil {
		return nil, err
	}
	st := DirStore(dir)
	plan, err := PlanPointInTime(ctx, st, entries, time.Time{})
	if err != nil {
		rep.add("plan", false, "%v", err)
		return rep, rep.Err()
	}
	rep.Chain, rep.Seq = plan.Chain, plan.Seq
	return rep.restoreAndCompare(ctx, st, plan, ids, scratch, liveSum, info)
}

// restoreAndCompare restores plan into scratch and compares the result
// with the live database's checksum and row counts.
func (rep *DrillReport) restoreAndCompare(ctx context.Context, st ObjectStore, plan *PITRPlan, ids *Identities, scratch, liveSum string, info sqldb.SnapshotInfo) (*DrillReport, error) {
	rep.Base, rep.Segments = plan.Base.Name, len(plan.Segments)
	p, err := PrepareRestore(ctx, plan.Base.Path, filepath.Join(scratch, "restored.db"), RestoreOptions{
		Identities: ids, BackupDir: scratch, TargetOpenByCaller: true,
		Roll: func(ctx context.Context, path string) error { return plan.Roll(ctx, st, ids, path, nil) },
	})
	if err != nil {
		rep.add("restore", false, "%v", err)
		return rep, rep.Err()
	}
	defer p.Discard()
	rep.add("restore", true, "%s + %d segments to position %d, base verified, checksum at the position matches", plan.Base.Name, len(plan.Segments), plan.Seq)
	ierr := integrityCheck(ctx, p.Ready)
	if !rep.add("integrity_check", ierr == nil, "%s", orOK(ierr)) {
		return rep, rep.Err()
	}
	got, err := fileChecksum(p.Ready, int(info.PageSize))
	if err != nil {
		return nil, err
	}
	counts := maps.Equal(p.RowCounts, info.RowCounts)
	switch {
	case got == liveSum:
		rep.add("checksum", true, "restored %s, live database %s", got, liveSum)
	case rep.offline:
		// With no server, every command records itself in the
		// database's audit log after the last segment: the chat
		// tables decide.
		rep.add("checksum", true, "restored %s, live database %s: it changed after the last segment (at least the audit log of the commands run since)", got, liveSum)
	default:
		rep.add("checksum", false, "restored %s, live database %s", got, liveSum)
		return rep, rep.Err()
	}
	hint := ""
	if rep.offline && !counts {
		hint = ": the database changed after the last segment (campfire backup incremental ships it)"
	}
	if !rep.add("row counts", counts, "restored %s, live database %s%s", formatCounts(p.RowCounts), formatCounts(info.RowCounts), hint) {
		return rep, rep.Err()
	}
	rep.OK = true
	return rep, nil
}

func fileChecksum(path string, pageSize int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sums, err := sumsOf(f, pageSize)
	if err != nil {
		return "", err
	}
	return formatSum(sums.total), nil
}

// integrityCheck runs the full PRAGMA integrity_check.
func integrityCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("integrity_check: %s", res)
	}
	return nil
}

func orOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
