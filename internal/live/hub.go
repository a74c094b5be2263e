// Package live fans pre-encoded event frames out to connected clients.
//
// The hub knows nothing about events, JSON or WebSockets: callers encode an
// event once and publish the bytes, and each connection's writer loop reads
// them from Conn.Frames. A publisher never waits for a subscriber. A
// connection whose buffer is full is dropped (Conn.Err reports ErrSlow), so
// one stalled client cannot slow the server or the other clients; it
// reconnects and catches up over HTTP.
package live

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultBufferSize is the frames a connection may fall behind before it is
// dropped: enough for a burst in a busy room, small enough that a dead
// client costs little memory.
const DefaultBufferSize = 256

// ErrSlow is Conn.Err after the hub dropped a connection whose buffer was
// full.
var ErrSlow = errors.New("live: subscriber too slow")

// Hub routes frames to connections by room, by user, or to everyone.
// Connections are indexed both ways so a publish costs only the number of
// its recipients. All methods are safe for concurrent use.
//
// Frames are shared, never copied: every recipient gets the same slice, so
// a caller must not modify a frame after publishing it.
type Hub struct {
	// BufferSize is the capacity of each connection's frame buffer. Set it
	// before the first Connect; values below 1 mean DefaultBufferSize.
	BufferSize int

	// mu guards the indexes and every Conn's rooms and removed fields.
	// Publishers hold it for reading, so they run in parallel; membership
	// changes hold it for writing, so once one returns no publish can
	// still be delivering under the old membership.
	mu    sync.RWMutex
	conns map[*Conn]struct{}
	users map[int64]map[*Conn]struct{}
	rooms map[int64]*room

	published atomic.Uint64
	dropped   atomic.Uint64
}

// room is one room's subscribers. sendMu serialises the publishes to one
// room, so all its subscribers see that room's frames in the same order even
// when handlers publish concurrently; publishes to different rooms still run
// in parallel.
type room struct {
	sendMu sync.Mutex
	conns  map[*Conn]struct{} // guarded by Hub.mu
}

// Stats is a snapshot of the hub, for metrics.
type Stats struct {
	Connections int    // open connections
	Rooms       int    // rooms with at least one joined connection
	Dropped     uint64 // connections dropped for a full buffer, since NewHub
	Published   uint64 // Publish calls, since NewHub
}

// NewHub returns an empty hub with default tunables.
func NewHub() *Hub {
	return &Hub{
		BufferSize: DefaultBufferSize,
		conns:      make(map[*Conn]struct{}),
		users:      make(map[int64]map[*Conn]struct{}),
		rooms:      make(map[int64]*room),
	}
}

