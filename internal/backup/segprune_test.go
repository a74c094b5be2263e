package backup_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// postShipped posts n messages, each shipped as its own segment, and
// returns every body of the database so far.
func postShipped(t *testing.T, r *replicated, n int, bodies []string) []string {
	t.Helper()
	for i := range n {
		m := r.post(t, fmt.Sprintf("message %d after %d", i, len(bodies)))
		bodies = append(bodies, m.Body)
		if _, err := r.rep.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return bodies
}

func walKeys(t *testing.T, dir string) []string {
	t.Helper()
	objs, err := backup.DirStore(dir).List(ctx, "wal/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func TestPruneSegmentsReplicated(t *testing.T) {
	r := newReplicated(t, 40)
	early := postShipped(t, r, 30, nil)
	tEarly := time.Now()
	time.Sleep(20 * time.Millisecond)
	all := postShipped(t, r, 30, early)
	// A full backup through the chain source is a base in the chain.
	eng := *r.rep.Engine
	eng.Source = r.rep.Source()
	res, err := eng.Backup(ctx, backup.Request{Type: backup.TypeFull})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Chain == nil || res.Manifest.Chain.Seq == 0 {
		t.Fatalf("the second full backup is not a chain base: %+v", res.Manifest.Chain)
	}
	time.Sleep(20 * time.Millisecond)
	mid := postShipped(t, r, 30, all)
	tMid := time.Now()
	time.Sleep(20 * time.Millisecond)
	latest := postShipped(t, r, 30, mid)
	// Compacted segments straddle the second base.
	st := backup.DirStore(r.dir)
	if n, err := (&backup.Compactor{Store: st, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}).Compact(ctx, res.Manifest.Chain.Chain); err != nil || n == 0 {
		t.Fatalf("compact wrote %d segments (%v)", n, err)
	}

	now := time.Now()
	window := now.Sub(tMid)
	before := walKeys(t, r.dir)
	dry, err := backup.PruneSegmentsInDir(ctx, r.dir, nil, window, now, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(walKeys(t, r.dir), before) || dry.DeletedCount == 0 {
		t.Fatalf("dry run: %d to delete; objects changed: %v", dry.DeletedCount, !slices.Equal(walKeys(t, r.dir), before))
	}
	pr, err := backup.PruneSegmentsInDir(ctx, r.dir, nil, window, now, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pruned %d segments (%d bytes), kept %d; floor %d", pr.DeletedCount, pr.DeletedBytes, pr.KeptCount, pr.Chains[0].Floor)
	if pr.DeletedCount != dry.DeletedCount || pr.Chains[0].Floor != res.Manifest.Chain.Seq {
		t.Fatalf("pruned %d (dry run %d), floor %d; want the second base's position %d", pr.DeletedCount, dry.DeletedCount, pr.Chains[0].Floor, res.Manifest.Chain.Seq)
	}

	for _, c := range []struct {
		at   time.Time
		want []string
	}{{time.Time{}, latest}, {tMid, mid}} {
		out, plan, err := r.restoreTo(t, c.at)
		if err != nil {
			t.Fatalf("restore to %v after the prune: %v", c.at, err)
		}
		if got := bodies(t, out); !slices.Equal(got, c.want) {
			t.Fatalf("restore to %v (%d segments): %d messages, want %d", c.at, len(plan.Segments), len(got), len(c.want))
		}
	}
	// Before the window, the segments are gone: the plan from the first
	// base would stop short, which CheckPruned says loudly.
	entries, err := backup.List(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := backup.PlanPointInTime(ctx, st, entries, tEarly)
	if err == nil {
		err = plan.CheckPruned(ctx, st)
	}
	if !errors.Is(err, backup.ErrSegmentMissing) {
		t.Fatalf("restore before the window = %v, want ErrSegmentMissing", err)
	}
	t.Logf("restore before the window: %v", err)
	// At the first base itself it is still restorable.
	var first time.Time
	for _, e := range entries {
		if e.Manifest != nil && e.Manifest.Chain != nil && e.Manifest.Chain.Seq == 0 {
			first = e.CreatedAt
		}
	}
	plan, err = backup.PlanPointInTime(ctx, st, entries, first)
	if err != nil || plan.CheckPruned(ctx, st) != nil {
		t.Fatalf("restore to the first base after the prune: %v", err)
	}
}

// A restore holds the backup directory's lock while it reads segments
// (PreparePointInTime); a prune waits for it.
func TestPruneSegmentsWaitsForRestoreLock(t *testing.T) {
	r := newReplicated(t, 40)
	postShipped(t, r, 5, nil)
	lock, err := backup.LockDir(ctx, r.dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.PruneSegmentsInDir(ctx, r.dir, nil, 0, time.Now(), false, 100*time.Millisecond); !errors.Is(err, backup.ErrBusy) {
		lock.Unlock()
		t.Fatalf("prune while a restore holds the lock = %v, want ErrBusy", err)
	}
	const hold = 300 * time.Millisecond
	start := time.Now()
	go func() {
		time.Sleep(hold)
		lock.Unlock()
	}()
	if _, err := backup.PruneSegmentsInDir(ctx, r.dir, nil, time.Hour, time.Now(), false, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < hold {
		t.Fatalf("prune returned after %s, before the restore released the lock", waited)
	}
}
