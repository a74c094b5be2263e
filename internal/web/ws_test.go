package web_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/web"
)

func TestWebSocketAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()

	// No credentials, a bad token: 401, no upgrade.
	for _, c := range []*client{e.anon(), {e: e, hc: e.ts.Client(), token: "not-a-token"}} {
		ws, resp, err := c.dialWith(nil)
		if err == nil {
			ws.CloseNow()
			t.Fatalf("dial without a session succeeded")
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("dial without a session: %v, want a JSON 401", resp)
		}
	}

	// A bearer token works (scripts, load tools), and ping gets pong.
	w := admin.dial()
	w.send(map[string]string{"type": "ping"})
	w.expect("pong")

	// The session cookie works for a page of this site, not for another
	// site's page, which the browser would name in Origin.
	b := e.browserAs(admin)
	ws, resp, err := b.dialWith(http.Header{"Origin": {"https://evil.example"}})
	if err == nil {
		ws.CloseNow()
		t.Fatalf("cross-origin dial succeeded")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin dial: %v, want 403", resp)
	}
	ws, _, err = b.dialWith(http.Header{"Origin": {e.url}})
	if err != nil {
		t.Fatalf("same-origin dial with the cookie: %v", err)
	}
	ws.CloseNow()

	// Bad frames get error frames; the connection stays up.
	w.send("not an object")
	if f := w.expect("error"); f.Code != chat.EINVALID {
		t.Errorf("error frame = %s", f.Raw)
	}
	w.send(map[string]string{"type": "dance"})
	if f := w.expect("error"); f.Code != chat.EINVALID {
		t.Errorf("error frame = %s", f.Raw)
	}
	// A frame over the 4 KiB read limit closes the connection (1009).
	w.send(map[string]string{"type": "ping", "pad": strings.Repeat("x", 5000)})
	if code := w.closed(); code != websocket.StatusMessageTooBig {
		t.Errorf("close status %d, want %d", code, websocket.StatusMessageTooBig)
	}
}

// TestWebSocketSubscribe checks membership on every subscribe.
func TestWebSocketSubscribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	open := admin.roomNamed(chat.FirstRoomName)
	secret := admin.createRoom("Secret", chat.RoomClosed)

	w := bob.dial()
	for _, id := range []int64{secret.ID, 999999} {
		w.send(map[string]any{"type": "subscribe", "room_id": id})
		f := w.expect("error")
		if f.Code != chat.ENOTFOUND || f.RoomID != id {
			t.Errorf("subscribe to %d: %s, want not_found", id, f.Raw)
		}
	}
	// Typing needs a subscription.
	w.send(map[string]any{"type": "typing", "room_id": open.ID, "action": "start"})
	if f := w.expect("error"); f.Code != chat.ENOTFOUND {
		t.Errorf("typing unsubscribed: %s", f.Raw)
	}
	w.subscribe(open.ID)
	// Nothing of the secret room reaches bob.
	admin.post(secret.ID, "not for bob")
	admin.post(open.ID, "for everyone")
	for _, f := range w.sync(open.ID) {
		if f.Type == "message_created" && f.Message.Body == "not for bob" {
			t.Errorf("bob received %s", f.Raw)
		}
	}

	// Presence lists the users with a subscribed connection.
	a := admin.dial()
	a.send(map[string]any{"type": "subscribe", "room_id": open.ID})
	got := a.until("presence of both", func(f wsFrame) bool { return f.Type == "presence" && len(f.UserIDs) == 2 })
	if p := got[len(got)-1]; p.RoomID != open.ID || p.UserIDs[0] != admin.user.ID || p.UserIDs[1] != bob.user.ID {
		t.Errorf("presence = %s", p.Raw)
	}
	w.send(map[string]any{"type": "unsubscribe", "room_id": open.ID})
	a.until("presence of one", func(f wsFrame) bool { return f.Type == "presence" && len(f.UserIDs) == 1 })

	// Typing goes to the room's subscribers.
	w.subscribe(open.ID)
	w.send(map[string]any{"type": "typing", "room_id": open.ID, "action": "start"})
	typing := a.until("typing", func(f wsFrame) bool { return f.Type == "typing" })
	f := typing[len(typing)-1]
	if f.Action != "start" || f.RoomID != open.ID || !bytes.Contains(f.User, []byte(`"name":"Bob"`)) || bytes.Contains(f.Raw, []byte("@")) {
		t.Errorf("typing = %s", f.Raw)
	}
	// The typist's own connections do not hear it.
	w.send(map[string]any{"type": "read", "room_id": open.ID})
	for _, f := range w.until("read", func(f wsFrame) bool { return f.Type == "read" }) {
		if f.Type == "typing" {
			t.Errorf("the typist got %s", f.Raw)
		}
	}
	w.send(map[string]any{"type": "typing", "room_id": open.ID, "action": "dance"})
	if f := w.expect("error"); f.Code != chat.EINVALID {
		t.Errorf("bad typing action: %s", f.Raw)
	}
}