// Connect registers a new connection of userID. It receives the user's
// personal frames and global frames at once, and a room's frames after Join.
// The caller must Close it when the client goes away.
func (h *Hub) Connect(userID int64) *Conn {
	n := h.BufferSize
	if n < 1 {
		n = DefaultBufferSize
	}
	c := &Conn{
		hub:    h,
		userID: userID,
		frames: make(chan []byte, n),
		done:   make(chan struct{}),
		rooms:  make(map[int64]struct{}),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[c] = struct{}{}
	byUser := h.users[userID]
	if byUser == nil {
		byUser = make(map[*Conn]struct{})
		h.users[userID] = byUser
	}
	byUser[c] = struct{}{}
	return c
}

// PublishRoom sends frame to every connection joined to roomID.
func (h *Hub) PublishRoom(roomID int64, frame []byte) {
	h.published.Add(1)
	var slow []*Conn
	h.mu.RLock()
	if r := h.rooms[roomID]; r != nil {
		r.sendMu.Lock()
		slow = sendAll(r.conns, frame, slow)
		r.sendMu.Unlock()
	}
	h.mu.RUnlock()
	h.drop(slow)
}

// PublishUser sends frame to every connection of userID, whatever rooms
// they joined: unread markers, read receipts, membership changes.
func (h *Hub) PublishUser(userID int64, frame []byte) {
	h.published.Add(1)
	h.mu.RLock()
	slow := sendAll(h.users[userID], frame, nil)
	h.mu.RUnlock()
	h.drop(slow)
}

// PublishAll sends frame to every connection, for room-list changes that
// every user sees.
func (h *Hub) PublishAll(frame []byte) {
	h.published.Add(1)
	h.mu.RLock()
	slow := sendAll(h.conns, frame, nil)
	h.mu.RUnlock()
	h.drop(slow)
}

// sendAll offers frame to each open connection without blocking and returns
// slow with the connections it marked as dropped appended. It runs under
// Hub.mu held for reading, which cannot be upgraded, so the caller removes
// the dropped ones from the indexes afterwards; until then they are skipped.
func sendAll(conns map[*Conn]struct{}, frame []byte, slow []*Conn) []*Conn {
	for c := range conns {
		if c.state.Load() != stateOpen {
			continue
		}
		select {
		case c.frames <- frame:
		default:
			if c.finish(stateSlow) {
				slow = append(slow, c)
			}
		}
	}
	return slow
}

// drop counts and unindexes connections that sendAll marked as slow.
func (h *Hub) drop(slow []*Conn) {
	if len(slow) == 0 {
		return
	}
	h.dropped.Add(uint64(len(slow)))
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range slow {
		h.removeLocked(c)
	}
}

// Evict makes userID's connections leave roomID, for a revoked membership.
// When Evict returns no later publish reaches them; frames already in their
// buffers were published while the user was a member and are still written.
func (h *Hub) Evict(roomID, userID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.users[userID] {
		h.leaveLocked(c, roomID)
	}
}

// Present returns the sorted distinct ids of users with an open connection
// joined to roomID, for the room's presence list.
func (h *Hub) Present(roomID int64) []int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.rooms[roomID]
	if r == nil {
		return nil
	}
	ids := make([]int64, 0, len(r.conns))
	for c := range r.conns {
		if c.state.Load() == stateOpen {
			ids = append(ids, c.userID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Stats returns a snapshot of the hub's size and counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return Stats{
		Connections: len(h.conns),
		Rooms:       len(h.rooms),
		Dropped:     h.dropped.Load(),
		Published:   h.published.Load(),
	}
}

// joinLocked adds c to roomID's index. h.mu must be held for writing.
func (h *Hub) joinLocked(c *Conn, roomID int64) {
	if c.removed || c.state.Load() != stateOpen {
		return // a closed or dropped connection must not reappear in an index
	}
	if _, ok := c.rooms[roomID]; ok {
		return
	}
	r := h.rooms[roomID]
	if r == nil {
		r = &room{conns: make(map[*Conn]struct{})}
		h.rooms[roomID] = r
	}
	r.conns[c] = struct{}{}
	c.rooms[roomID] = struct{}{}
}

// leaveLocked removes c from roomID's index, and the room itself once it
// is empty so Stats.Rooms counts only live rooms. h.mu must be held for
// writing.
func (h *Hub) leaveLocked(c *Conn, roomID int64) {
	if _, ok := c.rooms[roomID]; !ok {
		return
	}
	delete(c.rooms, roomID)
	if r := h.rooms[roomID]; r != nil {
		delete(r.conns, c)
		if len(r.conns) == 0 {
			delete(h.rooms, roomID)
		}
	}
}

// removeLocked takes c out of every index. h.mu must be held for writing.
func (h *Hub) removeLocked(c *Conn) {
	if c.removed {
		return
	}
	c.removed = true
	for roomID := range c.rooms {
		h.leaveLocked(c, roomID)
	}
	delete(h.conns, c)
	if byUser := h.users[c.userID]; byUser != nil {
		delete(byUser, c)
		if len(byUser) == 0 {
			delete(h.users, c.userID)
		}
	}
}

// Connection states. A connection leaves stateOpen exactly once.
const (
	stateOpen int32 = iota
	stateClosed
	stateSlow
)

// Conn is one client connection registered with a Hub. Its owner (the
// WebSocket handler) runs a writer loop that selects on Frames and Done.
type Conn struct {
	hub    *Hub
	userID int64
	frames chan []byte
	done   chan struct{}
	state  atomic.Int32

	rooms   map[int64]struct{} // guarded by hub.mu
	removed bool               // guarded by hub.mu
}

// UserID returns the user the connection belongs to.
func (c *Conn) UserID() int64 { return c.userID }

// Frames returns the frames to write, in publish order. The hub never
// closes it, because a publisher could still be sending; wait on Done too.
func (c *Conn) Frames() <-chan []byte { return c.frames }

// Done returns a channel closed when the connection is closed or dropped.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns ErrSlow once the hub has dropped the connection for a full
// buffer, and nil otherwise, including after Close.
func (c *Conn) Err() error {
	if c.state.Load() == stateSlow {
		return ErrSlow
	}
	return nil
}

// finish moves the connection out of stateOpen and closes Done. It reports
// whether this call did it, so a connection is closed and counted once.
func (c *Conn) finish(state int32) bool {
	if !c.state.CompareAndSwap(stateOpen, state) {
		return false
	}
	close(c.done)
	return true
}

// Join subscribes the connection to roomID. The caller has already checked
// that the user is a member. Joining twice is harmless, and joining after
// Close or a drop does nothing.
func (c *Conn) Join(roomID int64) {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	c.hub.joinLocked(c, roomID)
}

// Leave unsubscribes the connection from roomID; it is a no-op if not
// joined.
func (c *Conn) Leave(roomID int64) {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	c.hub.leaveLocked(c, roomID)
}

// Rooms returns the sorted ids of the rooms the connection has joined.
func (c *Conn) Rooms() []int64 {
	c.hub.mu.RLock()
	defer c.hub.mu.RUnlock()
	ids := make([]int64, 0, len(c.rooms))
	for id := range c.rooms {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Close closes Done and removes the connection from the hub. It is
// idempotent, and safe after the hub dropped the connection.
func (c *Conn) Close() {
	c.finish(stateClosed)
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	c.hub.removeLocked(c)
}
