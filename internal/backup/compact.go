package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Compaction merges the level-0 segments of a closed time window into one
// segment of a higher level, so that a point-in-time restore applies a
// few segments per hour instead of thousands. The merged segments are
// added beside the ones they replace: level-0 segments keep the
// sub-second granularity of a restore, and deleting anything is
// retention's job (PruneSegments), never compaction's.

// Defaults of the Compactor.
const (
	// DefaultCompactGrace: a window is compacted only this long after it
	// ended, so that a segment being written as it closes joins it.
	DefaultCompactGrace = 5 * time.Second
	// DefaultCompactMaxBytes bounds the pages one merge holds in memory;
	// bigger windows are skipped (and stay restorable from their parts).
	DefaultCompactMaxBytes = 256 << 20
)

// DefaultCompactLevels are the window lengths of levels 1, 2, ...: one
// minute, then one hour.
func DefaultCompactLevels() []time.Duration { return []time.Duration{time.Minute, time.Hour} }

// errMergeTooBig: a merge would hold more pages than allowed.
var errMergeTooBig = errors.New("window too big to merge")

// merger folds consecutive segments into one. Applying the result to a
// database gives the same bytes as applying the segments one by one: it
// keeps the newest version of each page and the smallest size the
// database had in between (pages past it are zeros unless written after).
type merger struct {
	seg      *segment
	maxBytes int64  // 0: no limit
	top      uint32 // no merged page is past it: most folds cut nothing
}

// add folds s, which must continue what was folded so far.
func (m *merger) add(s *segment) error {
	if m.seg == nil {
		m.seg = &segment{SegmentHeader: s.SegmentHeader, pages: map[uint32][]byte{}}
		m.seg.Commits = 0
		// Nothing is known of the size before the first segment: its own
		// MinPages is the floor.
		m.seg.DBPages = s.MinPages
	} else if err := m.check(s); err != nil {
		return err
	}
	acc := m.seg
	// The database was acc.DBPages long before s, then s.MinPages at its
	// smallest: pages past either were cut off and read as zeros unless
	// written again.
	floor := min(acc.DBPages, s.MinPages)
	acc.MinPages = min(acc.MinPages, floor)
	m.dropAbove(floor)
	for n, pg := range s.pages {
		if n <= s.DBPages {
			// A copy: a decoded segment's pages share one buffer, which
			// must not stay alive for one page.
			acc.pages[n] = bytes.Clone(pg)
			m.top = max(m.top, n)
		}
	}
	m.dropAbove(s.DBPages)
	acc.Last, acc.DBPages, acc.At, acc.Checksum = s.Last, s.DBPages, s.At, s.Checksum
	acc.Commits += s.Commits
	acc.Pages = len(acc.pages)
	if m.maxBytes > 0 && int64(len(acc.pages))*int64(acc.PageSize) > m.maxBytes {
		return fmt.Errorf("%w: more than %d bytes of pages by segment %d", errMergeTooBig, m.maxBytes, s.Last)
	}
	return nil
}

// check refuses a segment that does not continue the merge.
func (m *merger) check(s *segment) error {
	acc := m.seg
	switch {
	case s.Chain != acc.Chain:
		return fmt.Errorf("merge: segment %d of chain %s after chain %s", s.First, s.Chain, acc.Chain)
	case s.PageSize != acc.PageSize:
		return fmt.Errorf("merge: segment %d has page size %d, not %d", s.First, s.PageSize, acc.PageSize)
	case s.First != acc.Last+1:
		return fmt.Errorf("merge: segment %d-%d does not follow %d", s.First, s.Last, acc.Last)
	}
	return nil
}

// dropAbove forgets the merged pages past n.
func (m *merger) dropAbove(n uint32) {
	if m.top <= n {
		return
	}
	for pg := range m.seg.pages {
		if pg > n {
			delete(m.seg.pages, pg)
		}
	}
	m.top = n
}

// mergeSegments merges consecutive segments of one chain, in order, into
// one covering [segs[0].First, last.Last]. The caller sets its Level.
func mergeSegments(segs []*segment) (*segment, error) {
	if len(segs) == 0 {
		return nil, errors.New("merge: no segments")
	}
	var m merger
	for _, s := range segs {
		if err := m.add(s); err != nil {
			return nil, err
		}
	}
	return m.seg, nil
}

