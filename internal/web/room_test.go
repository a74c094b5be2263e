package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/campfire-in-go/campfire/internal/chat"
)

func roomIDs(rooms []*chat.Room) map[int64]*chat.Room {
	m := map[int64]*chat.Room{}
	for _, r := range rooms {
		m[r.ID] = r
	}
	return m
}

func TestCreateRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")

	open := admin.createRoom("  Lobby  ", chat.RoomOpen)
	if open.Name != "Lobby" || open.Type != chat.RoomOpen || open.CreatorID != admin.user.ID || open.Membership == nil {
		t.Errorf("open room = %+v, membership %+v", open, open.Membership)
	}
	closed := admin.createRoom("Secret", chat.RoomClosed, carol.user.ID, carol.user.ID)
	if closed.Type != chat.RoomClosed || closed.Membership == nil {
		t.Errorf("closed room = %+v", closed)
	}
	// The type defaults to open.
	var dflt chat.Room
	bob.call(http.StatusCreated, "POST", "/api/rooms", map[string]string{"name": "Bob's"}, &dflt)
	if dflt.Type != chat.RoomOpen {
		t.Errorf("room without type = %+v, want open", dflt)
	}

	for _, in := range []map[string]any{
		{"name": "", "type": "open"},
		{"name": "   ", "type": "open"},
		{"name": strings.Repeat("r", 101), "type": "open"},
		{"name": "two\nlines", "type": "open"},
		{"name": "Direct", "type": "direct"},
		{"name": "Weird", "type": "secret"},
		{"name": "Open with list", "type": "open", "user_ids": []int64{bob.user.ID}},
		{"name": "Closed with stranger", "type": "closed", "user_ids": []int64{999999}},
		{"name": "Closed", "type": "closed", "colour": "red"},
	} {
		admin.call(http.StatusBadRequest, "POST", "/api/rooms", in, nil)
	}

	// Who is in which room.
	for _, tt := range []struct {
		c    *client
		want []int64
	}{
		{admin, []int64{open.ID, closed.ID, dflt.ID}},
		{bob, []int64{open.ID, dflt.ID}},
		{carol, []int64{open.ID, closed.ID, dflt.ID}},
	} {
		got := roomIDs(tt.c.rooms())
		for _, id := range tt.want {
			if got[id] == nil {
				t.Errorf("%s is not in room %d", tt.c.user.Name, id)
			}
		}
		if len(got) != len(tt.want)+1 { // plus All Talk
			t.Errorf("%s is in %d rooms, want %d", tt.c.user.Name, len(got), len(tt.want)+1)
		}
	}
	var members struct {
		Users []*chat.User `json:"users"`
	}
	carol.call(http.StatusOK, "GET", "/api/rooms/"+itoa(closed.ID)+"/members", nil, &members)
	if len(members.Users) != 2 {
		t.Errorf("closed room members = %+v, want admin and Carol", members.Users)
	}

	// Restricting room creation to administrators.
	bob.call(http.StatusForbidden, "PATCH", "/api/account", map[string]bool{"restrict_room_creation": true}, nil)
	var acct account
	admin.call(http.StatusOK, "PATCH", "/api/account", map[string]bool{"restrict_room_creation": true}, &acct)
	if !acct.RestrictRoomCreation {
		t.Errorf("account = %+v, want restrict_room_creation", acct)
	}
	admin.call(http.StatusBadRequest, "PATCH", "/api/account", map[string]string{"restrict_room_creation": "yes"}, nil)
	r := bob.call(http.StatusForbidden, "POST", "/api/rooms", map[string]string{"name": "Nope", "type": "open"}, nil)
	if msg := r.errorMessage(t); !strings.Contains(msg, "administrators") {
		t.Errorf("%s: message %q", r, msg)
	}
	bob.call(http.StatusForbidden, "POST", "/api/rooms", map[string]any{"name": "Nope", "type": "closed", "user_ids": []int64{carol.user.ID}}, nil)
	admin.createRoom("Admins may", chat.RoomOpen)
	// Direct rooms stay open to everyone.
	bob.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{carol.user.ID}}, nil)
	admin.call(http.StatusOK, "PATCH", "/api/account", map[string]any{"restrict_room_creation": false, "name": "Acme"}, &acct)
	if acct.RestrictRoomCreation || acct.Name != "Acme" {
		t.Errorf("account = %+v", acct)
	}
	bob.createRoom("Now I may", chat.RoomOpen)
}

func TestDirectRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	dave := e.join(admin, "Dave")

	var d chat.Room
	bob.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{carol.user.ID}}, &d)
	if d.Type != chat.RoomDirect || d.Membership == nil || d.Membership.Involvement != chat.InvolvedEverything {
		t.Errorf("direct room = %+v, membership %+v", d, d.Membership)
	}
	// The same set of people, however written, is the same room.
	for _, tt := range []struct {
		c   *client
		ids []int64
	}{
		{bob, []int64{carol.user.ID}},
		{bob, []int64{carol.user.ID, bob.user.ID, carol.user.ID}},
		{carol, []int64{bob.user.ID}},
		{carol, []int64{bob.user.ID, carol.user.ID}},
	} {
		var again chat.Room
		tt.c.call(http.StatusOK, "POST", "/api/rooms/direct", map[string]any{"user_ids": tt.ids}, &again)
		if again.ID != d.ID {
			t.Errorf("%s with %v got room %d, want %d", tt.c.user.Name, tt.ids, again.ID, d.ID)
		}
	}
	// A different set is a different room.
	var group chat.Room
	bob.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{dave.user.ID, carol.user.ID}}, &group)
	if group.ID == d.ID {
		t.Error("a group of three reused the room of two")
	}
	bob.call(http.StatusBadRequest, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{}}, nil)
	bob.call(http.StatusBadRequest, "POST", "/api/rooms/direct", map[string]any{}, nil)
	bob.call(http.StatusBadRequest, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{999999}}, nil)

	// Direct rooms cannot be renamed or converted, even by their members.
	bob.call(http.StatusForbidden, "PATCH", "/api/rooms/"+itoa(d.ID), map[string]string{"name": "Renamed"}, nil)
	bob.call(http.StatusForbidden, "PATCH", "/api/rooms/"+itoa(d.ID), map[string]string{"type": "open"}, nil)
	// An administrator outside it does not even see it.
	admin.call(http.StatusNotFound, "PATCH", "/api/rooms/"+itoa(d.ID), map[string]string{"name": "Renamed"}, nil)
	admin.call(http.StatusNotFound, "DELETE", "/api/rooms/"+itoa(d.ID), nil, nil)
	if roomIDs(admin.rooms())[d.ID] != nil || roomIDs(dave.rooms())[d.ID] != nil {
		t.Error("a direct room shows up for someone outside it")
	}
	// Any member may delete it.
	carol.call(http.StatusNoContent, "DELETE", "/api/rooms/"+itoa(d.ID), nil, nil)
	bob.call(http.StatusNotFound, "GET", "/api/rooms/"+itoa(d.ID), nil, nil)
	// Asking again makes a new one.
	bob.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{carol.user.ID}}, nil)
}

