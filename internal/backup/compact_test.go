package backup_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// fakeClock is a clock the test moves; the Replicator reads it from its
// own goroutine.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newReplicatedAt is newReplicated with the Replicator and its Engine on
// clock, so segments spread over hours in a second. The base's time is the
// snapshot's, on the real clock: start clock at the real time.
func newReplicatedAt(tb testing.TB, clock *fakeClock) *replicated {
	tb.Helper()
	return newReplicatedWith(tb, func(rep *backup.Replicator, eng *backup.Engine) {
		rep.CheckpointPages, rep.Now, eng.Now = 40, clock.Now, clock.Now
		rep.Logger = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
}

// sample is a moment and the messages a restore to it must show.
type sample struct {
	at     time.Time
	bodies []string
}

// postSpread posts n messages step apart on the clock, shipping each, and
// returns samples of the restorable state every sampleEvery messages and
// after the last.
func postSpread(t *testing.T, r *replicated, clock *fakeClock, n, sampleEvery int, step time.Duration) []sample {
	t.Helper()
	var bodies []string
	var samples []sample
	for i := range n {
		clock.Advance(step)
		m := r.post(t, fmt.Sprintf("message %d", i))
		bodies = append(bodies, m.Body)
		if _, err := r.rep.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if i%sampleEvery == sampleEvery-1 || i == n-1 {
			// A moment after this message was shipped, before the next.
			samples = append(samples, sample{at: clock.Now().Add(step / 2), bodies: slices.Clone(bodies)})
		}
	}
	return samples
}

func TestCompactReplicatedRestoresSame(t *testing.T) {
	// On an hour boundary (ahead of the wall clock, which stamps the
	// base): two whole hours, then half an hour still open, whatever the
	// time the test runs.
	clock := newFakeClock(time.Now().Truncate(time.Hour).Add(time.Hour))
	r := newReplicatedAt(t, clock)
	// 600 messages 15 s apart: 2.5 hours, 4 segments a minute.
	samples := postSpread(t, r, clock, 600, 97, 15*time.Second)
	latest := samples[len(samples)-1].bodies
	_, before, err := r.restoreTo(t, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	st := backup.DirStore(r.dir)
	c := &backup.Compactor{Store: st, Now: clock.Now}
	n, err := c.Compact(ctx, before.Chain)
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("compaction wrote %d segments, want one per closed minute and hour", n)
	}
	if again, err := c.Compact(ctx, before.Chain); again != 0 || err != nil {
		t.Fatalf("second compaction wrote %d (%v), want nothing", again, err)
	}
	out, after, err := r.restoreTo(t, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("latest: %d segments before compaction, %d after (%d written)", len(before.Segments), len(after.Segments), n)
	if after.Seq != before.Seq || len(after.Segments) > len(before.Segments)/10 {
		t.Fatalf("after compaction the plan reaches %d with %d segments; before %d with %d", after.Seq, len(after.Segments), before.Seq, len(before.Segments))
	}
	if got := bodies(t, out); !slices.Equal(got, latest) {
		t.Fatalf("latest restore after compaction: %d messages, want %d", len(got), len(latest))
	}
	for _, s := range samples {
		out, plan, err := r.restoreTo(t, s.at)
		if err != nil {
			t.Fatalf("restore to %s: %v", s.at, err)
		}
		if got := bodies(t, out); !slices.Equal(got, s.bodies) {
			t.Fatalf("restore to %s (%d segments): %d messages, want %d", s.at, len(plan.Segments), len(got), len(s.bodies))
		}
	}
}

func TestCompactCorruptSegmentFailsRestore(t *testing.T) {
	clock := newFakeClock(time.Now().Truncate(time.Hour).Add(time.Hour)) // windows independent of the time of day
	r := newReplicatedAt(t, clock)
	postSpread(t, r, clock, 60, 1000, 10*time.Second)
	entries, err := backup.List(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	st := backup.DirStore(r.dir)
	plan, err := backup.PlanPointInTime(ctx, st, entries, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&backup.Compactor{Store: st, Now: clock.Now}).Compact(ctx, plan.Chain); err != nil {
		t.Fatal(err)
	}
	plan, err = backup.PlanPointInTime(ctx, st, entries, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	for _, ref := range plan.Segments {
		if ref.Level == 1 {
			victim = ref.Key
			break
		}
	}
	if victim == "" {
		t.Fatal("the plan uses no level-1 segment")
	}
	path := filepath.Join(r.dir, filepath.FromSlash(victim))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.restoreTo(t, time.Time{}); !errors.Is(err, backup.ErrSegmentMissing) {
		t.Fatalf("restore over a damaged level-1 segment = %v, want ErrSegmentMissing", err)
	}
}