// TestWebSocketMessageEvents: two users in a room; every change of a
// message reaches every subscriber exactly once, with the same bytes.
func TestWebSocketMessageEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob <b>")
	carol := e.join(admin, "Carol")
	room := admin.roomNamed(chat.FirstRoomName)

	a, c := admin.dial(), carol.dial()
	a.subscribe(room.ID)
	c.subscribe(room.ID)

	// Bob posts through the API.
	var posted chat.Message
	bob.call(http.StatusCreated, "POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID),
		map[string]string{"body": "hello **all** @Carol", "client_id": "bob-1"}, &posted)
	fa, fc := created(t, a.sync(room.ID)), created(t, c.sync(room.ID))
	if !bytes.Equal(fa.Raw, fc.Raw) {
		t.Errorf("subscribers got different frames:\n%s\n%s", fa.Raw, fc.Raw)
	}
	m := fa.Message
	if m == nil || m.ID != posted.ID || m.Body != "hello **all** @Carol" || m.ClientID != "bob-1" || fa.RoomID != room.ID ||
		m.Creator == nil || m.Creator.Name != "Bob <b>" || len(m.MentionIDs) != 1 {
		t.Errorf("message = %+v", m)
	}
	if bytes.Contains(fa.Raw, []byte("@example.com")) {
		t.Errorf("event shows an email address: %s", fa.Raw)
	}
	for _, want := range []string{
		fmt.Sprintf(`id="message_%d"`, posted.ID), `data-client-id="bob-1"`, fmt.Sprintf(`data-creator-id="%d"`, bob.user.ID),
		fmt.Sprintf(`data-mention-ids="%d"`, carol.user.ID), "<strong>all</strong>", "Bob &lt;b&gt;", "<time datetime=",
	} {
		if !strings.Contains(fa.HTML, want) {
			t.Errorf("html lacks %q: %s", want, fa.HTML)
		}
	}
	// The fragment is the one the messages API renders with ?html=1, and
	// the one the page shows.
	var page struct {
		Messages []*chat.Message `json:"messages"`
		HTML     string          `json:"html"`
	}
	admin.call(http.StatusOK, "GET", fmt.Sprintf("/api/rooms/%d/messages?html=1&after=%d", room.ID, posted.ID-1), nil, &page)
	if len(page.Messages) != 1 || page.HTML != fa.HTML {
		t.Errorf("?html=1 gives %q, the event %q", page.HTML, fa.HTML)
	}
	if r := e.browserAs(carol).page(http.StatusOK, roomPath(room.ID)); !strings.Contains(string(r.Body), fa.HTML) {
		t.Errorf("the page does not contain the event's fragment")
	}
	// A retry with the same client_id is the same message: no event.
	bob.call(http.StatusOK, "POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID),
		map[string]string{"body": "hello **all** @Carol", "client_id": "bob-1"}, nil)
	if fs := a.sync(room.ID); len(fs) != 0 {
		t.Errorf("a retried post published %s", frameTypes(fs))
	}

	// Every other change reaches both subscribers once, in the same bytes.
	step := func(typ string) wsFrame {
		t.Helper()
		fa, fc := only(t, a.sync(room.ID), typ), only(t, c.sync(room.ID), typ)
		if !bytes.Equal(fa.Raw, fc.Raw) {
			t.Errorf("%s: subscribers got different frames:\n%s\n%s", typ, fa.Raw, fc.Raw)
		}
		return fa
	}
	// Edit.
	bob.call(http.StatusOK, "PATCH", "/api/messages/"+itoa(posted.ID), map[string]string{"body": "hello *everyone*"}, nil)
	f := step("message_updated")
	if f.Message.Body != "hello *everyone*" || !strings.Contains(f.HTML, "<em>everyone</em>") || !strings.Contains(f.HTML, `id="message_`+itoa(posted.ID)+`"`) {
		t.Errorf("message_updated = %s", f.Raw)
	}
	// Boost and unboost.
	var boost chat.Boost
	carol.call(http.StatusCreated, "POST", "/api/messages/"+itoa(posted.ID)+"/boosts", map[string]string{"content": "🎉 <yay>"}, &boost)
	f = step("boost_added")
	if f.MessageID != posted.ID || f.Boost == nil || f.Boost.ID != boost.ID ||
		!strings.Contains(f.HTML, `id="boost_`+itoa(boost.ID)+`"`) || !strings.Contains(f.HTML, "🎉 &lt;yay&gt;") || !strings.Contains(f.HTML, `title="Carol"`) {
		t.Errorf("boost_added = %s", f.Raw)
	}
	// The edited message's fragment now carries the boost.
	bob.call(http.StatusOK, "PATCH", "/api/messages/"+itoa(posted.ID), map[string]string{"body": "hello again"}, nil)
	if f := step("message_updated"); !strings.Contains(f.HTML, `id="boost_`+itoa(boost.ID)+`"`) {
		t.Errorf("updated fragment lacks the boost: %s", f.HTML)
	}
	carol.call(http.StatusNoContent, "DELETE", "/api/boosts/"+itoa(boost.ID), nil, nil)
	if f := step("boost_removed"); f.BoostID != boost.ID || f.MessageID != posted.ID {
		t.Errorf("boost_removed = %s", f.Raw)
	}
	// Delete.
	admin.call(http.StatusNoContent, "DELETE", "/api/messages/"+itoa(posted.ID), nil, nil)
	if f := step("message_deleted"); f.MessageID != posted.ID || f.ClientID != "bob-1" {
		t.Errorf("message_deleted = %s", f.Raw)
	}

	// Posting through the page's form publishes the same way.
	e.browserAs(bob).form(http.StatusSeeOther, roomPath(room.ID)+"/messages", url.Values{"body": {"from a form"}})
	if f := created(t, a.sync(room.ID)); f.Message.Body != "from a form" {
		t.Errorf("form post = %s", f.Raw)
	}
}

