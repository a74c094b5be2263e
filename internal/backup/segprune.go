package backup

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Segment retention. Full backups are kept by the GFS policy (PlanPrune);
// segments are kept for a point-in-time window: every moment of
// [now-window, now] must stay restorable. A restore to moment t starts at
// the newest kept base taken at or before t (PlanPointInTime), so the
// window needs:
//
//   - B0, the newest kept base taken at or before now-window (the window's
//     first moments restore from it), and every kept base after it;
//   - in each chain, the segments past the lowest position of those bases.
//
// Everything else goes: segments at or below that floor (level-0 and
// compacted ones alike: a compacted segment that straddles the floor
// stays), every segment of a chain the window does not use (its older
// kept bases restore on their own, without segments), and whole chains
// with no kept base left, tip record included. Above the floor, a segment
// whose range a larger (compacted) segment that ended before the window
// covers goes too: every restore inside the window takes the larger one
// (PlanPointInTime takes the segment that reaches furthest), so only
// restores to moments before the window lose their fine granularity.

// SegmentPrune is what PruneSegments decided and, unless DryRun, did.
type SegmentPrune struct {
	Store  string        `json:"store"`
	Now    time.Time     `json:"now"`
	Window time.Duration `json:"window"`
	DryRun bool          `json:"dry_run"`
	Chains []ChainPrune  `json:"chains"`
	// Deleted are the keys deleted (to delete, in a dry run).
	Deleted      []string `json:"deleted,omitempty"`
	KeptCount    int      `json:"kept_count"`
	DeletedCount int      `json:"deleted_count"`
	KeptBytes    int64    `json:"kept_bytes"`
	DeletedBytes int64    `json:"deleted_bytes"`
	// Problems are reasons why nothing or less was pruned.
	Problems []string `json:"problems,omitempty"`
}

// ChainPrune is the decision for one chain.
type ChainPrune struct {
	Chain string `json:"chain"`
	// Floor: segments whose range ends at or below it are deleted
	// (math.MaxUint64: all of them).
	Floor        uint64 `json:"floor"`
	DeleteChain  bool   `json:"delete_chain"` // no kept base: the tip goes too
	Reason       string `json:"reason"`
	Problem      string `json:"problem,omitempty"`
	KeptCount    int    `json:"kept_count"`
	DeletedCount int    `json:"deleted_count"`
	KeptBytes    int64  `json:"kept_bytes"`
	DeletedBytes int64  `json:"deleted_bytes"`
	// CoarsenedCount of the deleted segments were above the floor but
	// covered by a compacted segment older than the window.
	CoarsenedCount int `json:"coarsened_count"`
}

// Keeps reports whether the plan keeps e (an entry it has no decision
// for is kept): the keep argument of PruneSegments in a dry run, where
// the deleted backups are still listed.
func (p *PrunePlan) Keeps(e Entry) bool {
	for _, d := range p.Decisions {
		if d.Entry.Path == e.Path && d.Entry.Name == e.Name {
			return d.Keep
		}
	}
	return true
}

