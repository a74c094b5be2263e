package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"net/http"

	"github.com/coder/websocket"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/live"
)

// Limits of the WebSocket endpoint (docs/live-protocol.md); the ping
// interval and pong timeout are Server fields.
const (
	wsReadLimit    = 4 << 10 // client frames are small JSON objects
	wsWriteTimeout = 10 * time.Second
	wsQueryTimeout = 10 * time.Second // a subscribe's membership check, a read
)

// Close codes besides the standard ones: 4001 tells the page that its
// session ended, so it signs in again instead of reconnecting.
const statusSignedOut websocket.StatusCode = 4001

// clientFrame is every frame a client sends.
type clientFrame struct {
	Type   string `json:"type"`
	RoomID int64  `json:"room_id"`
	Action string `json:"action"`
}

type errorEvent struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	RoomID  int64  `json:"room_id,omitempty"`
}

// handleSocket upgrades a signed-in user's request to a WebSocket: the
// session cookie or a bearer token, else 401 and no upgrade. Accept checks
// that a browser's Origin is this host.
func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) error {
	ctx, err := s.authenticate(r)
	if err != nil {
		return err
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept has answered (403 for a foreign Origin)
	}
	ws.SetReadLimit(wsReadLimit)
	sc := &socket{
		srv:     s,
		ws:      ws,
		me:      currentUser(ctx),
		session: sessionHash(ctx),
		closeCh: make(chan closeReason, 1),
	}
	if !s.sockets.add(sc) {
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return nil
	}
	defer s.sockets.remove(sc)
	sc.run(ctx)
	return nil
}

// socket is one WebSocket connection: a reader goroutine handles client
// frames, and the handler's goroutine writes hub frames and pings.
type socket struct {
	srv     *Server
	ws      *websocket.Conn
	conn    *live.Conn
	me      *chat.User
	session string           // token hash of the session that opened it
	closeCh chan closeReason // asks the writer to close, once
}

// closeReason is why the server closes a connection.
type closeReason struct {
	code   websocket.StatusCode
	reason string
}

// run serves the connection until either side ends it. It returns after
// the reader goroutine has exited and the hub forgot the connection.
func (sc *socket) run(ctx context.Context) {
	s := sc.srv
	sc.conn = s.Hub.Connect(sc.me.ID)
	defer func() {
		rooms := sc.conn.Rooms()
		sc.conn.Close()
		for _, id := range rooms {
			s.publishPresence(id)
		}
	}()

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc.readLoop(ctx)
	}()
	defer func() { <-readDone }()

	interval, timeout := s.PingInterval, s.PongTimeout
	if interval <= 0 {
		interval = 30 * time.Second
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ping := time.NewTicker(interval)
	defer ping.Stop()
	for {
		select {
		case f := <-sc.conn.Frames():
			if sc.ownTyping(f) {
				continue
			}
			if err := sc.write(f); err != nil {
				_ = sc.ws.CloseNow()
				return
			}
		case <-sc.conn.Done():
			if errors.Is(sc.conn.Err(), live.ErrSlow) {
				_ = sc.ws.Close(websocket.StatusPolicyViolation, "too slow")
			} else {
				_ = sc.ws.CloseNow()
			}
			return
		case cr := <-sc.closeCh:
			_ = sc.ws.Close(cr.code, cr.reason)
			return
		case <-ping.C:
			pctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := sc.ws.Ping(pctx)
			cancel()
			if err != nil {
				_ = sc.ws.CloseNow()
				return
			}
		case <-readDone:
			// The client closed, went away or broke the protocol (a frame
			// over the read limit closes with 1009 by itself).
			_ = sc.ws.CloseNow()
			return
		}
	}
}

// typingPrefix starts every typing frame (events.go encodes the struct
// with type first).
var typingPrefix = []byte(`{"type":"typing",`)

// ownTyping reports whether frame is the user's own typing event, which
// goes to the room's other subscribers only. The hub sends a room's frames
// to all its subscribers; only typing frames are decoded to check.
func (sc *socket) ownTyping(frame []byte) bool {
	if !bytes.HasPrefix(frame, typingPrefix) {
		return false
	}
	var e typingEvent
	return json.Unmarshal(frame, &e) == nil && e.User.ID == sc.me.ID
}

// write sends one text frame with a deadline. Writes are safe from both
// goroutines.
func (sc *socket) write(frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
	defer cancel()
	return sc.ws.Write(ctx, websocket.MessageText, frame)
}

// reply encodes and sends a frame meant for this connection only.
func (sc *socket) reply(v any) {
	if f, ok := sc.srv.frame(v); ok {
		_ = sc.write(f)
	}
}

func (sc *socket) replyError(err error, roomID int64) {
	code := chat.ErrorCode(err)
	if code == chat.EINTERNAL {
		sc.srv.Logger.Error("websocket request failed", "user_id", sc.me.ID, "room_id", roomID, "err", err)
	}
	sc.reply(errorEvent{Type: "error", Code: code, Message: chat.ErrorMessage(err), RoomID: roomID})
}