// created returns the one message_created frame of fs.
func created(t *testing.T, fs []wsFrame) wsFrame {
	t.Helper()
	return only(t, fs, "message_created")
}

// only checks that fs holds exactly one frame, of type typ, and returns it
// (unread and read are personal extras and are skipped).
func only(t *testing.T, fs []wsFrame, typ string) wsFrame {
	t.Helper()
	var out []wsFrame
	for _, f := range fs {
		if f.Type != "unread" && f.Type != "read" {
			out = append(out, f)
		}
	}
	if len(out) != 1 || out[0].Type != typ {
		t.Fatalf("got %s, want exactly one %s", frameTypes(out), typ)
	}
	return out[0]
}

// TestWebSocketUnread: each member but the author hears that a room has
// something new, without subscribing to it; reading clears it everywhere.
func TestWebSocketUnread(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	room := admin.roomNamed(chat.FirstRoomName)
	closed := admin.createRoom("Pair", chat.RoomClosed, bob.user.ID)

	a, a2, b, c := admin.dial(), admin.dial(), bob.dial(), carol.dial()
	m := bob.post(closed.ID, "psst")
	var unread []wsFrame
	for _, f := range a.sync(room.ID) {
		if f.Type == "unread" {
			unread = append(unread, f)
		}
	}
	if len(unread) != 1 || unread[0].RoomID != closed.ID || unread[0].MessageID != m.ID {
		t.Errorf("admin's unread events = %s", frameTypes(unread))
	}
	// The author gets none, nor does someone outside the room.
	for _, w := range []*wsClient{b, c} {
		for _, f := range w.sync(room.ID) {
			if f.Type == "unread" {
				t.Errorf("%s got %s", w.name, f.Raw)
			}
		}
	}
	// The admin reads the room over one connection: the other hears it,
	// and the marker is gone.
	a.send(map[string]any{"type": "read", "room_id": closed.ID})
	a2.until("read", func(f wsFrame) bool { return f.Type == "read" && f.RoomID == closed.ID })
	if mem := admin.roomNamed("Pair").Membership; mem.Unread() {
		t.Errorf("still unread after read: %+v", mem)
	}
	// The API's read does the same.
	bob.post(closed.ID, "psst again")
	admin.call(http.StatusNoContent, "POST", "/api/rooms/"+itoa(closed.ID)+"/read", nil, nil)
	a2.until("read", func(f wsFrame) bool { return f.Type == "read" && f.RoomID == closed.ID })
	// Reading a room one is not in is an error.
	c.send(map[string]any{"type": "read", "room_id": closed.ID})
	if f := c.expect("error"); f.Code != chat.ENOTFOUND {
		t.Errorf("read of a foreign room: %s", f.Raw)
	}
}

