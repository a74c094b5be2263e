package live_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/campfire-in-go/campfire/internal/live"
)

// drain returns the frames waiting in c's buffer, without blocking. Publish
// enqueues synchronously, so after it returns the frames are already there.
func drain(c *live.Conn) []string {
	var got []string
	for {
		select {
		case f := <-c.Frames():
			got = append(got, string(f))
		default:
			return got
		}
	}
}

func assertFrames(t *testing.T, name string, c *live.Conn, want ...string) {
	t.Helper()
	if got := drain(c); !slices.Equal(got, want) {
		t.Errorf("%s frames = %q, want %q", name, got, want)
	}
}

func isDone(c *live.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

func TestFanOut(t *testing.T) {
	h := live.NewHub()
	a1 := h.Connect(1) // user 1, room 10
	a2 := h.Connect(1) // user 1 again, room 20
	b := h.Connect(2)  // user 2, rooms 10 and 20
	c := h.Connect(3)  // user 3, no room
	a1.Join(10)
	a2.Join(20)
	b.Join(10)
	b.Join(20)

	h.PublishRoom(10, []byte("r10"))
	h.PublishRoom(20, []byte("r20"))
	h.PublishRoom(30, []byte("r30")) // nobody joined
	h.PublishUser(1, []byte("u1"))
	h.PublishUser(4, []byte("u4")) // nobody connected
	h.PublishAll([]byte("all"))

	assertFrames(t, "a1", a1, "r10", "u1", "all")
	assertFrames(t, "a2", a2, "r20", "u1", "all")
	assertFrames(t, "b", b, "r10", "r20", "all")
	assertFrames(t, "c", c, "all")

	if got, want := a1.UserID(), int64(1); got != want {
		t.Errorf("UserID() = %d, want %d", got, want)
	}
	if got, want := h.Stats(), (live.Stats{Connections: 4, Rooms: 2, Published: 6}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

// The hub hands every subscriber the publisher's slice: fan-out to a big
// room must not cost a copy per client.
func TestFramesShared(t *testing.T) {
	h := live.NewHub()
	conns := []*live.Conn{h.Connect(1), h.Connect(2), h.Connect(2)}
	for _, c := range conns {
		c.Join(7)
	}
	frame := []byte(`{"type":"message_created"}`)
	h.PublishRoom(7, frame)
	for i, c := range conns {
		got := <-c.Frames()
		if unsafe.SliceData(got) != unsafe.SliceData(frame) || len(got) != len(frame) {
			t.Errorf("conn %d got a copy of the frame, want the published slice", i)
		}
	}
}

func TestOrder(t *testing.T) {
	h := live.NewHub()
	c := h.Connect(1)
	c.Join(10)
	var want []string
	for i := range 200 {
		f := fmt.Sprint(i)
		switch i % 3 {
		case 0:
			h.PublishRoom(10, []byte(f))
		case 1:
			h.PublishUser(1, []byte(f))
		case 2:
			h.PublishAll([]byte(f))
		}
		want = append(want, f)
	}
	assertFrames(t, "c", c, want...)
}

// Concurrent publishers to one room: every subscriber sees the same order,
// so clients never disagree about which message came first.
func TestRoomOrderSameForAll(t *testing.T) {
	const publishers, each = 8, 100
	h := live.NewHub()
	h.BufferSize = publishers * each
	conns := []*live.Conn{h.Connect(1), h.Connect(2), h.Connect(3)}
	for _, c := range conns {
		c.Join(10)
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				h.PublishRoom(10, fmt.Appendf(nil, "%d-%d", p, i))
			}
		})
	}
	wg.Wait()
	first := drain(conns[0])
	if len(first) != publishers*each {
		t.Fatalf("got %d frames, want %d", len(first), publishers*each)
	}
	for i, c := range conns[1:] {
		if got := drain(c); !slices.Equal(got, first) {
			t.Errorf("conn %d saw a different order than conn 0", i+1)
		}
	}
}

