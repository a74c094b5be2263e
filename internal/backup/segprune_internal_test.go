package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/remote"
)

// memStore is an ObjectStore in memory.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Put(_ context.Context, key string, r io.Reader, _ int64, _ string) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = b
	return nil
}

func (m *memStore) Get(_ context.Context, key string) (io.ReadCloser, remote.Attrs, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, remote.Attrs{}, fs.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(b)), remote.Attrs{Size: int64(len(b))}, nil
}

func (m *memStore) List(_ context.Context, prefix string) ([]remote.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []remote.Object
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, remote.Object{Key: k, Size: int64(len(b))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}

func (m *memStore) String() string { return "mem" }

func (m *memStore) clone() *memStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &memStore{objs: maps.Clone(m.objs)}
}

// synthChain describes a chain for the planner: only names matter.
type synthChain struct {
	name  string
	start time.Time
	step  time.Duration
	n     uint64      // segments 1..n, segment i at start+i*step
	bases []uint64    // positions of full backups (base at start+seq*step)
	comp  [][2]uint64 // compacted ranges, level 1
	tip   bool
}

func (c synthChain) at(seq uint64) time.Time { return c.start.Add(time.Duration(seq) * c.step) }

func (c synthChain) write(t *testing.T, st ObjectStore) []Entry {
	t.Helper()
	put := func(key string) {
		if err := st.Put(context.Background(), key, strings.NewReader("x"), 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(1); i <= c.n; i++ {
		put(SegmentKey(SegmentHeader{Chain: c.name, First: i, Last: i, At: c.at(i)}, EncryptionNone))
	}
	for _, r := range c.comp {
		put(SegmentKey(SegmentHeader{Chain: c.name, Level: 1, First: r[0], Last: r[1], At: c.at(r[1])}, EncryptionNone))
	}
	if c.tip {
		if err := putJSON(context.Background(), st, tipKey(c.name), chainTip{Chain: c.name, Last: c.n, At: c.at(c.n), Closed: true}); err != nil {
			t.Fatal(err)
		}
	}
	var out []Entry
	for _, seq := range c.bases {
		at := c.at(seq).Add(c.step / 4)
		name := fmt.Sprintf("base-%s-%d", c.name, seq)
		out = append(out, Entry{Name: name, Path: "/b/" + name, Type: TypeFull, Status: StatusVerified, CreatedAt: at, Ours: true,
			Manifest: &Manifest{Type: TypeFull, CreatedAt: at, Chain: &ChainPosition{Chain: c.name, Seq: seq, PageSize: 4096}}})
	}
	return out
}

// synthWorld: chain "a" (continuity lost at 8h), then chain "b", and an
// old chain "z" whose only base retention drops.
func synthWorld(t *testing.T) (*memStore, []Entry, func(Entry) bool, time.Time) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st := newMemStore()
	var entries []Entry
	z := synthChain{name: "z", start: t0.Add(-48 * time.Hour), step: 10 * time.Minute, n: 30, bases: []uint64{0}, tip: true}
	a := synthChain{name: "a", start: t0, step: 6 * time.Minute, n: 80, bases: []uint64{0, 50}, comp: [][2]uint64{{1, 10}, {11, 20}, {45, 55}}, tip: true}
	b := synthChain{name: "b", start: t0.Add(8*time.Hour + time.Minute), step: 6 * time.Minute, n: 80, bases: []uint64{0, 40, 70},
		comp: [][2]uint64{{1, 10}, {31, 40}, {37, 44}, {41, 50}, {61, 75}}, tip: true}
	for _, c := range []synthChain{z, a, b} {
		entries = append(entries, c.write(t, st)...)
	}
	keep := func(e Entry) bool { return e.Manifest.Chain.Chain != "z" }
	now := b.at(80).Add(time.Minute)
	return st, entries, keep, now
}

func keptEntries(entries []Entry, keep func(Entry) bool) []Entry {
	var out []Entry
	for _, e := range entries {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// Every moment of the window restores to the same position after the
// prune as before it, for windows from none to everything.
func TestPruneSegmentsKeepsWindowRestorable(t *testing.T) {
	orig, entries, keep, now := synthWorld(t)
	kept := keptEntries(entries, keep)
	var times []time.Time
	for t := now.Add(-30 * time.Hour); !t.After(now); t = t.Add(time.Minute) {
		times = append(times, t)
	}
	totalCoarsened := 0
	defer func() {
		if totalCoarsened == 0 {
			t.Error("no segment was deleted as covered by a compacted one: the test does not exercise it")
		}
	}()
	for _, window := range []time.Duration{0, time.Minute, 30 * time.Minute, 2 * time.Hour, 3*time.Hour + 7*time.Minute, 5 * time.Hour, 8 * time.Hour, 9 * time.Hour, 12 * time.Hour, 17 * time.Hour, 100 * time.Hour} {
		t.Run(window.String(), func(t *testing.T) {
			st := orig.clone()
			res, err := PruneSegments(context.Background(), st, entries, keep, window, now, false)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, at := range times {
				if at.Before(now.Add(-window)) {
					continue
				}
				want, werr := PlanPointInTime(context.Background(), orig, kept, at)
				got, gerr := PlanPointInTime(context.Background(), st, kept, at)
				if gerr == nil {
					gerr = got.CheckPruned(context.Background(), st)
				}
				if (werr == nil) != (gerr == nil) || (werr == nil && (got.Seq != want.Seq || got.Chain != want.Chain)) {
					t.Fatalf("restore to %s: before the prune %v %v, after %v %v (%d deleted)", at, planPos(want), werr, planPos(got), gerr, len(res.Deleted))
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no moment checked")
			}
			coarsened := 0
			for _, c := range res.Chains {
				coarsened += c.CoarsenedCount
			}
			totalCoarsened += coarsened
			t.Logf("window %s: deleted %d (%d covered by older compacted segments), kept %d; %d moments checked", window, res.DeletedCount, coarsened, res.KeptCount, checked)
		})
	}
}

func planPos(p *PITRPlan) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%s@%d", p.Chain, p.Seq)
}

func TestPruneSegmentsDecisions(t *testing.T) {
	st, entries, keep, now := synthWorld(t)
	// The window starts between b's bases at 40 and 70: b@40 is B0.
	b40 := time.Date(2026, 11, 1, 8, 1, 0, 0, time.UTC).Add(40*6*time.Minute + 2*time.Minute)
	window := now.Sub(b40)
	dry, err := PruneSegments(context.Background(), st, entries, keep, window, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.objs); n != 30+80+3+80+5+3 {
		t.Fatalf("a dry run left %d objects", n)
	}
	res, err := PruneSegments(context.Background(), st, entries, keep, window, now, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dry.Deleted, res.Deleted) || dry.DeletedBytes != res.DeletedBytes {
		t.Fatal("the dry run and the prune decided differently")
	}
	left := slices.Sorted(maps.Keys(st.objs))
	var leftA, leftB, leftZ int
	for _, k := range left {
		switch {
		case strings.HasPrefix(k, "wal/a/"):
			leftA++
		case strings.HasPrefix(k, "wal/b/"):
			leftB++
			if r, ok := parseSegmentKey(k); ok && r.Last <= 40 {
				t.Errorf("kept %s at or below b's floor 40", k)
			}
		case strings.HasPrefix(k, "wal/z/"):
			leftZ++
		}
	}
	// a: only its tip and pruned mark (its bases restore alone); b:
	// 41..80, 37-44, 41-50, 61-75, the tip and the mark; z: nothing.
	if leftA != 2 || leftB != 40+3+2 || leftZ != 0 {
		t.Fatalf("left a %d, b %d, z %d objects; want 2, 45, 0: %v", leftA, leftB, leftZ, left)
	}
	for chain, below := range map[string]uint64{"a": 80, "b": 40} {
		var m prunedMark
		if err := getJSON(context.Background(), st, prunedKey(chain), &m); err != nil || m.Below != below {
			t.Errorf("chain %s: pruned mark %+v (%v), want below %d", chain, m, err, below)
		}
	}
	for _, c := range res.Chains {
		if (c.Chain == "z") != c.DeleteChain {
			t.Errorf("chain %s: delete chain %v", c.Chain, c.DeleteChain)
		}
	}
	if res.DeletedCount != 30+83+42 || res.KeptCount != 43 {
		t.Fatalf("report: deleted %d, kept %d", res.DeletedCount, res.KeptCount)
	}
}

func TestPruneSegmentsRefusesWithoutBases(t *testing.T) {
	st, entries, _, now := synthWorld(t)
	n := len(st.objs)
	res, err := PruneSegments(context.Background(), st, entries, func(Entry) bool { return false }, time.Hour, now, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.objs) != n || len(res.Problems) != 1 || res.DeletedCount != 0 {
		t.Fatalf("without kept bases: %d of %d objects left, report %+v", len(st.objs), n, res)
	}
	// A chain without a kept base but with segments in the window is left
	// alone.
	countB := func() int {
		n := 0
		for k := range st.objs {
			if strings.HasPrefix(k, "wal/b/") {
				n++
			}
		}
		return n
	}
	inB := countB()
	noB := func(e Entry) bool { return e.Manifest.Chain.Chain == "a" }
	res, err = PruneSegments(context.Background(), st, entries, noB, time.Hour, now, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "chain b") {
		t.Fatalf("problems %v, want chain b left alone", res.Problems)
	}
	if n := countB(); n != inB {
		t.Fatalf("chain b has %d objects left of %d", n, inB)
	}
}