// PruneSegments deletes (unless dryRun) the segments in st that no
// restore to a moment of [now-pitrWindow, now] needs, given the backups
// entries (from List or the remote's listing) of which keep (nil: all)
// says which retention keeps.
//
// The caller holds the backup directory's lock (LockDir), as
// PreparePointInTime does while it reads segments: a prune never deletes
// a segment under a restore. PruneSegmentsInDir does that for the local
// directory. When no kept base exists at all, nothing is deleted: wrong
// entries must not wipe the continuous backup.
func PruneSegments(ctx context.Context, st ObjectStore, entries []Entry, keep func(Entry) bool, pitrWindow time.Duration, now time.Time, dryRun bool) (*SegmentPrune, error) {
	if pitrWindow < 0 {
		return nil, fail(ErrInvalidRequest, "the point-in-time window cannot be negative: %s", pitrWindow)
	}
	now = now.UTC()
	res := &SegmentPrune{Store: st.String(), Now: now, Window: pitrWindow, DryRun: dryRun}
	refs, chains, present, err := listWAL(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("prune segments: %w", err)
	}
	bases := keptBases(entries, keep)
	if len(bases) == 0 {
		if len(refs) > 0 {
			res.Problems = append(res.Problems, "no kept full backup starts a chain: no segment deleted")
		}
		res.keepAll(refs)
		return res, nil
	}
	windowStart := now.Add(-pitrWindow)
	floors := segmentFloors(bases, windowStart)
	byChain := map[string][]segmentRef{}
	for _, r := range refs {
		byChain[r.Chain] = append(byChain[r.Chain], r)
	}
	var errs []error
	for _, c := range chains {
		cp := decideChain(c, bases, floors, byChain[c], windowStart)
		var covered map[string]bool
		if cp.Problem != "" {
			res.Problems = append(res.Problems, cp.Problem) // left alone
		} else {
			covered = coveredBefore(byChain[c], windowStart)
		}
		if err := res.apply(ctx, st, &cp, byChain[c], covered, present); err != nil {
			errs = append(errs, err)
		}
		res.Chains = append(res.Chains, cp)
	}
	return res, errors.Join(errs...)
}

// PruneSegmentsInDir is PruneSegments on the local backup directory dir
// with the directory's lock held (waiting up to wait, zero:
// DefaultLockWait), over the backups listed in dir. Run it after the
// retention prune, or pass the plan's Keeps as keep.
func PruneSegmentsInDir(ctx context.Context, dir string, keep func(Entry) bool, pitrWindow time.Duration, now time.Time, dryRun bool, wait time.Duration) (*SegmentPrune, error) {
	if wait == 0 {
		wait = DefaultLockWait
	}
	lock, err := LockDir(ctx, dir, wait)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	entries, err := List(dir)
	if err != nil {
		return nil, err
	}
	return PruneSegments(ctx, DirStore(dir), entries, keep, pitrWindow, now, dryRun)
}

// listWAL lists the segments of every chain, the chains that have any
// object under wal/ (a chain whose segments are gone may keep its tip),
// and every key.
func listWAL(ctx context.Context, st ObjectStore) ([]segmentRef, []string, map[string]bool, error) {
	refs, err := listSegments(ctx, st, "")
	if err != nil {
		return nil, nil, nil, err
	}
	objs, err := st.List(ctx, walPrefix+"/")
	if err != nil {
		return nil, nil, nil, err
	}
	present, seen := map[string]bool{}, map[string]bool{}
	var chains []string
	for _, o := range objs {
		present[o.Key] = true
		parts := strings.Split(o.Key, "/")
		if len(parts) >= 3 && parts[0] == walPrefix && !seen[parts[1]] {
			seen[parts[1]] = true
			chains = append(chains, parts[1])
		}
	}
	sort.Strings(chains)
	return refs, chains, present, nil
}

// keptBases are the chain bases that retention keeps, oldest first.
func keptBases(entries []Entry, keep func(Entry) bool) []Entry {
	var out []Entry
	for _, b := range chainBases(entries) {
		if keep == nil || keep(b) {
			out = append(out, b)
		}
	}
	return out
}

// segmentFloors returns, for each chain that a restore to a moment at or
// after windowStart uses, the lowest base position such a restore starts
// from.
func segmentFloors(bases []Entry, windowStart time.Time) map[string]uint64 {
	first := 0 // all bases taken after windowStart, or
	for i, b := range bases {
		if !b.CreatedAt.After(windowStart) {
			first = i // the newest one at or before it
		}
	}
	floors := map[string]uint64{}
	for _, b := range bases[first:] {
		pos := b.Manifest.Chain
		if f, ok := floors[pos.Chain]; !ok || pos.Seq < f {
			floors[pos.Chain] = pos.Seq
		}
	}
	return floors
}