// TestRoomsAreInvisibleToNonMembers checks that whoever is outside a closed
// or direct room gets 404s for it and everything in it, never 403s and
// never its data.
func TestRoomsAreInvisibleToNonMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")

	closed := carol.createRoom("Carol's secret room", chat.RoomClosed, admin.user.ID)
	var direct chat.Room
	carol.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{admin.user.ID}}, &direct)
	inClosed := carol.post(closed.ID, "pineapple plans in the secret room")
	inDirect := carol.post(direct.ID, "pineapple plans in private")
	var bobAndCarol chat.Room
	carol.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{bob.user.ID}}, &bobAndCarol)
	inBobAndCarol := bob.post(bobAndCarol.ID, "a secret kiwi")
	public := carol.post(carol.roomNamed(chat.FirstRoomName).ID, "pineapple plans for everyone")
	var boost chat.Boost
	carol.call(http.StatusCreated, "POST", fmt.Sprintf("/api/messages/%d/boosts", inClosed.ID), map[string]string{"content": "🍍"}, &boost)

	type probe struct {
		method, path string
		body         any
	}
	probes := func(roomID, msgID int64) []probe {
		room := "/api/rooms/" + itoa(roomID)
		msg := "/api/messages/" + itoa(msgID)
		return []probe{
			{"GET", room, nil},
			{"PATCH", room, map[string]string{"name": "Mine now"}},
			{"DELETE", room, nil},
			{"GET", room + "/members", nil},
			{"GET", room + "/messages", nil},
			{"GET", room + "/messages?before=999999", nil},
			{"POST", room + "/messages", map[string]string{"body": "let me in"}},
			{"PUT", room + "/involvement", map[string]string{"involvement": "everything"}},
			{"POST", room + "/read", nil},
			{"GET", msg, nil},
			{"PATCH", msg, map[string]string{"body": "defaced"}},
			{"DELETE", msg, nil},
			{"POST", msg + "/boosts", map[string]string{"content": "👀"}},
		}
	}
	// What a room that does not exist at all says.
	var notFound []string
	for _, p := range probes(999999, 999999) {
		r := bob.call(http.StatusNotFound, p.method, p.path, p.body, nil)
		notFound = append(notFound, r.errorMessage(t))
	}
	for _, target := range []struct {
		c      *client
		roomID int64
		msgID  int64
	}{
		{bob, closed.ID, inClosed.ID},
		{bob, direct.ID, inDirect.ID},
		{e.join(admin, "Dave"), direct.ID, inDirect.ID},
		// Administrators have no way into direct rooms they are not in.
		{admin, bobAndCarol.ID, inBobAndCarol.ID},
	} {
		for i, p := range probes(target.roomID, target.msgID) {
			r := target.c.call(http.StatusNotFound, p.method, p.path, p.body, nil)
			if msg := r.errorMessage(t); msg != notFound[i] {
				t.Errorf("%s: message %q, but a missing room says %q", r, msg, notFound[i])
			}
			if strings.Contains(string(r.Body), "pineapple") || strings.Contains(string(r.Body), "secret") {
				t.Errorf("%s: leaks data", r)
			}
		}
	}
	bob.call(http.StatusNotFound, "DELETE", "/api/boosts/"+itoa(boost.ID), nil, nil)
	// Nothing changed.
	var m chat.Message
	carol.call(http.StatusOK, "GET", "/api/messages/"+itoa(inClosed.ID), nil, &m)
	if m.Body != inClosed.Body || len(m.Boosts) != 1 {
		t.Errorf("message after probes = %+v", m)
	}
	if got := carol.roomNamed("Carol's secret room"); got.ID != closed.ID {
		t.Errorf("room after probes = %+v", got)
	}

	// Search only finds what the searcher can read.
	if got := ids(bob.search("pineapple")); len(got) != 1 || got[0] != public.ID {
		t.Errorf("Bob's search = %v, want only %d", got, public.ID)
	}
	if got := ids(carol.search("pineapple")); len(got) != 3 {
		t.Errorf("Carol's search = %v, want 3 messages", got)
	}
	if got := ids(admin.search("pineapple")); len(got) != 3 {
		t.Errorf("admin's search = %v, want 3 messages (member of both)", got)
	}
	if got := admin.search("kiwi"); len(got) != 0 {
		t.Errorf("admin's search finds %+v in a direct room they are not in", got)
	}
}

func TestUpdateAndDeleteRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")

	bobs := bob.createRoom("Bob's room", chat.RoomOpen)
	rename := func(name string) map[string]string { return map[string]string{"name": name} }

	// Members other than the creator may not change it.
	carol.call(http.StatusForbidden, "PATCH", "/api/rooms/"+itoa(bobs.ID), rename("Carol's now"), nil)
	carol.call(http.StatusForbidden, "DELETE", "/api/rooms/"+itoa(bobs.ID), nil, nil)
	// The creator and administrators may.
	var r chat.Room
	bob.call(http.StatusOK, "PATCH", "/api/rooms/"+itoa(bobs.ID), rename("Bob's den"), &r)
	if r.Name != "Bob's den" {
		t.Errorf("renamed room = %+v", r)
	}
	admin.call(http.StatusOK, "PATCH", "/api/rooms/"+itoa(bobs.ID), rename("Admin's pick"), &r)
	if r.Name != "Admin's pick" {
		t.Errorf("renamed room = %+v", r)
	}
	bob.call(http.StatusBadRequest, "PATCH", "/api/rooms/"+itoa(bobs.ID), rename(""), nil)
	bob.call(http.StatusBadRequest, "PATCH", "/api/rooms/"+itoa(bobs.ID), map[string]string{"type": "direct"}, nil)
	bob.call(http.StatusBadRequest, "PATCH", "/api/rooms/"+itoa(bobs.ID), map[string]string{"topic": "x"}, nil)

	// Closing a room and choosing its members.
	bob.call(http.StatusOK, "PATCH", "/api/rooms/"+itoa(bobs.ID), map[string]any{"type": "closed", "user_ids": []int64{carol.user.ID}}, &r)
	if r.Type != chat.RoomClosed {
		t.Errorf("closed room = %+v", r)
	}
	if roomIDs(admin.rooms())[bobs.ID] != nil {
		t.Error("admin is still in the room after it was closed without them")
	}
	admin.call(http.StatusNotFound, "GET", "/api/rooms/"+itoa(bobs.ID), nil, nil)
	carol.call(http.StatusOK, "GET", "/api/rooms/"+itoa(bobs.ID), nil, nil)
	// Opening it again brings everyone in.
	bob.call(http.StatusOK, "PATCH", "/api/rooms/"+itoa(bobs.ID), map[string]any{"type": "open"}, nil)
	admin.call(http.StatusOK, "GET", "/api/rooms/"+itoa(bobs.ID), nil, nil)

	// The creator deletes; the room and its messages are gone.
	msg := bob.post(bobs.ID, "soon gone")
	bob.call(http.StatusNoContent, "DELETE", "/api/rooms/"+itoa(bobs.ID), nil, nil)
	bob.call(http.StatusNotFound, "GET", "/api/rooms/"+itoa(bobs.ID), nil, nil)
	bob.call(http.StatusNotFound, "GET", "/api/messages/"+itoa(msg.ID), nil, nil)
	bob.call(http.StatusNotFound, "DELETE", "/api/rooms/"+itoa(bobs.ID), nil, nil)

	// An administrator deletes someone else's room.
	carols := carol.createRoom("Carol's room", chat.RoomOpen)
	admin.call(http.StatusNoContent, "DELETE", "/api/rooms/"+itoa(carols.ID), nil, nil)
	carol.call(http.StatusNotFound, "GET", "/api/rooms/"+itoa(carols.ID), nil, nil)
}