// Compactor merges the segments of closed time windows into higher-level
// segments. It only adds objects, so it needs no lock against restores or
// the Replicator; run one Compact at a time per store.
type Compactor struct {
	Store ObjectStore
	// Recipients encrypt the merged segments (nil: not encrypted). They
	// must be set when the segments are encrypted: Compact refuses to
	// write a plain copy of encrypted segments.
	Recipients *Recipients
	// Identities decrypt encrypted segments.
	Identities *Identities
	// Levels are the window lengths of levels 1, 2, ...; each must be a
	// multiple of the one before. Nil means DefaultCompactLevels.
	Levels []time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Grace and MaxBytes: zero means DefaultCompactGrace and
	// DefaultCompactMaxBytes.
	Grace    time.Duration
	MaxBytes int64
	Logger   *slog.Logger

	codec *segmentCodec
}

// CompactReport is what one Compact run did.
type CompactReport struct {
	// Written are the keys of the new segments.
	Written []string `json:"written"`
	// Skipped says which windows could not be merged, and why.
	Skipped []string `json:"skipped,omitempty"`
}

// Compact merges the closed windows of chain that are not merged yet and
// returns how many segments it wrote. Running it again writes nothing.
func (c *Compactor) Compact(ctx context.Context, chain string) (int, error) {
	rep, err := c.Run(ctx, chain)
	if rep == nil {
		return 0, err
	}
	return len(rep.Written), err
}

// Run is Compact with the full report.
func (c *Compactor) Run(ctx context.Context, chain string) (*CompactReport, error) {
	if c.Store == nil || chain == "" {
		return nil, fail(ErrInvalidRequest, "compact: no store or chain")
	}
	levels, err := c.levels()
	if err != nil {
		return nil, err
	}
	if c.codec == nil {
		if c.codec, err = newSegmentCodec(c.Recipients, c.Identities); err != nil {
			return nil, fmt.Errorf("compact: %w", err)
		}
	}
	refs, err := listSegments(ctx, c.Store, chain)
	if err != nil {
		return nil, fmt.Errorf("compact %s: list segments: %w", chain, err)
	}
	rep := &CompactReport{}
	var errs []error
	for i, w := range levels {
		added, err := c.compactLevel(ctx, refs, i+1, w, rep)
		refs = append(refs, added...)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrNoRecipients) || ctx.Err() != nil {
				break
			}
		}
	}
	return rep, errors.Join(errs...)
}

func (c *Compactor) levels() ([]time.Duration, error) {
	levels := c.Levels
	if levels == nil {
		levels = DefaultCompactLevels()
	}
	for i, w := range levels {
		if w <= 0 || (i > 0 && w%levels[i-1] != 0) {
			return nil, fail(ErrInvalidRequest, "compact: level %d window %s is not a positive multiple of the level below", i+1, w)
		}
	}
	return levels, nil
}

func (c *Compactor) now() time.Time { return nowOr(c.Now) }

func (c *Compactor) logger() *slog.Logger { return loggerOr(c.Logger) }