// decideChain sets the floor of chain c, whose segments are refs.
func decideChain(c string, bases []Entry, floors map[string]uint64, refs []segmentRef, windowStart time.Time) ChainPrune {
	if f, ok := floors[c]; ok {
		return ChainPrune{Chain: c, Floor: f, Reason: fmt.Sprintf("the point-in-time window restores from position %d", f)}
	}
	for _, b := range bases {
		if b.Manifest.Chain.Chain == c {
			return ChainPrune{Chain: c, Floor: math.MaxUint64, Reason: "outside the point-in-time window: its kept full backups restore without segments"}
		}
	}
	// Without a base the segments restore nothing, but segments inside
	// the window mean a live chain whose base is not in the listing (a
	// wrong listing, a base still uploading): wait until they age out.
	for _, r := range refs {
		if r.At.After(windowStart) {
			msg := fmt.Sprintf("chain %s has segments inside the point-in-time window but no kept full backup: left alone", c)
			return ChainPrune{Chain: c, Reason: msg, Problem: msg}
		}
	}
	return ChainPrune{Chain: c, Floor: math.MaxUint64, DeleteChain: true, Reason: "no kept full backup starts it"}
}

// apply deletes (unless a dry run) the chain's segments at or below the
// floor, oldest first, and its tip when the whole chain goes; it goes on
// after an error and returns all of them.
func (res *SegmentPrune) apply(ctx context.Context, st ObjectStore, cp *ChainPrune, refs []segmentRef, covered, present map[string]bool) error {
	sort.SliceStable(refs, func(i, j int) bool {
		if refs[i].Last != refs[j].Last {
			return refs[i].Last < refs[j].Last
		}
		return refs[i].Level < refs[j].Level
	})
	var errs []error
	for _, r := range refs {
		if r.Last > cp.Floor && !covered[r.Key] {
			cp.KeptCount++
			cp.KeptBytes += r.Size
			continue
		}
		if err := res.delete(ctx, st, r.Key); err != nil {
			errs = append(errs, err)
			cp.KeptCount++
			cp.KeptBytes += r.Size
			continue
		}
		cp.DeletedCount++
		cp.DeletedBytes += r.Size
		if r.Last > cp.Floor {
			cp.CoarsenedCount++
		}
	}
	switch {
	case cp.DeleteChain && len(errs) == 0:
		for _, key := range []string{tipKey(cp.Chain), prunedKey(cp.Chain)} {
			if !present[key] {
				continue
			}
			if err := res.delete(ctx, st, key); err != nil {
				errs = append(errs, err)
			}
		}
		if !res.DryRun && len(errs) == 0 {
			removeEmptyChainDirs(st, cp.Chain)
		}
	case !cp.DeleteChain && cp.DeletedCount > 0 && !res.DryRun:
		if err := markPruned(ctx, st, cp.Chain, maxDeleted(refs, cp.Floor), res.Now); err != nil {
			errs = append(errs, err)
		}
	}
	res.KeptCount += cp.KeptCount
	res.KeptBytes += cp.KeptBytes
	res.DeletedCount += cp.DeletedCount
	res.DeletedBytes += cp.DeletedBytes
	return errors.Join(errs...)
}

func (res *SegmentPrune) delete(ctx context.Context, st ObjectStore, key string) error {
	if !res.DryRun {
		if err := st.Delete(ctx, key); err != nil {
			return fmt.Errorf("prune segments: delete %s: %w", key, err)
		}
	}
	res.Deleted = append(res.Deleted, key)
	return nil
}

// keepAll records refs as kept: nothing is pruned.
func (res *SegmentPrune) keepAll(refs []segmentRef) {
	for _, r := range refs {
		res.KeptCount++
		res.KeptBytes += r.Size
	}
}

// removeEmptyChainDirs removes the directories a deleted chain leaves in
// a local directory; os.Remove leaves non-empty ones (a file someone put
// there) alone.
func removeEmptyChainDirs(st ObjectStore, chain string) {
	d, ok := st.(DirStore)
	if !ok {
		return
	}
	root := filepath.Join(string(d), filepath.FromSlash(path.Join(walPrefix, chain)))
	if des, err := os.ReadDir(root); err == nil {
		for _, de := range des {
			if de.IsDir() {
				_ = os.Remove(filepath.Join(root, de.Name()))
			}
		}
	}
	_ = os.Remove(root)
}

