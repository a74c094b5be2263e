package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

const testPageSize = 512

// applyBytes applies s to an in-memory database as PITRPlan.Roll applies
// it to a file.
func applyBytes(db []byte, s *segment) []byte {
	ps := int(s.PageSize)
	db = resize(db, int(s.MinPages)*ps)
	for n, pg := range s.pages {
		if n > s.DBPages {
			continue
		}
		end := int(n) * ps
		if len(db) < end {
			db = resize(db, end)
		}
		copy(db[end-ps:end], pg)
	}
	return resize(db, int(s.DBPages)*ps)
}

func resize(db []byte, n int) []byte {
	if len(db) >= n {
		return db[:n:n] // a cut file forgets what was past the end
	}
	return append(db[:len(db):len(db)], make([]byte, n-len(db))...)
}

// randomSegments makes k consecutive segments of chain "c" from seq
// first, with any sizes: shrinks, growths, pages past the end.
func randomSegments(rng *rand.Rand, first uint64, k int, at time.Time) []*segment {
	var out []*segment
	for i := range k {
		s := &segment{SegmentHeader: SegmentHeader{
			Chain: "c", First: first + uint64(i), Last: first + uint64(i), PageSize: testPageSize,
			MinPages: uint32(rng.IntN(40)), DBPages: uint32(rng.IntN(40)), Commits: 1 + rng.IntN(3),
			Since: at.Add(time.Duration(i) * time.Second), At: at.Add(time.Duration(i+1) * time.Second),
			Checksum: fmt.Sprintf("%016x", rng.Uint64()),
		}, pages: map[uint32][]byte{}}
		for range rng.IntN(12) {
			pg := make([]byte, testPageSize)
			for j := range pg {
				pg[j] = byte(rng.IntN(256))
			}
			s.pages[uint32(1+rng.IntN(45))] = pg
		}
		out = append(out, s)
	}
	return out
}

func randomDB(rng *rand.Rand) []byte {
	db := make([]byte, rng.IntN(30)*testPageSize)
	for i := range db {
		db[i] = byte(rng.IntN(256))
	}
	return db
}

func TestCompactMergeEqualsSequential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for iter := range 2000 {
		base := randomDB(rng)
		segs := randomSegments(rng, 7, 1+rng.IntN(10), at)
		want := bytes.Clone(base)
		for _, s := range segs {
			want = applyBytes(want, s)
		}
		merged, err := mergeSegments(segs)
		if err != nil {
			t.Fatal(err)
		}
		got := applyBytes(bytes.Clone(base), merged)
		if !bytes.Equal(got, want) {
			t.Fatalf("iteration %d: merged segment gives %d bytes, sequential %d (or different content)", iter, len(got), len(want))
		}
		last := segs[len(segs)-1]
		if merged.First != 7 || merged.Last != last.Last || merged.DBPages != last.DBPages || merged.Checksum != last.Checksum ||
			!merged.At.Equal(last.At) || !merged.Since.Equal(segs[0].Since) || merged.Commits != sumCommits(segs) {
			t.Fatalf("iteration %d: merged header %+v", iter, merged.SegmentHeader)
		}
		// The merged segment survives encoding.
		dec, err := decodeSegment(encodeSegment(merged))
		if err != nil || !bytes.Equal(applyBytes(bytes.Clone(base), dec), want) {
			t.Fatalf("iteration %d: decoded merged segment differs (%v)", iter, err)
		}
	}
}

// A merged segment also applies on top of any state inside its range:
// restore walks take a compacted segment that starts before the base.
func TestCompactMergeAppliesMidRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for iter := range 500 {
		state := [][]byte{randomDB(rng)}
		segs := randomSegments(rng, 1, 2+rng.IntN(8), at)
		for _, s := range segs {
			state = append(state, applyBytes(bytes.Clone(state[len(state)-1]), s))
		}
		merged, err := mergeSegments(segs)
		if err != nil {
			t.Fatal(err)
		}
		want := state[len(state)-1]
		for k, st := range state {
			if got := applyBytes(bytes.Clone(st), merged); !bytes.Equal(got, want) {
				t.Fatalf("iteration %d: merged segment on the state after %d of %d segments differs", iter, k, len(segs))
			}
		}
	}
}