func TestSlowDropped(t *testing.T) {
	const size = 16
	h := live.NewHub()
	h.BufferSize = size
	slow := h.Connect(1)
	fast := h.Connect(2)
	slow.Join(10)
	fast.Join(10)

	// The fast client reads every frame as it arrives; the slow one never
	// reads. The publisher must finish regardless, well within the deadline.
	finished := make(chan []string)
	go func() {
		var got []string
		for i := range 10 * size {
			h.PublishRoom(10, fmt.Append(nil, i))
			got = append(got, string(<-fast.Frames()))
		}
		finished <- got
	}()
	var got []string
	select {
	case got = <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher blocked on a slow subscriber")
	}

	var want []string
	for i := range 10 * size {
		want = append(want, fmt.Sprint(i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("fast subscriber got %q, want %q", got, want)
	}
	if isDone(fast) || fast.Err() != nil {
		t.Errorf("fast subscriber: done %v, Err() = %v; want open, nil", isDone(fast), fast.Err())
	}

	if !isDone(slow) {
		t.Fatal("slow subscriber not dropped")
	}
	if err := slow.Err(); !errors.Is(err, live.ErrSlow) {
		t.Errorf("slow Err() = %v, want ErrSlow", err)
	}
	// It keeps what was buffered before the drop, and nothing after.
	assertFrames(t, "slow", slow, want[:size]...)
	if got := slow.Rooms(); len(got) != 0 {
		t.Errorf("slow Rooms() = %v, want none", got)
	}
	if got := h.Present(10); !slices.Equal(got, []int64{2}) {
		t.Errorf("Present(10) = %v, want [2]", got)
	}
	if got, want := h.Stats(), (live.Stats{Connections: 1, Rooms: 1, Dropped: 1, Published: 10 * size}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}

	// Closing a dropped connection is fine and keeps its error.
	slow.Close()
	if err := slow.Err(); !errors.Is(err, live.ErrSlow) {
		t.Errorf("after Close, slow Err() = %v, want ErrSlow", err)
	}
	if got := h.Stats().Dropped; got != 1 {
		t.Errorf("Stats().Dropped = %d after Close, want 1", got)
	}
}

// Personal and global frames overflow a buffer too.
func TestSlowDroppedByUserAndAll(t *testing.T) {
	for name, publish := range map[string]func(*live.Hub){
		"PublishUser": func(h *live.Hub) { h.PublishUser(1, []byte("x")) },
		"PublishAll":  func(h *live.Hub) { h.PublishAll([]byte("x")) },
	} {
		t.Run(name, func(t *testing.T) {
			h := live.NewHub()
			h.BufferSize = 2
			c := h.Connect(1)
			c.Join(10)
			for range 3 {
				publish(h)
			}
			if !isDone(c) || !errors.Is(c.Err(), live.ErrSlow) {
				t.Fatalf("done %v, Err() = %v; want dropped with ErrSlow", isDone(c), c.Err())
			}
			if got, want := h.Stats(), (live.Stats{Dropped: 1, Published: 3}); got != want {
				t.Errorf("Stats() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestDefaultBufferSize(t *testing.T) {
	h := live.NewHub()
	if h.BufferSize != 256 {
		t.Errorf("NewHub().BufferSize = %d, want 256", h.BufferSize)
	}
	h.BufferSize = 0 // invalid: falls back to the default
	c := h.Connect(1)
	for range 256 {
		h.PublishUser(1, nil)
	}
	if isDone(c) {
		t.Fatal("dropped at 256 frames, want room for 256")
	}
	h.PublishUser(1, nil)
	if !isDone(c) {
		t.Fatal("not dropped at 257 frames")
	}
}

func TestEvict(t *testing.T) {
	h := live.NewHub()
	a1 := h.Connect(1)
	a2 := h.Connect(1)
	b := h.Connect(2)
	for _, c := range []*live.Conn{a1, a2, b} {
		c.Join(10)
	}
	a1.Join(20)
	h.PublishRoom(10, []byte("before"))

	h.Evict(10, 1)
	h.Evict(10, 1)  // again: no-op
	h.Evict(10, 99) // no connections: no-op
	h.PublishRoom(10, []byte("after"))
	h.PublishRoom(20, []byte("other room"))

	// Frames queued while still a member stay; nothing published later
	// arrives.
	assertFrames(t, "a1", a1, "before", "other room")
	assertFrames(t, "a2", a2, "before")
	assertFrames(t, "b", b, "before", "after")
	if got := a1.Rooms(); !slices.Equal(got, []int64{20}) {
		t.Errorf("a1.Rooms() = %v, want [20]", got)
	}
	if got := a2.Rooms(); len(got) != 0 {
		t.Errorf("a2.Rooms() = %v, want none", got)
	}
	if got := h.Present(10); !slices.Equal(got, []int64{2}) {
		t.Errorf("Present(10) = %v, want [2]", got)
	}
	// Evicted connections still get personal frames (membership_removed).
	h.PublishUser(1, []byte("membership_removed"))
	assertFrames(t, "a2", a2, "membership_removed")
	if isDone(a1) || isDone(a2) {
		t.Error("Evict closed a connection, want it open")
	}
}

func TestJoinLeaveIdempotent(t *testing.T) {
	h := live.NewHub()
	c := h.Connect(1)
	c.Join(10)
	c.Join(10)
	c.Join(5)
	if got := c.Rooms(); !slices.Equal(got, []int64{5, 10}) {
		t.Errorf("Rooms() = %v, want [5 10]", got)
	}
	h.PublishRoom(10, []byte("once"))
	assertFrames(t, "c", c, "once")

	c.Leave(10)
	c.Leave(10)
	c.Leave(99) // never joined
	h.PublishRoom(10, []byte("gone"))
	assertFrames(t, "c", c)
	if got := c.Rooms(); !slices.Equal(got, []int64{5}) {
		t.Errorf("Rooms() = %v, want [5]", got)
	}
	if got := h.Stats().Rooms; got != 1 {
		t.Errorf("Stats().Rooms = %d, want 1 (empty rooms are forgotten)", got)
	}
	c.Join(10) // rejoin works
	h.PublishRoom(10, []byte("back"))
	assertFrames(t, "c", c, "back")
}

func TestPresent(t *testing.T) {
	h := live.NewHub()
	if got := h.Present(10); len(got) != 0 {
		t.Errorf("Present(empty room) = %v, want none", got)
	}
	c5a := h.Connect(5)
	c5b := h.Connect(5)
	c3 := h.Connect(3)
	c9 := h.Connect(9) // connected, not joined
	_ = c9
	for _, c := range []*live.Conn{c5a, c5b, c3} {
		c.Join(10)
	}
	if got, want := h.Present(10), []int64{3, 5}; !slices.Equal(got, want) {
		t.Errorf("Present(10) = %v, want %v", got, want)
	}
	c5a.Close() // user 5 still has c5b
	if got, want := h.Present(10), []int64{3, 5}; !slices.Equal(got, want) {
		t.Errorf("after closing one of two: Present(10) = %v, want %v", got, want)
	}
	c5b.Leave(10)
	if got, want := h.Present(10), []int64{3}; !slices.Equal(got, want) {
		t.Errorf("after Leave: Present(10) = %v, want %v", got, want)
	}
}

func TestClose(t *testing.T) {
	h := live.NewHub()
	c := h.Connect(1)
	other := h.Connect(2)
	c.Join(10)
	c.Join(20)
	other.Join(20)

	c.Close()
	c.Close()
	if !isDone(c) {
		t.Fatal("Done not closed after Close")
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
	if got, want := h.Stats(), (live.Stats{Connections: 1, Rooms: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	h.PublishRoom(10, []byte("x"))
	h.PublishUser(1, []byte("x"))
	h.PublishAll([]byte("x"))
	assertFrames(t, "closed", c)
	assertFrames(t, "other", other, "x")

	c.Join(30) // a closed connection never reenters an index
	if got := c.Rooms(); len(got) != 0 {
		t.Errorf("Rooms() after Close = %v, want none", got)
	}
	if got := h.Stats().Rooms; got != 1 {
		t.Errorf("Stats().Rooms = %d after Join on a closed conn, want 1", got)
	}
	other.Close()
	if got, want := h.Stats(), (live.Stats{Published: 3}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

// Everything at once, for the race detector: publishers of all three
// kinds, clients joining, leaving, reading, closing and being evicted, and
// observers. Readers drain so most stay connected; some never read.
func TestConcurrent(t *testing.T) {
	h := live.NewHub()
	h.BufferSize = 8
	const rooms, users = 4, 6
	stop := make(chan struct{})
	var wg sync.WaitGroup

	for p := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f := fmt.Appendf(nil, "%d-%d", p, i)
				switch i % 3 {
				case 0:
					h.PublishRoom(int64(i%rooms), f)
				case 1:
					h.PublishUser(int64(i%users), f)
				case 2:
					h.PublishAll(f)
				}
			}
		})
	}
	for u := range users {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := h.Connect(int64(u))
				c.Join(int64(i % rooms))
				c.Join(int64((i + 1) % rooms))
				if u%2 == 0 { // readers
					for range 20 {
						select {
						case <-c.Frames():
						case <-c.Done():
						case <-stop: // publishers are gone; stop waiting
						}
					}
				}
				c.Leave(int64(i % rooms))
				_ = c.Rooms()
				c.Close()
				_ = c.Err()
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			h.Evict(int64(i%rooms), int64(i%users))
			_ = h.Present(int64(i % rooms))
			_ = h.Stats()
		}
	})

	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	st := h.Stats()
	if st.Connections != 0 || st.Rooms != 0 {
		t.Errorf("after every conn closed, Stats() = %+v, want no connections or rooms", st)
	}
	if st.Published == 0 {
		t.Error("nothing published")
	}
}

// 1000 connections in one room, each drained by its own goroutine, as the
// WebSocket writers would.
func BenchmarkPublishRoom1000(b *testing.B) {
	const n = 1000
	h := live.NewHub()
	h.BufferSize = 4096 // measure fan-out, not drops on a busy test machine
	var wg sync.WaitGroup
	conns := make([]*live.Conn, n)
	for i := range conns {
		c := h.Connect(int64(i))
		c.Join(1)
		conns[i] = c
		wg.Go(func() {
			for {
				select {
				case <-c.Frames():
				case <-c.Done():
					return
				}
			}
		})
	}
	frame := []byte(`{"type":"message_created","room_id":1,"message":{"id":1,"body":"hello"}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.PublishRoom(1, frame)
	}
	b.StopTimer()
	b.ReportMetric(float64(h.Stats().Dropped), "dropped")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/delivery")
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}