// TestWebSocketRemovedMember: a user taken out of a closed room stops
// receiving it at once, and cannot subscribe again.
func TestWebSocketRemovedMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	lobby := admin.roomNamed(chat.FirstRoomName)
	room := admin.createRoom("Ops", chat.RoomClosed, bob.user.ID, carol.user.ID)

	b, c := bob.dial(), carol.dial()
	b.subscribe(room.ID)
	c.subscribe(room.ID)
	admin.call(http.StatusOK, "PATCH", "/api/rooms/"+itoa(room.ID), map[string]any{"user_ids": []int64{carol.user.ID}}, nil)
	admin.post(room.ID, "after bob left")

	var removed bool
	for _, f := range b.sync(lobby.ID) {
		switch {
		case f.Type == "membership_removed" && f.RoomID == room.ID:
			removed = true
		case f.Type == "message_created", f.Type == "room_updated":
			t.Errorf("bob, removed, got %s", f.Raw)
		}
	}
	if !removed {
		t.Errorf("bob got no membership_removed")
	}
	// Carol stays, and hears of the change and the message.
	var types []string
	for _, f := range c.sync(lobby.ID) {
		types = append(types, f.Type)
	}
	if strings.Join(types, ",") != "room_updated,message_created,unread" && strings.Join(types, ",") != "room_updated,unread,message_created" {
		t.Errorf("carol got %v", types)
	}
	b.send(map[string]any{"type": "subscribe", "room_id": room.ID})
	if f := b.expect("error"); f.Code != chat.ENOTFOUND {
		t.Errorf("re-subscribe after removal: %s", f.Raw)
	}

	// The same through the settings page's form.
	cb := e.browserAs(admin)
	cb.form(http.StatusSeeOther, roomPath(room.ID)+"/settings", url.Values{"action": {"update"}, "members": {"1"}, "name": {"Ops"}, "type": {"closed"}})
	if f := only(t, c.sync(lobby.ID), "membership_removed"); f.RoomID != room.ID {
		t.Errorf("carol: %s", f.Raw)
	}
}

// TestWebSocketRoomEvents: the room list changes reach the right people.
func TestWebSocketRoomEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	lobby := admin.roomNamed(chat.FirstRoomName)
	b, c := bob.dial(), carol.dial()

	// An open room: everyone, without subscribing to anything.
	open := admin.createRoom("Open", chat.RoomOpen)
	for _, w := range []*wsClient{b, c} {
		f := only(t, w.sync(lobby.ID), "room_created")
		if f.Room == nil || f.Room.ID != open.ID || f.Room.Name != "Open" || f.Room.Membership != nil {
			t.Errorf("%s: room_created = %s", w.name, f.Raw)
		}
	}
	// A closed room: its members only.
	closed := admin.createRoom("Closed", chat.RoomClosed, bob.user.ID)
	only(t, b.sync(lobby.ID), "room_created")
	if fs := c.sync(lobby.ID); len(fs) != 0 {
		t.Errorf("carol, not a member, got %s", frameTypes(fs))
	}
	// Renamed, then deleted.
	admin.call(http.StatusOK, "PATCH", "/api/rooms/"+itoa(closed.ID), map[string]any{"name": "Renamed"}, nil)
	if f := only(t, b.sync(lobby.ID), "room_updated"); f.Room.Name != "Renamed" {
		t.Errorf("room_updated = %s", f.Raw)
	}
	b.subscribe(closed.ID)
	admin.call(http.StatusNoContent, "DELETE", "/api/rooms/"+itoa(closed.ID), nil, nil)
	if f := only(t, b.sync(lobby.ID), "room_deleted"); f.RoomID != closed.ID {
		t.Errorf("room_deleted = %s", f.Raw)
	}
	if fs := c.sync(lobby.ID); len(fs) != 0 {
		t.Errorf("carol got %s", frameTypes(fs))
	}
	// A direct room: its two people.
	bob.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{carol.user.ID}}, nil)
	only(t, c.sync(lobby.ID), "room_created")
	bob.call(http.StatusOK, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{carol.user.ID}}, nil)
	if fs := c.sync(lobby.ID); len(fs) != 0 {
		t.Errorf("finding the direct room again published %s", frameTypes(fs))
	}
}