// prunedMark records that a chain's segments up to Below were deleted
// while some of its full backups are kept: a restore from such a backup
// to a later moment cannot tell, from the listing alone, a pruned stretch
// from a quiet one (no segment with a time at or before the target
// remains either way). CheckPruned reads it.
type prunedMark struct {
	Chain    string    `json:"chain"`
	Below    uint64    `json:"below"`
	PrunedAt time.Time `json:"pruned_at"`
}

func prunedKey(chain string) string { return walPrefix + "/" + chain + "/pruned.json" }

// markPruned raises the chain's mark to below (never lowers it).
func markPruned(ctx context.Context, st ObjectStore, chain string, below uint64, now time.Time) error {
	var m prunedMark
	if err := getJSON(ctx, st, prunedKey(chain), &m); err == nil && m.Below >= below {
		return nil
	}
	m = prunedMark{Chain: chain, Below: below, PrunedAt: now}
	if err := putJSON(ctx, st, prunedKey(chain), m); err != nil {
		return fmt.Errorf("prune segments: record the pruned range of chain %s: %w", chain, err)
	}
	return nil
}

// maxDeleted is the highest position among refs at or below floor.
func maxDeleted(refs []segmentRef, floor uint64) uint64 {
	var n uint64
	for _, r := range refs {
		if r.Last <= floor {
			n = max(n, r.Last)
		}
	}
	return n
}

// CheckPruned fails with ErrSegmentMissing when the plan starts from a
// full backup whose following segments were pruned and stops short of the
// pruned range while its target is after the backup: the restore would
// silently give the backup's state instead of the target's. A target
// exactly at the backup (or before the pruned range) passes.
// PlanPointInTime callers (or PlanPointInTime itself) call it.
func (p *PITRPlan) CheckPruned(ctx context.Context, st ObjectStore) error {
	var m prunedMark
	if err := getJSON(ctx, st, prunedKey(p.Chain), &m); err != nil {
		return nil // never pruned (or unreadable: the plan's own checks stand)
	}
	if p.Base.Manifest == nil || p.Base.Manifest.Chain == nil {
		return nil
	}
	if p.Seq >= m.Below || (!p.Target.IsZero() && !p.Target.After(p.Base.CreatedAt)) {
		return nil
	}
	target := "the latest commit"
	if !p.Target.IsZero() {
		target = p.Target.Format(time.RFC3339)
	}
	return fail(ErrSegmentMissing, "chain %s: the segments after position %d up to %d were pruned on %s (outside the point-in-time window): the nearest restorable moment before %s is the full backup %s itself",
		p.Chain, p.Base.Manifest.Chain.Seq, m.Below, m.PrunedAt.Format(time.RFC3339), target, p.Base.Name)
}

// coveredBefore returns the keys of the segments of one chain whose range
// lies inside a strictly larger segment with At at or before t. A walk
// to any target at or after t, from any position, takes the larger one
// wherever it could take the smaller (it reaches at least as far and
// comes first in listing order on a tie), so the smaller is never used.
// Sorted sweeps keep it O(n log n): a day holds 10^5 and more segments.
func coveredBefore(refs []segmentRef, t time.Time) map[string]bool {
	var big []segmentRef
	for _, r := range refs {
		if r.Last > r.First && !r.At.After(t) {
			big = append(big, r)
		}
	}
	if len(big) == 0 {
		return nil
	}
	sort.Slice(big, func(i, j int) bool { return big[i].First < big[j].First })
	sameFirst := map[uint64]uint64{} // First → largest Last starting there
	for _, b := range big {
		sameFirst[b.First] = max(sameFirst[b.First], b.Last)
	}
	byFirst := slices.Clone(refs)
	sort.Slice(byFirst, func(i, j int) bool { return byFirst[i].First < byFirst[j].First })
	covered := map[string]bool{}
	var reach uint64 // the largest Last of big segments starting before r
	i := 0
	for _, r := range byFirst {
		for ; i < len(big) && big[i].First < r.First; i++ {
			reach = max(reach, big[i].Last)
		}
		if reach >= r.Last || sameFirst[r.First] > r.Last {
			covered[r.Key] = true
		}
	}
	return covered
}
