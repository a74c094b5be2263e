package backup

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// resume continues the newest chain of the backup directory instead of
// starting a new one with a full backup, when the database is exactly the
// state of that chain's last segment: the server stopped after shipping
// everything, and nothing changed the file since. It checkpoints the whole
// WAL into the database file and reads every page to compare the checksum
// (about a second per GiB), with the writer held: the server does not
// serve yet. ok is false, with no error, when the chain cannot be
// continued; the caller then starts a new one.
func (r *Replicator) resume(ctx context.Context) (ok bool, err error) {
	entries, err := List(r.Engine.Dir)
	if err != nil {
		return false, err
	}
	bases := chainBases(entries)
	if len(bases) == 0 {
		return false, nil
	}
	chain := bases[len(bases)-1].Manifest.Chain.Chain
	var tip chainTip
	if err := getJSON(ctx, r.store, tipKey(chain), &tip); err != nil || !tip.Closed {
		return false, nil // crashed, or never recorded: a new chain
	}
	plan, err := PlanPointInTime(ctx, r.store, entries, time.Time{})
	if err != nil || plan.Chain != chain || plan.Seq != tip.Last {
		return false, nil
	}
	err = r.DB.WithWriter(ctx, func(ctx context.Context, w *sqldb.Writer) error {
		res, err := w.Checkpoint(ctx, sqldb.CheckpointTruncate, false)
		if err != nil || res.Busy || r.DB.WALSize() != 0 {
			return err
		}
		f, err := os.Open(r.DB.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		sums, err := sumsOf(f, int(plan.Base.Manifest.Chain.PageSize))
		if err != nil || formatSum(sums.total) != tip.Checksum {
			return err
		}
		r.shipMu.Lock()
		defer r.shipMu.Unlock()
		r.chain, r.seq, r.since, r.checksum = chain, tip.Last, tip.At, tip.Checksum
		r.sums, r.pageSize, r.dbPages = sums, plan.Base.Manifest.Chain.PageSize, uint32(len(sums.sums))
		// The WAL is empty: the first one written continues the chain.
		r.pos, r.anyWAL = walPos{}, true
		r.restartPending.Store(false)
		r.noteCheckpoint()
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("continuous backup: resume chain %s: %w", chain, err)
	}
	if ok {
		r.logger().Info("continuous backup: the database is exactly the end of the last chain; continuing it (no full backup needed)", "chain", chain, "seq", tip.Last)
	}
	return ok, nil
}