// TestWebSocketNoEventForFailedWrite: a change that the server refuses, or
// that rolls back, publishes nothing.
func TestWebSocketNoEventForFailedWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	room := admin.roomNamed(chat.FirstRoomName)
	secret := admin.createRoom("Secret", chat.RoomClosed)
	mine := admin.post(room.ID, "the admin's")
	a := admin.dial()
	a.subscribe(room.ID)
	a.subscribe(secret.ID)
	path := fmt.Sprintf("/api/rooms/%d/messages", room.ID)

	bob.call(http.StatusBadRequest, "POST", path, map[string]string{"body": "   "}, nil)
	bob.call(http.StatusBadRequest, "POST", path, `{"body":`, nil)
	bob.call(http.StatusBadRequest, "POST", path, map[string]string{"body": "x", "client_id": "bad id!"}, nil)
	bob.call(http.StatusNotFound, "POST", fmt.Sprintf("/api/rooms/%d/messages", secret.ID), map[string]string{"body": "let me in"}, nil)
	bob.call(http.StatusForbidden, "PATCH", "/api/messages/"+itoa(mine.ID), map[string]string{"body": "hijacked"}, nil)
	bob.call(http.StatusForbidden, "DELETE", "/api/messages/"+itoa(mine.ID), nil, nil)
	bob.call(http.StatusBadRequest, "POST", "/api/messages/"+itoa(mine.ID)+"/boosts", map[string]string{"content": strings.Repeat("x", 17)}, nil)
	bob.call(http.StatusForbidden, "PATCH", "/api/rooms/"+itoa(room.ID), map[string]string{"name": "Mine"}, nil)
	bob.call(http.StatusNotFound, "DELETE", "/api/rooms/"+itoa(secret.ID), nil, nil)
	bob.call(http.StatusBadRequest, "POST", "/api/rooms", map[string]string{"name": "", "type": "open"}, nil)
	bob.call(http.StatusBadRequest, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{999999}}, nil)
	// A client_id of another room makes the storage refuse the insert.
	bob.call(http.StatusCreated, "POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), map[string]string{"body": "first", "client_id": "dup"}, nil)
	a.sync(room.ID)
	other := admin.createRoom("Other", chat.RoomOpen)
	a.sync(room.ID)
	bob.call(http.StatusConflict, "POST", fmt.Sprintf("/api/rooms/%d/messages", other.ID), map[string]string{"body": "second", "client_id": "dup"}, nil)
	e.browserAs(bob).form(http.StatusBadRequest, roomPath(room.ID)+"/messages", url.Values{"body": {""}})

	if fs := a.sync(room.ID); len(fs) != 0 {
		t.Errorf("failed writes published %s", frameTypes(fs))
	}
}

// TestWebSocketCatchUp: a client offline for a while asks for the
// messages after the last one it has, and gets each exactly once.
func TestWebSocketCatchUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	room := admin.roomNamed(chat.FirstRoomName)

	a := admin.dial()
	a.subscribe(room.ID)
	bob.post(room.ID, "before")
	last := created(t, a.sync(room.ID)).Message.ID
	a.conn.Close(websocket.StatusNormalClosure, "going offline")
	a.closed()

	var missed []int64
	for i := range 45 {
		missed = append(missed, bob.post(room.ID, fmt.Sprintf("while away %d", i)).ID)
	}
	a = admin.dial()
	a.subscribe(room.ID)
	live := bob.post(room.ID, "after reconnecting")
	f := created(t, a.sync(room.ID))

	// The page's loop: ?after= until a short page.
	var got []int64
	after := last
	for {
		var page struct {
			Messages []*chat.Message `json:"messages"`
			HTML     string          `json:"html"`
		}
		admin.call(http.StatusOK, "GET", fmt.Sprintf("/api/rooms/%d/messages?html=1&limit=20&after=%d", room.ID, after), nil, &page)
		if n := strings.Count(page.HTML, "<article "); n != len(page.Messages) {
			t.Errorf("html has %d articles for %d messages", n, len(page.Messages))
		}
		for _, m := range page.Messages {
			got = append(got, m.ID)
			after = m.ID
		}
		if len(page.Messages) < 20 {
			break
		}
	}
	want := append(missed, live.ID)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("caught up %v, want %v", got, want)
	}
	// The live one came over the socket too; the page keys both by id.
	if f.Message.ID != live.ID {
		t.Errorf("live event for %d, want %d", f.Message.ID, live.ID)
	}
}