func sumCommits(segs []*segment) int {
	n := 0
	for _, s := range segs {
		n += s.Commits
	}
	return n
}

func TestCompactMergeRefusesNonContiguous(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	segs := randomSegments(rng, 1, 3, at)
	gap := []*segment{segs[0], segs[2]}
	if _, err := mergeSegments(gap); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Fatalf("merge with a gap = %v", err)
	}
	other := *segs[1]
	other.Chain = "d"
	if _, err := mergeSegments([]*segment{segs[0], &other}); err == nil {
		t.Fatal("merge across chains succeeded")
	}
	if _, err := mergeSegments(nil); err == nil {
		t.Fatal("merge of nothing succeeded")
	}
}

// synthStore writes synthetic segments of chain "c" into a DirStore.
type synthStore struct {
	t     *testing.T
	st    DirStore
	codec *segmentCodec
	rng   *rand.Rand
}

func newSynthStore(t *testing.T) *synthStore {
	codec, err := newSegmentCodec(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &synthStore{t: t, st: DirStore(t.TempDir()), codec: codec, rng: rand.New(rand.NewPCG(7, 8))}
}

// put stores s as is.
func (ss *synthStore) put(s *segment) {
	ss.t.Helper()
	c := Compactor{Store: ss.st, codec: ss.codec}
	if _, err := c.put(context.Background(), s); err != nil {
		ss.t.Fatal(err)
	}
}

// seq writes level-0 segments first.. at the given times.
func (ss *synthStore) seq(first uint64, times ...time.Time) []*segment {
	ss.t.Helper()
	segs := randomSegments(ss.rng, first, len(times), times[0])
	for i, s := range segs {
		s.At = times[i]
		if i > 0 {
			s.Since = times[i-1]
		}
		ss.put(s)
	}
	return segs
}

func TestCompactSyntheticWindows(t *testing.T) {
	ss := newSynthStore(t)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var times []time.Time
	// 3 per minute for 130 minutes: minutes and two closed hours.
	for i := range 390 {
		times = append(times, t0.Add(time.Duration(i)*20*time.Second+time.Second))
	}
	segs := ss.seq(1, times...)
	now := t0.Add(130 * time.Minute)
	c := &Compactor{Store: ss.st, Now: func() time.Time { return now }}
	rep, err := c.Run(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	// 129 closed minutes (the one ending at now is inside the grace) and
	// 2 closed hours.
	if len(rep.Written) != 129+2 || len(rep.Skipped) != 0 {
		t.Fatalf("written %d, skipped %v; want 131, none", len(rep.Written), rep.Skipped)
	}
	refs, err := listSegments(context.Background(), ss.st, "c")
	if err != nil {
		t.Fatal(err)
	}
	var hour []segmentRef
	for _, r := range refs {
		if r.Level == 2 {
			hour = append(hour, r)
		}
	}
	if len(hour) != 2 || hour[0].First != 1 || hour[0].Last != 180 || hour[1].First != 181 || hour[1].Last != 360 {
		t.Fatalf("level-2 segments %+v, want 1-180 and 181-360", hour)
	}
	// Bytes: the hour's segment equals the fold of its level-0 segments.
	want, err := mergeSegments(segs[:180])
	if err != nil {
		t.Fatal(err)
	}
	got, err := fetchSegment(context.Background(), ss.st, c.codec, hour[0])
	if err != nil {
		t.Fatal(err)
	}
	base := randomDB(ss.rng)
	if !bytes.Equal(applyBytes(bytes.Clone(base), got), applyBytes(bytes.Clone(base), want)) {
		t.Fatal("stored level-2 segment differs from the merge of its level-0 segments")
	}
	// Idempotent.
	if n, err := c.Compact(context.Background(), "c"); n != 0 || err != nil {
		t.Fatalf("second run wrote %d (%v)", n, err)
	}
}

func TestCompactSkipsGapAndBigWindows(t *testing.T) {
	ss := newSynthStore(t)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ss.seq(1, t0.Add(1*time.Second), t0.Add(2*time.Second))
	// 3 is missing; 4 and 5 are in the same minute.
	ss.seq(4, t0.Add(3*time.Second), t0.Add(4*time.Second))
	// The next minute: four segments, too big together.
	big := ss.seq(6, t0.Add(61*time.Second), t0.Add(62*time.Second), t0.Add(63*time.Second), t0.Add(64*time.Second))
	for _, s := range big {
		for n := range uint32(20) {
			s.pages[n+1] = make([]byte, testPageSize)
		}
		s.MinPages, s.DBPages = 20, 20
		ss.put(s)
	}
	now := t0.Add(3 * time.Minute)
	c := &Compactor{Store: ss.st, Now: func() time.Time { return now }, MaxBytes: 10 * testPageSize, Levels: []time.Duration{time.Minute}}
	rep, err := c.Run(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 0 || len(rep.Skipped) != 2 || !strings.Contains(rep.Skipped[0], "segment 3 is missing") || !strings.Contains(rep.Skipped[1], "too big") {
		t.Fatalf("report %+v: want two skipped windows (gap, too big) and nothing written", rep)
	}
}

func TestCompactRefusesPlainCopyOfEncrypted(t *testing.T) {
	ss := newSynthStore(t)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i, s := range randomSegments(ss.rng, 1, 2, t0) {
		s.At = t0.Add(time.Duration(i+1) * time.Second)
		data := encodeSegment(s)
		// The name says encrypted; the content does not matter here.
		key := SegmentKey(s.SegmentHeader, EncryptionAge)
		if err := ss.st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), sha256hex(data)); err != nil {
			t.Fatal(err)
		}
	}
	c := &Compactor{Store: ss.st, Now: func() time.Time { return t0.Add(time.Hour) }, Levels: []time.Duration{time.Minute}}
	if _, err := c.Compact(context.Background(), "c"); !errors.Is(err, ErrNoRecipients) {
		t.Fatalf("compact of encrypted segments without recipients = %v, want ErrNoRecipients", err)
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestCompactDamagedSegmentSkipsItsWindow(t *testing.T) {
	ss := newSynthStore(t)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	bad := ss.seq(1, t0.Add(1*time.Second), t0.Add(2*time.Second))
	ss.seq(3, t0.Add(61*time.Second), t0.Add(62*time.Second))
	key := SegmentKey(bad[1].SegmentHeader, EncryptionNone)
	if err := ss.st.Put(context.Background(), key, strings.NewReader("garbage"), 7, sha256hex([]byte("garbage"))); err != nil {
		t.Fatal(err)
	}
	c := &Compactor{Store: ss.st, Now: func() time.Time { return t0.Add(3 * time.Minute) }, Levels: []time.Duration{time.Minute}}
	rep, err := c.Run(context.Background(), "c")
	if !errors.Is(err, ErrSegmentMissing) {
		t.Fatalf("compact over a damaged segment = %v, want ErrSegmentMissing", err)
	}
	if len(rep.Written) != 1 || !strings.Contains(rep.Written[0], "0000000000000003-0000000000000004") || len(rep.Skipped) != 1 {
		t.Fatalf("report %+v: want the second window merged and the first skipped", rep)
	}
}

// An applied batch undone leaves the checksum table as it was.
func TestPageSumsUndo(t *testing.T) {
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, 512) }
	p := &pageSums{}
	for i := uint32(1); i <= 10; i++ {
		p.set(i, page(byte(i)))
	}
	before := append([]uint64(nil), p.sums...)
	total := p.total
	for _, c := range []struct{ min, db uint32 }{{10, 10}, {4, 12}, {3, 6}, {10, 20}} {
		undo := p.apply(map[uint32][]byte{2: page(99), 5: page(98), 11: page(97)}, c.min, c.db, 512)
		if p.total == total {
			t.Fatalf("apply %+v changed nothing", c)
		}
		undo()
		if p.total != total || !slices.Equal(p.sums, before) {
			t.Fatalf("undo after %+v: total %x, sums %v; want %x, %v", c, p.total, p.sums, total, before)
		}
	}
}