// readLoop handles client frames until the connection fails or closes.
// Its Read context is never cancelled: cancelling it would tear the
// connection down without a close handshake.
func (sc *socket) readLoop(ctx context.Context) {
	for {
		typ, data, err := sc.ws.Read(context.Background())
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			sc.replyError(chat.Errorf(chat.EINVALID, "Send JSON text frames."), 0)
			continue
		}
		var f clientFrame
		if err := json.Unmarshal(data, &f); err != nil {
			sc.replyError(chat.Errorf(chat.EINVALID, "Frame is not a JSON object: %v", err), 0)
			continue
		}
		sc.handle(ctx, f)
	}
}

// handle acts on one client frame.
func (sc *socket) handle(ctx context.Context, f clientFrame) {
	s := sc.srv
	ctx, cancel := context.WithTimeout(ctx, wsQueryTimeout)
	defer cancel()
	switch f.Type {
	case "ping":
		sc.reply(struct {
			Type string `json:"type"`
		}{"pong"})
	case "subscribe":
		if err := sc.subscribe(ctx, f.RoomID); err != nil {
			sc.replyError(err, f.RoomID)
			return
		}
		sc.reply(roomIDEvent{Type: "subscribed", RoomID: f.RoomID})
		s.publishPresence(f.RoomID)
	case "unsubscribe":
		if sc.joined(f.RoomID) {
			sc.conn.Leave(f.RoomID)
			s.publishPresence(f.RoomID)
		}
	case "typing":
		if f.Action != "start" && f.Action != "stop" {
			sc.replyError(chat.Errorf(chat.EINVALID, "Typing action must be \"start\" or \"stop\"."), f.RoomID)
			return
		}
		if !sc.joined(f.RoomID) {
			sc.replyError(chat.Errorf(chat.ENOTFOUND, "Subscribe to the room first."), f.RoomID)
			return
		}
		s.publishTyping(f.RoomID, sc.me, f.Action)
	case "read":
		if err := s.markRead(ctx, sc.me, f.RoomID); err != nil {
			sc.replyError(err, f.RoomID)
		}
	default:
		sc.replyError(chat.Errorf(chat.EINVALID, "Unknown frame type %q.", f.Type), f.RoomID)
	}
}

// subscribe joins a room after checking, now, that the user is a member.
// It checks again after joining: a removal that committed between the
// first check and the join found nothing to evict, and is caught here.
func (sc *socket) subscribe(ctx context.Context, roomID int64) error {
	if _, err := sc.srv.DB.FindRoom(ctx, sc.me.ID, roomID); err != nil {
		return err
	}
	sc.conn.Join(roomID)
	if _, err := sc.srv.DB.FindRoom(ctx, sc.me.ID, roomID); err != nil {
		sc.conn.Leave(roomID)
		return err
	}
	return nil
}

func (sc *socket) joined(roomID int64) bool {
	return slices.Contains(sc.conn.Rooms(), roomID)
}

// askClose asks the connection to close; the first reason wins.
func (sc *socket) askClose(cr closeReason) {
	select {
	case sc.closeCh <- cr:
	default:
	}
}

// sockets tracks open connections by user, so that signing out, a new
// password or deactivation closes them at once, and shutdown closes all.
type sockets struct {
	mu      sync.Mutex
	byUser  map[int64]map[*socket]struct{}
	closing bool
	wg      sync.WaitGroup
}

// add registers sc; false once the server is shutting down.
func (ss *sockets) add(sc *socket) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closing {
		return false
	}
	if ss.byUser == nil {
		ss.byUser = map[int64]map[*socket]struct{}{}
	}
	if ss.byUser[sc.me.ID] == nil {
		ss.byUser[sc.me.ID] = map[*socket]struct{}{}
	}
	ss.byUser[sc.me.ID][sc] = struct{}{}
	ss.wg.Add(1)
	return true
}

func (ss *sockets) remove(sc *socket) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byUser[sc.me.ID], sc)
	if len(ss.byUser[sc.me.ID]) == 0 {
		delete(ss.byUser, sc.me.ID)
	}
	ss.wg.Done()
}

var signedOut = closeReason{statusSignedOut, "signed out"}

// closeSession closes the connections opened with one session.
func (ss *sockets) closeSession(hash string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, byConn := range ss.byUser {
		for sc := range byConn {
			if sc.session == hash {
				sc.askClose(signedOut)
			}
		}
	}
}

// closeUser closes a user's connections except those of session keep.
func (ss *sockets) closeUser(userID int64, keep string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for sc := range ss.byUser[userID] {
		if keep == "" || sc.session != keep {
			sc.askClose(signedOut)
		}
	}
}

// closeAll closes every connection, refuses new ones, and waits for their
// handlers to finish or ctx to end.
func (ss *sockets) closeAll(ctx context.Context) error {
	ss.mu.Lock()
	ss.closing = true
	for _, byConn := range ss.byUser {
		for sc := range byConn {
			sc.askClose(closeReason{websocket.StatusGoingAway, "server shutting down"})
		}
	}
	ss.mu.Unlock()
	done := make(chan struct{})
	go func() {
		ss.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
