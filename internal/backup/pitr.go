package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"time"

	"github.com/campfire-in-go/campfire/internal/remote"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Window is what one chain can restore: every moment from From (its
// oldest base) to To (its last shipped commit).
type Window struct {
	Chain    string    `json:"chain"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Bases    int       `json:"bases"`
	Segments int       `json:"segments"`
	Closed   bool      `json:"closed"`
	// Problem says why part of the chain is not restorable ("" if none).
	Problem string `json:"problem,omitempty"`
}

// PITRPlan is a point-in-time restore: a base and the segments on top.
type PITRPlan struct {
	Base     Entry        `json:"base"`
	Chain    string       `json:"chain"`
	Segments []segmentRef `json:"-"`
	// Seq and At are the position restored: the last segment applied
	// (the base's own when none) and when its last commit was shipped.
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Checksum string    `json:"checksum"`
	Target   time.Time `json:"target"`
}

// chainBases returns the backups in entries that start a chain position,
// oldest first, keeping only those whose artifact is intact.
func chainBases(entries []Entry) []Entry {
	var out []Entry
	for _, e := range entries {
		if e.Manifest == nil || e.Manifest.Chain == nil || !e.Type.restorable() {
			continue
		}
		if e.Status != StatusUnverified && e.Status != StatusVerified {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// Windows lists the restorable window of each chain in st whose bases are
// in entries, oldest chain first.
func Windows(ctx context.Context, st ObjectStore, entries []Entry) ([]Window, error) {
	bases := chainBases(entries)
	byChain := map[string][]Entry{}
	var order []string
	for _, b := range bases {
		c := b.Manifest.Chain.Chain
		if _, ok := byChain[c]; !ok {
			order = append(order, c)
		}
		byChain[c] = append(byChain[c], b)
	}
	var out []Window
	for _, c := range order {
		refs, err := listSegments(ctx, st, c)
		if err != nil {
			return nil, err
		}
		var tip chainTip
		_ = getJSON(ctx, st, tipKey(c), &tip)
		first := byChain[c][0]
		w := Window{Chain: c, From: first.CreatedAt, To: first.CreatedAt, Bases: len(byChain[c]), Segments: len(refs), Closed: tip.Closed}
		cur, at, problem := walk(refs, first.Manifest.Chain.Seq, nil)
		if !at.IsZero() {
			w.To = at
		}
		// A later base may bridge a gap the segments leave.
		for _, b := range byChain[c][1:] {
			if b.Manifest.Chain.Seq > cur {
				cur, at, problem = walk(refs, b.Manifest.Chain.Seq, nil)
				w.To = b.CreatedAt
				if !at.IsZero() {
					w.To = at
				}
			}
		}
		if problem == "" && tip.Last > cur {
			problem = fmt.Sprintf("segments %d to %d (up to %s) are missing", cur+1, tip.Last, tip.At.Format(time.RFC3339))
		}
		w.Problem = problem
		out = append(out, w)
	}
	return out, nil
}

// walk follows refs from position seq, taking at each step the segment
// that reaches furthest among those ok allows (nil: all). It returns the
// position reached, the At of its segment and, when allowed segments
// exist beyond a hole, what is missing.
func walk(refs []segmentRef, seq uint64, ok func(segmentRef) bool) (uint64, time.Time, string) {
	allowed := func(r segmentRef) bool { return ok == nil || ok(r) }
	cur := seq
	var at time.Time
	for {
		best := -1
		for i, r := range refs {
			if r.First > cur+1 || r.Last <= cur || !allowed(r) {
				continue
			}
			if best < 0 || r.Last > refs[best].Last {
				best = i
			}
		}
		if best < 0 {
			break
		}
		cur, at = refs[best].Last, refs[best].At
	}
	for _, r := range refs {
		if r.First > cur+1 && allowed(r) {
			return cur, at, fmt.Sprintf("segment %d is missing (segment %d exists)", cur+1, r.First)
		}
	}
	return cur, at, ""
}

// before allows the segments whose commits all happened at or before
// target (zero: every segment).
func before(target time.Time) func(segmentRef) bool {
	if target.IsZero() {
		return nil
	}
	return func(r segmentRef) bool { return !r.At.After(target) }
}

// PlanPointInTime picks the newest chain base taken at or before target
// (zero: the latest) and the segments that bring it to target. Segments
// missing in the middle or at the recorded tail fail the plan loudly.
func PlanPointInTime(ctx context.Context, st ObjectStore, entries []Entry, target time.Time) (*PITRPlan, error) {
	bases := chainBases(entries)
	var base *Entry
	for i := len(bases) - 1; i >= 0; i-- {
		if target.IsZero() || !bases[i].CreatedAt.After(target) {
			base = &bases[i]
			break
		}
	}
	if base == nil {
		if len(bases) == 0 {
			return nil, fail(ErrNotFound, "no full backup taken by the running server (with continuous backup) to restore from")
		}
		return nil, fail(ErrNotFound, "nothing to restore at %s: the earliest restorable moment is %s", target.Format(time.RFC3339), bases[0].CreatedAt.Format(time.RFC3339))
	}
	p, err := planFrom(ctx, st, *base, before(target), func(tip chainTip) bool { return target.IsZero() || !tip.At.After(target) })
	if err != nil {
		return nil, err
	}
	p.Target = target
	// Pruned segments leave no hole a walk could see: the plan would
	// stop at the base and give its state instead of target's.
	if err := p.CheckPruned(ctx, st); err != nil {
		return nil, err
	}
	return p, nil
}

// PlanPosition plans the restore of chain exactly to position seq (a
// restore drill compares the result with the live database there).
func PlanPosition(ctx context.Context, st ObjectStore, entries []Entry, chain string, seq uint64) (*PITRPlan, error) {
	var base *Entry
	for _, b := range chainBases(entries) {
		if b.Manifest.Chain.Chain == chain && b.Manifest.Chain.Seq <= seq {
			base = &b
		}
	}
	if base == nil {
		return nil, fail(ErrNotFound, "no full backup of chain %s at or before position %d", chain, seq)
	}
	p, err := planFrom(ctx, st, *base, func(r segmentRef) bool { return r.Last <= seq }, func(tip chainTip) bool { return tip.Last <= seq })
	if err == nil && p.Seq != seq {
		return nil, fail(ErrSegmentMissing, "chain %s reaches position %d, not %d", chain, p.Seq, seq)
	}
	return p, err
}

// planFrom plans from base with the segments ok allows; tipCounts says
// whether the chain's tip record is within reach (then segments up to it
// must exist).
func planFrom(ctx context.Context, st ObjectStore, base Entry, ok func(segmentRef) bool, tipCounts func(chainTip) bool) (*PITRPlan, error) {
	pos := base.Manifest.Chain
	refs, err := listSegments(ctx, st, pos.Chain)
	if err != nil {
		return nil, err
	}
	cur, at, problem := walk(refs, pos.Seq, ok)
	if problem != "" {
		return nil, fail(ErrSegmentMissing, "chain %s: %s: cannot restore past %d", pos.Chain, problem, cur)
	}
	var tip chainTip
	if err := getJSON(ctx, st, tipKey(pos.Chain), &tip); err == nil && tip.Last > cur && tipCounts(tip) {
		return nil, fail(ErrSegmentMissing, "chain %s: segments %d to %d are missing (the chain's tip record says it reached %d at %s)", pos.Chain, cur+1, tip.Last, tip.Last, tip.At.Format(time.RFC3339))
	}
	p := &PITRPlan{Base: base, Chain: pos.Chain, Seq: pos.Seq, At: base.CreatedAt, Checksum: pos.Checksum}
	// The chosen path, in order.
	for c := pos.Seq; c < cur; {
		best := -1
		for i, r := range refs {
			if r.First <= c+1 && r.Last > c && r.Last <= cur && (ok == nil || ok(r)) && (best < 0 || r.Last > refs[best].Last) {
				best = i
			}
		}
		p.Segments = append(p.Segments, refs[best])
		c = refs[best].Last
	}
	if len(p.Segments) > 0 {
		p.Seq, p.At = cur, at
	}
	return p, nil
}

// Roll applies the plan's segments to the database file at path (a copy
// of the plan's base) and checks the result's checksum against the one
// recorded at the position restored. progress, when set, gets the
// segments applied so far.
func (p *PITRPlan) Roll(ctx context.Context, st ObjectStore, ids *Identities, path string, progress func(done, total int64)) error {
	codec, err := newSegmentCodec(nil, ids)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	want := p.Checksum
	ps := int64(p.Base.Manifest.Chain.PageSize)
	for i, ref := range p.Segments {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := fetchSegment(ctx, st, codec, ref)
		if err != nil {
			return err
		}
		if int64(s.PageSize) != ps {
			return fail(ErrSegmentMissing, "segment %s has page size %d, the base %d", ref.Key, s.PageSize, ps)
		}
		if err := f.Truncate(int64(s.MinPages) * ps); err != nil {
			return err
		}
		for n, pg := range s.pages {
			if n > s.DBPages {
				continue
			}
			if _, err := f.WriteAt(pg, int64(n-1)*ps); err != nil {
				return err
			}
		}
		if err := f.Truncate(int64(s.DBPages) * ps); err != nil {
			return err
		}
		want = s.Checksum
		if progress != nil {
			progress(int64(i+1), int64(len(p.Segments)))
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sums, err := sumsOf(f, int(ps))
	if err != nil {
		return err
	}
	if got := formatSum(sums.total); got != want {
		return fail(ErrVerifyFailed, "the restored database's checksum %s differs from the one recorded at position %d of chain %s (%s): refusing a wrong restore", got, p.Seq, p.Chain, want)
	}
	return nil
}

// fetchSegment reads and checks one segment.
func fetchSegment(ctx context.Context, st ObjectStore, codec *segmentCodec, ref segmentRef) (*segment, error) {
	rc, attrs, err := st.Get(ctx, ref.Key)
	if err != nil {
		return nil, fail(ErrSegmentMissing, "segment %s: %w", ref.Key, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fail(ErrSegmentMissing, "segment %s: %w", ref.Key, err)
	}
	if attrs.SHA256 != "" {
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != attrs.SHA256 {
			return nil, fail(ErrSegmentMissing, "segment %s: stored bytes do not match their SHA-256", ref.Key)
		}
	}
	s, err := codec.open(data)
	if err != nil {
		if errors.Is(err, ErrNoIdentity) {
			return nil, err
		}
		return nil, fail(ErrSegmentMissing, "segment %s: %w", ref.Key, err)
	}
	if s.Chain != ref.Chain || s.First != ref.First || s.Last != ref.Last {
		return nil, fail(ErrSegmentMissing, "segment %s holds %s %d-%d instead", ref.Key, s.Chain, s.First, s.Last)
	}
	return s, nil
}

// countRowsOf counts the core tables' rows of the database file at path.
func countRowsOf(ctx context.Context, path string) (map[string]int64, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return sqldb.CountRows(ctx, db)
}

// PreparePointInTime prepares the restore of the continuous-backup chain
// in the backup directory (opts.BackupDir) to at (zero: the last shipped
// commit) over the database at target: PlanPointInTime, then
// PrepareRestore of the plan's base rolled forward by its segments and
// checked against the recorded checksum. The backup directory's lock is
// held while the segments are read, so pruning never deletes one under
// the restore.
func PreparePointInTime(ctx context.Context, at time.Time, target string, opts RestoreOptions) (*Plan, error) {
	unlock, err := lockForRestore(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer unlock()
	entries, err := List(opts.BackupDir)
	if err != nil {
		return nil, err
	}
	return preparePointInTime(ctx, DirStore(opts.BackupDir), entries, nil, at, target, opts)
}

// PrepareRemotePointInTime is PreparePointInTime from a remote destination
// alone (disaster recovery): the backups are its manifests, the base is
// downloaded into opts.BackupDir and checked, the segments are read from
// it.
func PrepareRemotePointInTime(ctx context.Context, st *remote.Store, at time.Time, target string, opts RestoreOptions) (*Plan, error) {
	// `backup prune --remote` takes the same lock before it deletes
	// segments from the destination.
	unlock, err := lockForRestore(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer unlock()
	entries, err := ListRemote(ctx, st)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, e Entry) (string, func(), error) {
		return Download(ctx, st, e, opts.BackupDir, opts.Progress)
	}
	return preparePointInTime(ctx, st, entries, fetch, at, target, opts)
}

// lockForRestore holds the backup directory's lock while a restore reads
// segments, so a prune waits for it.
func lockForRestore(ctx context.Context, opts RestoreOptions) (func(), error) {
	if opts.BackupDir == "" {
		return func() {}, nil
	}
	wait := opts.LockWait
	if wait == 0 {
		wait = DefaultLockWait
	}
	lock, err := LockDir(ctx, opts.BackupDir, wait)
	if err != nil {
		return nil, err
	}
	return func() { lock.Unlock() }, nil
}

// preparePointInTime plans and prepares; fetch, when set, brings a base
// from elsewhere into a local file.
func preparePointInTime(ctx context.Context, st ObjectStore, entries []Entry, fetch func(context.Context, Entry) (string, func(), error), at time.Time, target string, opts RestoreOptions) (*Plan, error) {
	pitr, err := PlanPointInTime(ctx, st, entries, at)
	if err != nil {
		return nil, err
	}
	base := pitr.Base.Path
	if fetch != nil {
		path, cleanup, err := fetch(ctx, pitr.Base)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		base = path
	}
	opts.Roll = func(ctx context.Context, path string) error {
		return pitr.Roll(ctx, st, opts.Identities, path, nil)
	}
	p, err := PrepareRestore(ctx, base, target, opts)
	if err != nil {
		return nil, err
	}
	p.PointInTime = pitr
	return p, nil
}