// TestWebSocketClosedWithSession: signing out, a new password and
// deactivation close the live connections of the sessions they end.
func TestWebSocketClosedWithSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	bob2 := bob.signIn()

	w1, w2 := bob.dial(), bob2.dial()
	bob.call(http.StatusNoContent, "DELETE", "/api/session", nil, nil)
	if code := w1.closed(); code != 4001 {
		t.Errorf("signed-out socket closed with %d, want 4001", code)
	}
	w2.send(map[string]string{"type": "ping"})
	w2.expect("pong")

	bob3 := bob2.signIn()
	w3 := bob3.dial()
	bob2.call(http.StatusOK, "PATCH", "/api/me", map[string]string{"password": "a brand new password"}, nil)
	if code := w3.closed(); code != 4001 {
		t.Errorf("other session's socket closed with %d, want 4001", code)
	}
	w2.send(map[string]string{"type": "ping"})
	w2.expect("pong")

	admin.call(http.StatusOK, "DELETE", "/api/users/"+itoa(bob.user.ID), nil, nil)
	if code := w2.closed(); code != 4001 {
		t.Errorf("deactivated user's socket closed with %d, want 4001", code)
	}
}

// TestWebSocketDropsDeadClients: a client that stops answering pings is
// disconnected and forgotten.
func TestWebSocketDropsDeadClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *web.Server) { s.PingInterval, s.PongTimeout = 50*time.Millisecond, 100*time.Millisecond })
	admin := e.firstRun()
	room := admin.roomNamed(chat.FirstRoomName)

	// A client that reads answers pings and stays.
	alive := admin.dial()
	alive.subscribe(room.ID)
	// One that never reads cannot answer them.
	ws, _, err := admin.dialWith(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Hub.Stats().Connections != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("hub still has %d connections", e.srv.Hub.Stats().Connections)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // several ping rounds
	alive.send(map[string]string{"type": "ping"})
	alive.expect("pong")
}

// TestWebSocketShutdown: closing the server closes live connections with
// "going away", so pages reconnect to the next server.
func TestWebSocketShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	srv := web.NewServer(e.db, renderer(), e.srv.Logger, testVersion)
	if err := srv.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c := &client{e: &env{t: t, url: srv.URL()}, hc: http.DefaultClient, token: admin.token, user: admin.user}
	w := c.dial()
	w.send(map[string]string{"type": "ping"})
	w.expect("pong")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if code := w.closed(); code != websocket.StatusGoingAway {
		t.Errorf("close status %d, want %d", code, websocket.StatusGoingAway)
	}
}

// TestWebSocketDropsSlowClients: a client that stops reading while events
// pile up is disconnected with 1008 "too slow" instead of holding the
// server back.
func TestWebSocketDropsSlowClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *web.Server) { s.Hub.BufferSize = 2 })
	admin := e.firstRun()
	room := admin.roomNamed(chat.FirstRoomName)

	ws, _, err := admin.dialWith(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	ctx := t.Context()
	if err := ws.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"type":"subscribe","room_id":%d}`, room.ID))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.srv.Hub.Present(room.ID)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Big frames fill the socket's buffers, then the connection's.
	frame := []byte(`{"type":"padding","pad":"` + strings.Repeat("x", 256<<10) + `"}`)
	for i := 0; e.srv.Hub.Stats().Dropped == 0; i++ {
		if i == 1000 {
			t.Fatal("the hub never dropped the client")
		}
		e.srv.Hub.PublishRoom(room.ID, frame)
		time.Sleep(time.Millisecond)
	}
	// The client reads again: what was queued, then the close.
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too slow" {
				t.Errorf("closed with %v, want 1008 too slow", err)
			}
			break
		}
	}
	// Another client is unaffected.
	w := admin.dial()
	w.send(map[string]string{"type": "ping"})
	w.expect("pong")
}