// compactLevel writes the level-L segments of the closed windows of
// length w, from the segments below L, and returns their refs.
func (c *Compactor) compactLevel(ctx context.Context, refs []segmentRef, level int, w time.Duration, rep *CompactReport) ([]segmentRef, error) {
	grace := c.Grace
	if grace == 0 {
		grace = DefaultCompactGrace
	}
	closedBefore := c.now().Add(-grace)
	done := map[[2]uint64]bool{}
	windows := map[time.Time][]segmentRef{}
	for _, r := range refs {
		switch {
		case r.Level == level:
			done[[2]uint64{r.First, r.Last}] = true
		case r.Level < level:
			start := r.At.Truncate(w)
			windows[start] = append(windows[start], r)
		}
	}
	starts := make([]time.Time, 0, len(windows))
	for s := range windows {
		if !s.Add(w).After(closedBefore) {
			starts = append(starts, s)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	var added []segmentRef
	var errs []error
	for _, start := range starts {
		path, gap := windowPath(windows[start])
		if gap != "" {
			c.skip(rep, "chain %s level %d window %s: %s", path0Chain(windows[start]), level, start.Format(time.RFC3339), gap)
			continue
		}
		if len(path) < 2 || done[[2]uint64{path[0].First, path[len(path)-1].Last}] {
			continue
		}
		ref, err := c.mergeWindow(ctx, path, level)
		switch {
		case errors.Is(err, errMergeTooBig):
			c.skip(rep, "chain %s level %d window %s: %v", path[0].Chain, level, start.Format(time.RFC3339), err)
			continue
		case errors.Is(err, ErrNoRecipients) || ctx.Err() != nil:
			return added, errors.Join(append(errs, err)...)
		case err != nil:
			// A damaged segment stops its window only: the others are
			// still worth merging, and the error is returned at the end.
			c.skip(rep, "chain %s level %d window %s: %v", path[0].Chain, level, start.Format(time.RFC3339), err)
			errs = append(errs, err)
			continue
		}
		rep.Written = append(rep.Written, ref.Key)
		added = append(added, ref)
	}
	return added, errors.Join(errs...)
}

func path0Chain(refs []segmentRef) string {
	if len(refs) == 0 {
		return ""
	}
	return refs[0].Chain
}

func (c *Compactor) skip(rep *CompactReport, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rep.Skipped = append(rep.Skipped, msg)
	c.logger().Warn("continuous backup compaction: window skipped", "why", msg)
}

// windowPath picks, from the segments of one window, a run of contiguous
// segments from the lowest position to the highest, taking the longest
// (highest-level) segment at each step. It reports a gap instead when
// positions are missing: a merge must never paper over a hole.
func windowPath(refs []segmentRef) ([]segmentRef, string) {
	lo, hi := refs[0].First, refs[0].Last
	for _, r := range refs {
		lo, hi = min(lo, r.First), max(hi, r.Last)
	}
	var path []segmentRef
	for cur := lo - 1; cur < hi; {
		best := -1
		for i, r := range refs {
			if r.First == cur+1 && (best < 0 || r.Last > refs[best].Last) {
				best = i
			}
		}
		if best < 0 {
			return nil, fmt.Sprintf("segment %d is missing (segments %d to %d are in the window)", cur+1, lo, hi)
		}
		path = append(path, refs[best])
		cur = refs[best].Last
	}
	return path, ""
}

// mergeWindow fetches, checks and folds the segments of path one at a
// time (only the merged pages stay in memory), then stores the result at
// level.
func (c *Compactor) mergeWindow(ctx context.Context, path []segmentRef, level int) (segmentRef, error) {
	if err := c.checkEncryption(path); err != nil {
		return segmentRef{}, err
	}
	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultCompactMaxBytes
	}
	m := merger{maxBytes: maxBytes}
	for _, ref := range path {
		if err := ctx.Err(); err != nil {
			return segmentRef{}, err
		}
		s, err := fetchSegment(ctx, c.Store, c.codec, ref)
		if err != nil {
			return segmentRef{}, fmt.Errorf("compact: %w", err)
		}
		if err := m.add(s); err != nil {
			return segmentRef{}, fmt.Errorf("compact %s: %w", ref.Key, err)
		}
	}
	merged := m.seg
	merged.Level = level
	return c.put(ctx, merged)
}

// checkEncryption refuses to merge encrypted segments into a plain one.
func (c *Compactor) checkEncryption(path []segmentRef) error {
	if c.codec.encryption() != EncryptionNone {
		return nil
	}
	for _, r := range path {
		if strings.HasSuffix(r.Key, EncryptionAge.Ext()) || strings.HasSuffix(r.Key, EncryptionOpenPGP.Ext()) {
			return fail(ErrNoRecipients, "compact: segment %s is encrypted and the compactor has no recipients: refusing to write it unencrypted", r.Key)
		}
	}
	return nil
}

// put seals and stores s.
func (c *Compactor) put(ctx context.Context, s *segment) (segmentRef, error) {
	stored, err := c.codec.seal(encodeSegment(s))
	if err != nil {
		return segmentRef{}, fmt.Errorf("compact: seal segment %d-%d: %w", s.First, s.Last, err)
	}
	sum := sha256.Sum256(stored)
	key := SegmentKey(s.SegmentHeader, c.codec.encryption())
	if err := c.Store.Put(ctx, key, bytes.NewReader(stored), int64(len(stored)), hex.EncodeToString(sum[:])); err != nil {
		return segmentRef{}, fmt.Errorf("compact: write %s: %w", key, err)
	}
	ref, ok := parseSegmentKey(key)
	if !ok {
		return segmentRef{}, fmt.Errorf("compact: wrote %s, which is not a segment name", key)
	}
	ref.Size = int64(len(stored))
	return ref, nil
}