func TestInvolvement(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	room := admin.roomNamed(chat.FirstRoomName)
	path := "/api/rooms/" + itoa(room.ID) + "/involvement"
	if room.Membership == nil || room.Membership.Involvement != chat.InvolvedMentions {
		t.Errorf("default membership = %+v", room.Membership)
	}
	for _, inv := range []chat.Involvement{chat.InvolvedEverything, chat.InvolvedNothing, chat.InvolvedInvisible, chat.InvolvedMentions} {
		var m chat.Membership
		admin.call(http.StatusOK, "PUT", path, map[string]chat.Involvement{"involvement": inv}, &m)
		if m.Involvement != inv || m.RoomID != room.ID || m.UserID != admin.user.ID {
			t.Errorf("membership = %+v, want involvement %q", m, inv)
		}
		if got := admin.roomNamed(chat.FirstRoomName).Membership.Involvement; got != inv {
			t.Errorf("room list says involvement %q, want %q", got, inv)
		}
	}
	for _, body := range []any{
		map[string]string{"involvement": "loud"},
		map[string]string{"involvement": ""},
		map[string]string{"involvement": "Everything"},
		map[string]any{},
		map[string]int{"involvement": 1},
	} {
		admin.call(http.StatusBadRequest, "PUT", path, body, nil)
	}
}

func TestUnread(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	room := admin.roomNamed(chat.FirstRoomName)
	if room.Membership.UnreadAt != nil {
		t.Fatalf("room unread before any message: %+v", room.Membership)
	}
	bob.post(room.ID, "anyone here?")
	if got := admin.roomNamed(chat.FirstRoomName).Membership; got.UnreadAt == nil {
		t.Errorf("admin's membership after Bob posted = %+v, want unread_at", got)
	}
	if got := bob.roomNamed(chat.FirstRoomName).Membership; got.UnreadAt != nil {
		t.Errorf("Bob's own post made the room unread for him: %+v", got)
	}
	// unread_at is always present, null when read.
	r := admin.call(http.StatusOK, "GET", "/api/rooms", nil, nil)
	if !strings.Contains(string(r.Body), `"unread_at":"`) {
		t.Errorf("%s: want unread_at set", r)
	}
	admin.call(http.StatusNoContent, "POST", "/api/rooms/"+itoa(room.ID)+"/read", nil, nil)
	if got := admin.roomNamed(chat.FirstRoomName).Membership; got.UnreadAt != nil {
		t.Errorf("membership after read = %+v, want no unread_at", got)
	}
	r = admin.call(http.StatusOK, "GET", "/api/rooms", nil, nil)
	if !strings.Contains(string(r.Body), `"unread_at":null`) {
		t.Errorf("%s: want unread_at null", r)
	}
	// Reading twice is fine; invisible rooms do not turn unread.
	admin.call(http.StatusNoContent, "POST", "/api/rooms/"+itoa(room.ID)+"/read", nil, nil)
	admin.call(http.StatusOK, "PUT", "/api/rooms/"+itoa(room.ID)+"/involvement", map[string]string{"involvement": "invisible"}, nil)
	bob.post(room.ID, "hello?")
	if got := admin.roomNamed(chat.FirstRoomName).Membership; got.UnreadAt != nil {
		t.Errorf("invisible room turned unread: %+v", got)
	}
}
