package sqldb_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

// memberIDs lists a room's members straight from the table, sorted.
func memberIDs(tb testing.TB, db *sqldb.DB, roomID int64) []int64 {
	tb.Helper()
	ids := queryInt64s(tb, db.ReaderPool(), `SELECT user_id FROM room_memberships WHERE room_id = ? ORDER BY user_id`, roomID)
	if ids == nil {
		ids = []int64{}
	}
	return ids
}

func sorted(ids ...int64) []int64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

func TestCreateRoom(t *testing.T) {
	f := newFixture(t)
	db := f.db
	dave := sqldbtest.MustSignUp(t, db, "Dave")
	if _, err := db.Deactivate(ctx, f.admin.ID, dave.ID); err != nil {
		t.Fatal(err)
	}
	everyone := sorted(f.admin.ID, f.alice.ID, f.bob.ID, f.carol.ID)

	t.Run("OKOpen", func(t *testing.T) {
		r, err := db.CreateRoom(ctx, f.bob.ID, chat.NewRoom{Name: "  Lobby ", Type: chat.RoomOpen, UserIDs: []int64{f.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "Lobby" || r.Type != chat.RoomOpen || r.CreatorID != f.bob.ID {
			t.Errorf("CreateRoom = %+v", r)
		}
		if r.Membership == nil || r.Membership.UserID != f.bob.ID || r.Membership.Involvement != chat.InvolvedMentions {
			t.Errorf("creator's membership = %+v", r.Membership)
		}
		if diff := cmp.Diff(everyone, memberIDs(t, db, r.ID)); diff != "" {
			t.Errorf("open room members (-want +got):\n%s", diff)
		}
		// Later sign-ups join it too.
		erin := sqldbtest.MustSignUp(t, db, "Erin")
		if !isMember(t, db, r.ID, erin.ID) {
			t.Error("a new user did not join an existing open room")
		}
	})

	t.Run("OKClosed", func(t *testing.T) {
		r, err := db.CreateRoom(ctx, f.bob.ID, chat.NewRoom{Name: "Plans", Type: chat.RoomClosed,
			UserIDs: []int64{f.carol.ID, f.carol.ID, f.bob.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sorted(f.bob.ID, f.carol.ID), memberIDs(t, db, r.ID)); diff != "" {
			t.Errorf("closed room members (-want +got):\n%s", diff)
		}
		members, err := db.FindRoomMembers(ctx, f.carol.ID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{f.bob.ID, f.carol.ID}, userIDs(members)); diff != "" { // by name
			t.Errorf("FindRoomMembers (-want +got):\n%s", diff)
		}
		// New users do not join closed rooms.
		fay := sqldbtest.MustSignUp(t, db, "Fay")
		if isMember(t, db, r.ID, fay.ID) {
			t.Error("a new user joined a closed room")
		}
	})

	t.Run("ErrInvalidMembers", func(t *testing.T) {
		before := mustCount(t, db, `SELECT COUNT(*) FROM rooms`)
		for _, ids := range [][]int64{{9999}, {dave.ID}, {f.alice.ID, 9999}} {
			_, err := db.CreateRoom(ctx, f.admin.ID, chat.NewRoom{Name: "Bad", Type: chat.RoomClosed, UserIDs: ids})
			wantCode(t, err, chat.EINVALID)
		}
		if after := mustCount(t, db, `SELECT COUNT(*) FROM rooms`); after != before {
			t.Errorf("rooms = %d after refused creations, want %d", after, before)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, nr := range []chat.NewRoom{
			{Name: "", Type: chat.RoomOpen},
			{Name: "   ", Type: chat.RoomClosed},
			{Name: "Two\nlines", Type: chat.RoomOpen},
			{Name: "DM", Type: chat.RoomDirect},
			{Name: "X", Type: "secret"},
		} {
			_, err := db.CreateRoom(ctx, f.admin.ID, nr)
			wantCode(t, err, chat.EINVALID)
		}
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := db.CreateRoom(ctx, dave.ID, chat.NewRoom{Name: "Ghost", Type: chat.RoomOpen})
		wantCode(t, err, chat.EUNAUTHORIZED)
	})
}

func TestCreateRoom_Restricted(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, _ := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")
	carol := sqldbtest.MustSignUp(t, db, "Carol")
	if _, err := db.UpdateAccount(ctx, admin.ID, sqldb.AccountUpdate{RestrictRoomCreation: ptr(true)}); err != nil {
		t.Fatal(err)
	}

	t.Run("ErrForbidden", func(t *testing.T) {
		for _, typ := range []chat.RoomType{chat.RoomOpen, chat.RoomClosed} {
			_, err := db.CreateRoom(ctx, bob.ID, chat.NewRoom{Name: "Mine", Type: typ})
			wantCode(t, err, chat.EFORBIDDEN)
		}
	})
	t.Run("OKAdmin", func(t *testing.T) {
		sqldbtest.MustCreateRoom(t, db, admin.ID, "Admins may", chat.RoomClosed)
	})
	t.Run("OKDirect", func(t *testing.T) {
		if _, _, err := db.FindOrCreateDirectRoom(ctx, bob.ID, []int64{carol.ID}); err != nil {
			t.Errorf("FindOrCreateDirectRoom under restriction: %v", err)
		}
	})
	t.Run("OKLifted", func(t *testing.T) {
		if _, err := db.UpdateAccount(ctx, admin.ID, sqldb.AccountUpdate{RestrictRoomCreation: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		sqldbtest.MustCreateRoom(t, db, bob.ID, "Mine", chat.RoomOpen)
	})
}

func TestFindOrCreateDirectRoom(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, _ := sqldbtest.MustFirstRun(t, db)
	alice := sqldbtest.MustSignUp(t, db, "Alice")
	bob := sqldbtest.MustSignUp(t, db, "Bob")
	carol := sqldbtest.MustSignUp(t, db, "Carol")

	first, created, err := db.FindOrCreateDirectRoom(ctx, alice.ID, []int64{bob.ID, carol.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !created || first.Type != chat.RoomDirect || first.Name != "" || first.CreatorID != alice.ID {
		t.Fatalf("first FindOrCreateDirectRoom = %+v, created=%v", first, created)
	}
	if first.Membership == nil || first.Membership.Involvement != chat.InvolvedEverything {
		t.Errorf("direct membership = %+v, want involvement everything", first.Membership)
	}
	if diff := cmp.Diff(sorted(alice.ID, bob.ID, carol.ID), memberIDs(t, db, first.ID)); diff != "" {
		t.Errorf("direct room members (-want +got):\n%s", diff)
	}

	same := []struct {
		name   string
		actor  int64
		others []int64
	}{
		{"OKSameOrder", alice.ID, []int64{bob.ID, carol.ID}},
		{"OKOtherOrder", alice.ID, []int64{carol.ID, bob.ID}},
		{"OKDuplicates", alice.ID, []int64{carol.ID, bob.ID, carol.ID, bob.ID}},
		{"OKWithRequester", alice.ID, []int64{alice.ID, bob.ID, carol.ID}},
		{"OKOtherMemberAsks", carol.ID, []int64{bob.ID, alice.ID}},
	}
	for _, tt := range same {
		t.Run(tt.name, func(t *testing.T) {
			r, created, err := db.FindOrCreateDirectRoom(ctx, tt.actor, tt.others)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != first.ID || created {
				t.Errorf("FindOrCreateDirectRoom(%d, %v) = room %d created=%v, want room %d created=false", tt.actor, tt.others, r.ID, created, first.ID)
			}
			if r.Membership == nil || r.Membership.UserID != tt.actor {
				t.Errorf("membership = %+v, want the actor's", r.Membership)
			}
		})
	}

	t.Run("OKDifferentSet", func(t *testing.T) {
		seen := map[int64]bool{first.ID: true}
		for _, others := range [][]int64{{bob.ID}, {carol.ID}, {admin.ID, bob.ID, carol.ID}} {
			r, created, err := db.FindOrCreateDirectRoom(ctx, alice.ID, others)
			if err != nil {
				t.Fatal(err)
			}
			if !created || seen[r.ID] {
				t.Errorf("FindOrCreateDirectRoom(alice, %v) = room %d created=%v, want a new room", others, r.ID, created)
			}
			seen[r.ID] = true
		}
	})

	t.Run("OKConcurrent", func(t *testing.T) {
		dave := sqldbtest.MustSignUp(t, db, "Dave")
		const n = 8
		ids := make([]int64, n)
		errs := make([]error, n)
		done := make(chan int)
		for i := range n {
			go func() {
				actor, other := dave.ID, alice.ID
				if i%2 == 1 {
					actor, other = alice.ID, dave.ID
				}
				r, _, err := db.FindOrCreateDirectRoom(ctx, actor, []int64{other})
				if err == nil {
					ids[i] = r.ID
				}
				errs[i] = err
				done <- i
			}()
		}
		for range n {
			<-done
		}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("FindOrCreateDirectRoom #%d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Errorf("concurrent direct rooms differ: %v", ids)
				break
			}
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		gone := sqldbtest.MustSignUp(t, db, "Gone")
		if _, err := db.Deactivate(ctx, admin.ID, gone.ID); err != nil {
			t.Fatal(err)
		}
		for _, others := range [][]int64{{9999}, {gone.ID}, {bob.ID, 9999}} {
			_, _, err := db.FindOrCreateDirectRoom(ctx, alice.ID, others)
			wantCode(t, err, chat.EINVALID)
		}
	})
}

// TestRoomAccess checks that a room a user is not in does not exist for
// them: every call answers ENOTFOUND, never EFORBIDDEN, exactly as for a
// room id that was never used.
func TestRoomAccess(t *testing.T) {
	f := newFixture(t)
	db := f.db
	boost, _, err := db.CreateBoost(ctx, f.alice.ID, f.closedMsg.ID, "👍")
	if err != nil {
		t.Fatal(err)
	}

	type target struct {
		room *chat.Room
		msg  *chat.Message
	}
	targets := map[string]target{
		"Closed":  {f.closed, f.closedMsg},
		"Direct":  {f.direct, f.directMsg},
		"Missing": {&chat.Room{ID: 9999}, &chat.Message{ID: 9999}},
	}
	// Carol is in neither room; the administrator is not in the direct room.
	outsiders := map[string][]*chat.User{
		"Closed":  {f.carol, f.bob},
		"Direct":  {f.carol, f.admin},
		"Missing": {f.carol, f.admin},
	}

	calls := []struct {
		name string
		call func(actor int64, tg target) error
	}{
		{"FindRoom", func(a int64, tg target) error { _, err := db.FindRoom(ctx, a, tg.room.ID); return err }},
		{"FindMessages", func(a int64, tg target) error {
			_, err := db.FindMessages(ctx, a, tg.room.ID, chat.Page{})
			return err
		}},
		{"FindRoomMembers", func(a int64, tg target) error { _, err := db.FindRoomMembers(ctx, a, tg.room.ID); return err }},
		{"CreateMessage", func(a int64, tg target) error {
			_, _, err := db.CreateMessage(ctx, a, sqldbtest.NewMessage(tg.room.ID, "let me in"))
			return err
		}},
		{"FindMessage", func(a int64, tg target) error { _, err := db.FindMessage(ctx, a, tg.msg.ID); return err }},
		{"UpdateMessage", func(a int64, tg target) error {
			m := sqldbtest.NewMessage(tg.room.ID, "edited")
			m.ID = tg.msg.ID
			_, err := db.UpdateMessage(ctx, a, m)
			return err
		}},
		{"DeleteMessage", func(a int64, tg target) error { _, err := db.DeleteMessage(ctx, a, tg.msg.ID); return err }},
		{"CreateBoost", func(a int64, tg target) error { _, _, err := db.CreateBoost(ctx, a, tg.msg.ID, "🔥"); return err }},
		{"SetInvolvement", func(a int64, tg target) error {
			_, err := db.SetInvolvement(ctx, a, tg.room.ID, chat.InvolvedEverything)
			return err
		}},
		{"MarkRead", func(a int64, tg target) error { return db.MarkRead(ctx, a, tg.room.ID) }},
	}
	for tname, tg := range targets {
		for _, actor := range outsiders[tname] {
			for _, c := range calls {
				// An administrator may manage closed rooms they are not in,
				// so UpdateRoom and DeleteRoom are tested separately.
				t.Run(tname+"/"+actor.Name+"/"+c.name+"/ErrNotFound", func(t *testing.T) {
					wantCode(t, c.call(actor.ID, tg), chat.ENOTFOUND)
				})
			}
		}
	}

	t.Run("DeleteBoost/ErrNotFound", func(t *testing.T) {
		_, _, err := db.DeleteBoost(ctx, f.carol.ID, boost.ID)
		wantCode(t, err, chat.ENOTFOUND)
	})

	t.Run("NonAdmin/UpdateDeleteRoom/ErrNotFound", func(t *testing.T) {
		for _, r := range []*chat.Room{f.closed, f.direct, {ID: 9999}} {
			_, err := db.UpdateRoom(ctx, f.carol.ID, r.ID, chat.RoomUpdate{Name: ptr("Mine now")})
			wantCode(t, err, chat.ENOTFOUND)
			_, err = db.DeleteRoom(ctx, f.carol.ID, r.ID)
			wantCode(t, err, chat.ENOTFOUND)
		}
	})

	t.Run("Admin/Direct/UpdateDeleteRoom/ErrNotFound", func(t *testing.T) {
		_, err := db.UpdateRoom(ctx, f.admin.ID, f.direct.ID, chat.RoomUpdate{Name: ptr("Peek")})
		wantCode(t, err, chat.ENOTFOUND)
		_, err = db.DeleteRoom(ctx, f.admin.ID, f.direct.ID)
		wantCode(t, err, chat.ENOTFOUND)
	})

	t.Run("SearchMessages/OKHidden", func(t *testing.T) {
		for _, u := range []*chat.User{f.carol, f.admin} {
			msgs, err := db.SearchMessages(ctx, u.ID, "zanzibar")
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.RoomID == f.direct.ID || (u == f.carol && m.RoomID == f.closed.ID) {
					t.Errorf("%s found message %d of room %d they are not in", u.Name, m.ID, m.RoomID)
				}
			}
		}
	})

	t.Run("FindRooms/OKHidden", func(t *testing.T) {
		rooms, err := db.FindRooms(ctx, f.carol.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{f.allTalk.ID}, roomIDs(rooms)); diff != "" {
			t.Errorf("FindRooms(carol) (-want +got):\n%s", diff)
		}
	})

	// And nothing was changed by the refused calls.
	t.Run("OKUnchanged", func(t *testing.T) {
		for _, m := range []*chat.Message{f.closedMsg, f.directMsg} {
			got, err := db.FindMessage(ctx, f.alice.ID, m.ID)
			if err != nil || got.Body != m.Body {
				t.Errorf("message %d = %+v, %v", m.ID, got, err)
			}
		}
		if n := mustCount(t, db, `SELECT COUNT(*) FROM boosts`); n != 1 {
			t.Errorf("boosts = %d, want 1", n)
		}
		if isMember(t, db, f.closed.ID, f.carol.ID) || isMember(t, db, f.direct.ID, f.carol.ID) {
			t.Error("an outsider got a membership")
		}
	})
}

func TestFindRooms(t *testing.T) {
	clock := sqldbtest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	db := sqldbtest.MustOpenFile(t, t.TempDir()+"/campfire.db", func(db *sqldb.DB) { db.Now = clock.Now })
	admin, allTalk := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")
	closed := sqldbtest.MustCreateRoom(t, db, admin.ID, "Closed", chat.RoomClosed, bob.ID)
	direct := sqldbtest.MustDirectRoom(t, db, bob.ID, admin.ID)

	rooms, err := db.FindRooms(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{direct.ID, closed.ID, allTalk.ID}, roomIDs(rooms)); diff != "" {
		t.Errorf("FindRooms, newest first (-want +got):\n%s", diff)
	}
	// A message moves its room to the top.
	sqldbtest.MustPost(t, db, admin.ID, allTalk.ID, "bump")
	rooms, err = db.FindRooms(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{allTalk.ID, direct.ID, closed.ID}, roomIDs(rooms)); diff != "" {
		t.Errorf("FindRooms after a message (-want +got):\n%s", diff)
	}
	for _, r := range rooms {
		if r.Membership == nil || r.Membership.UserID != bob.ID || r.Membership.RoomID != r.ID {
			t.Errorf("room %d membership = %+v", r.ID, r.Membership)
		}
	}
	_, err = db.FindRooms(ctx, 9999)
	wantCode(t, err, chat.EUNAUTHORIZED)
}

func TestUpdateRoom(t *testing.T) {
	t.Run("OKRename", func(t *testing.T) {
		f := newFixture(t)
		lobby := sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Lobby", chat.RoomOpen)
		for _, actor := range []*chat.User{f.bob, f.admin} { // creator, administrator
			r, err := f.db.UpdateRoom(ctx, actor.ID, lobby.ID, chat.RoomUpdate{Name: ptr("  By " + actor.Name + " ")})
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != "By "+actor.Name || r.Type != chat.RoomOpen {
				t.Errorf("UpdateRoom by %s = %+v", actor.Name, r)
			}
		}
		// The administrator renames a closed room they are not in.
		secret := sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Secret", chat.RoomClosed, f.carol.ID)
		r, err := f.db.UpdateRoom(ctx, f.admin.ID, secret.ID, chat.RoomUpdate{Name: ptr("Renamed")})
		if err != nil || r.Name != "Renamed" || r.Membership != nil {
			t.Errorf("admin renames a closed room they are not in: %+v, %v", r, err)
		}
		if isMember(t, f.db, secret.ID, f.admin.ID) {
			t.Error("renaming made the administrator a member")
		}
	})

	t.Run("OKOpenToClosedKeepsMembers", func(t *testing.T) {
		f := newFixture(t)
		lobby := sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Lobby", chat.RoomOpen)
		before := memberIDs(t, f.db, lobby.ID)
		r, err := f.db.UpdateRoom(ctx, f.bob.ID, lobby.ID, chat.RoomUpdate{Type: ptr(chat.RoomClosed)})
		if err != nil || r.Type != chat.RoomClosed {
			t.Fatalf("convert to closed: %+v, %v", r, err)
		}
		if diff := cmp.Diff(before, memberIDs(t, f.db, lobby.ID)); diff != "" {
			t.Errorf("members after open->closed (-want +got):\n%s", diff)
		}
		// Now closed: a new user does not join it.
		dan := sqldbtest.MustSignUp(t, f.db, "Dan")
		if isMember(t, f.db, lobby.ID, dan.ID) {
			t.Error("a new user joined a room converted to closed")
		}
	})

	t.Run("OKClosedToOpenGrantsEveryone", func(t *testing.T) {
		f := newFixture(t)
		r, err := f.db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{Type: ptr(chat.RoomOpen)})
		if err != nil || r.Type != chat.RoomOpen {
			t.Fatalf("convert to open: %+v, %v", r, err)
		}
		want := sorted(f.admin.ID, f.alice.ID, f.bob.ID, f.carol.ID)
		if diff := cmp.Diff(want, memberIDs(t, f.db, f.closed.ID)); diff != "" {
			t.Errorf("members after closed->open (-want +got):\n%s", diff)
		}
		dan := sqldbtest.MustSignUp(t, f.db, "Dan")
		if !isMember(t, f.db, f.closed.ID, dan.ID) {
			t.Error("a new user did not join a room converted to open")
		}
	})

	t.Run("OKClosedMembers", func(t *testing.T) {
		f := newFixture(t)
		// closed: admin (creator) and alice. Replace alice with bob and carol.
		r, err := f.db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{UserIDs: &[]int64{f.bob.ID, f.carol.ID, f.bob.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sorted(f.admin.ID, f.bob.ID, f.carol.ID), memberIDs(t, f.db, r.ID)); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		_, err = f.db.FindRoom(ctx, f.alice.ID, f.closed.ID)
		wantCode(t, err, chat.ENOTFOUND)
		if _, err := f.db.FindMessages(ctx, f.carol.ID, f.closed.ID, chat.Page{}); err != nil {
			t.Errorf("a granted member cannot read: %v", err)
		}
		// The creator always stays, even when left out of the list.
		r, err = f.db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{UserIDs: &[]int64{}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{f.admin.ID}, memberIDs(t, f.db, r.ID)); diff != "" {
			t.Errorf("members after emptying the list (-want +got):\n%s", diff)
		}
		// Existing memberships keep their state (involvement).
		if _, err := f.db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{UserIDs: &[]int64{f.bob.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.SetInvolvement(ctx, f.bob.ID, f.closed.ID, chat.InvolvedNothing); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{UserIDs: &[]int64{f.bob.ID, f.carol.ID}}); err != nil {
			t.Fatal(err)
		}
		r, err = f.db.FindRoom(ctx, f.bob.ID, f.closed.ID)
		if err != nil || r.Membership.Involvement != chat.InvolvedNothing {
			t.Errorf("bob's involvement after a member-list update = %+v, %v", r.Membership, err)
		}
	})

	t.Run("OKClosedMembersCreatorDeactivated", func(t *testing.T) {
		f := newFixture(t)
		r := sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Bob's", chat.RoomClosed, f.carol.ID)
		if _, err := f.db.Deactivate(ctx, f.admin.ID, f.bob.ID); err != nil {
			t.Fatal(err)
		}
		// The room stays manageable by an administrator...
		if _, err := f.db.UpdateRoom(ctx, f.admin.ID, r.ID, chat.RoomUpdate{UserIDs: &[]int64{f.carol.ID, f.alice.ID}}); err != nil {
			t.Fatalf("member update of a room whose creator is deactivated: %v", err)
		}
		if diff := cmp.Diff(sorted(f.alice.ID, f.carol.ID), memberIDs(t, f.db, r.ID)); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		// ...but listing the deactivated creator explicitly is still refused.
		_, err := f.db.UpdateRoom(ctx, f.admin.ID, r.ID, chat.RoomUpdate{UserIDs: &[]int64{f.bob.ID}})
		wantCode(t, err, chat.EINVALID)
	})

	t.Run("ErrInvalidMembers", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{UserIDs: &[]int64{f.bob.ID, 9999}})
		wantCode(t, err, chat.EINVALID)
		if diff := cmp.Diff(sorted(f.admin.ID, f.alice.ID), memberIDs(t, f.db, f.closed.ID)); diff != "" {
			t.Errorf("members after a refused update (-want +got):\n%s", diff)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		f := newFixture(t)
		for _, upd := range []chat.RoomUpdate{
			{Name: ptr("")},
			{Name: ptr("a\nb")},
			{Type: ptr(chat.RoomDirect)},
		} {
			_, err := f.db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, upd)
			wantCode(t, err, chat.EINVALID)
		}
	})

	t.Run("ErrForbiddenMember", func(t *testing.T) {
		f := newFixture(t)
		// alice is a member of closed, not its creator; bob is in All Talk.
		for _, c := range []struct {
			actor *chat.User
			room  *chat.Room
		}{{f.alice, f.closed}, {f.bob, f.allTalk}} {
			for _, upd := range []chat.RoomUpdate{{Name: ptr("Mine")}, {Type: ptr(chat.RoomOpen)}, {UserIDs: &[]int64{}}} {
				_, err := f.db.UpdateRoom(ctx, c.actor.ID, c.room.ID, upd)
				wantCode(t, err, chat.EFORBIDDEN)
			}
		}
		r, _ := f.db.FindRoom(ctx, f.admin.ID, f.closed.ID)
		if r.Name != "Secret" || r.Type != chat.RoomClosed {
			t.Errorf("room changed by a refused update: %+v", r)
		}
	})

	t.Run("ErrForbiddenDirect", func(t *testing.T) {
		f := newFixture(t)
		for _, actor := range []*chat.User{f.alice, f.bob} {
			for _, upd := range []chat.RoomUpdate{{Name: ptr("Us")}, {Type: ptr(chat.RoomOpen)}, {Type: ptr(chat.RoomClosed)}} {
				_, err := f.db.UpdateRoom(ctx, actor.ID, f.direct.ID, upd)
				wantCode(t, err, chat.EFORBIDDEN)
			}
		}
		// Even an administrator who is in the direct room.
		dm := sqldbtest.MustDirectRoom(t, f.db, f.admin.ID, f.bob.ID)
		_, err := f.db.UpdateRoom(ctx, f.admin.ID, dm.ID, chat.RoomUpdate{Type: ptr(chat.RoomOpen)})
		wantCode(t, err, chat.EFORBIDDEN)
	})
}

func TestDeleteRoom(t *testing.T) {
	// populate adds messages, a boost and a mention to room, as member.
	populate := func(t *testing.T, f *fixture, room *chat.Room, member *chat.User) {
		t.Helper()
		m := sqldbtest.NewMessage(room.ID, "doomed quokka")
		m.MentionIDs = []int64{member.ID}
		msg := sqldbtest.MustPostMessage(t, f.db, member.ID, m)
		if _, _, err := f.db.CreateBoost(ctx, member.ID, msg.ID, "🎉"); err != nil {
			t.Fatal(err)
		}
		sqldbtest.MustPost(t, f.db, member.ID, room.ID, "another doomed quokka")
	}
	// checkGone verifies the room and everything in it are gone.
	checkGone := func(t *testing.T, f *fixture, room *chat.Room, member *chat.User) {
		t.Helper()
		for _, q := range []string{
			`SELECT COUNT(*) FROM rooms WHERE id = ?`,
			`SELECT COUNT(*) FROM room_memberships WHERE room_id = ?`,
			`SELECT COUNT(*) FROM messages WHERE room_id = ?`,
		} {
			if n := mustCount(t, f.db, q, room.ID); n != 0 {
				t.Errorf("%s = %d after DeleteRoom, want 0", q, n)
			}
		}
		for _, q := range []string{
			`SELECT COUNT(*) FROM boosts WHERE message_id NOT IN (SELECT id FROM messages)`,
			`SELECT COUNT(*) FROM message_mentions WHERE message_id NOT IN (SELECT id FROM messages)`,
			`SELECT COUNT(*) FROM message_search_index WHERE message_search_index MATCH 'quokka'`,
		} {
			if n := mustCount(t, f.db, q); n != 0 {
				t.Errorf("%s = %d after DeleteRoom, want 0", q, n)
			}
		}
		checkSearchIndex(t, f.db)
		msgs, err := f.db.SearchMessages(ctx, member.ID, "quokka")
		if err != nil || len(msgs) != 0 {
			t.Errorf("SearchMessages after DeleteRoom = %v, %v, want none", messageBodies(msgs), err)
		}
		_, err = f.db.FindRoom(ctx, member.ID, room.ID)
		wantCode(t, err, chat.ENOTFOUND)
		// The database is still consistent.
		if got := queryInt64s(t, f.db.ReaderPool(), `SELECT COUNT(*) FROM pragma_foreign_key_check`); got[0] != 0 {
			t.Errorf("foreign key violations: %d", got[0])
		}
	}

	tests := []struct {
		name   string
		room   func(t *testing.T, f *fixture) *chat.Room
		member func(f *fixture) *chat.User // posts in the room first
		actor  func(f *fixture) *chat.User
	}{
		{"OKOpenByCreator",
			func(t *testing.T, f *fixture) *chat.Room {
				return sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Bob's", chat.RoomOpen)
			},
			func(f *fixture) *chat.User { return f.carol },
			func(f *fixture) *chat.User { return f.bob }},
		{"OKOpenByAdmin",
			func(t *testing.T, f *fixture) *chat.Room {
				return sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Bob's", chat.RoomOpen)
			},
			func(f *fixture) *chat.User { return f.carol },
			func(f *fixture) *chat.User { return f.admin }},
		{"OKClosedByCreator",
			func(t *testing.T, f *fixture) *chat.Room {
				return sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Hidden", chat.RoomClosed, f.carol.ID)
			},
			func(f *fixture) *chat.User { return f.carol },
			func(f *fixture) *chat.User { return f.bob }},
		{"OKClosedByAdminNotMember",
			func(t *testing.T, f *fixture) *chat.Room {
				return sqldbtest.MustCreateRoom(t, f.db, f.bob.ID, "Hidden", chat.RoomClosed, f.carol.ID)
			},
			func(f *fixture) *chat.User { return f.carol },
			func(f *fixture) *chat.User { return f.admin }},
		{"OKDirectByMember",
			func(t *testing.T, f *fixture) *chat.Room { return f.direct }, // alice created it
			func(f *fixture) *chat.User { return f.alice },
			func(f *fixture) *chat.User { return f.bob }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			room, member, actor := tt.room(t, f), tt.member(f), tt.actor(f)
			populate(t, f, room, member)
			got, err := f.db.DeleteRoom(ctx, actor.ID, room.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != room.ID || got.Type != room.Type {
				t.Errorf("DeleteRoom returned %+v, want room %d", got, room.ID)
			}
			checkGone(t, f, room, member)
			// Other rooms keep their messages.
			if n := mustCount(t, f.db, `SELECT COUNT(*) FROM messages WHERE room_id <> ?`, room.ID); n == 0 {
				t.Error("DeleteRoom deleted other rooms' messages")
			}
		})
	}

	t.Run("OKDirectRecreated", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.db.DeleteRoom(ctx, f.alice.ID, f.direct.ID); err != nil {
			t.Fatal(err)
		}
		r, created, err := f.db.FindOrCreateDirectRoom(ctx, f.bob.ID, []int64{f.alice.ID})
		// A fresh room with a fresh id: ids are never reused, so a stale
		// link or cursor cannot reach the new room.
		if err != nil || !created {
			t.Fatalf("direct room after deletion = %+v, created=%v, %v; want a new one", r, created, err)
		}
		if r.ID <= f.direct.ID {
			t.Errorf("recreated direct room has id %d, want an id above the deleted room's %d", r.ID, f.direct.ID)
		}
		msgs, err := f.db.FindMessages(ctx, f.bob.ID, r.ID, chat.Page{})
		if err != nil || len(msgs) != 0 {
			t.Errorf("messages in the new direct room = %v, %v, want none", messageBodies(msgs), err)
		}
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		f := newFixture(t)
		populate(t, f, f.closed, f.alice)
		for _, c := range []struct {
			actor *chat.User
			room  *chat.Room
		}{{f.alice, f.closed}, {f.bob, f.allTalk}} {
			_, err := f.db.DeleteRoom(ctx, c.actor.ID, c.room.ID)
			wantCode(t, err, chat.EFORBIDDEN)
			if _, err := f.db.FindRoom(ctx, c.actor.ID, c.room.ID); err != nil {
				t.Errorf("room %d after a refused delete: %v", c.room.ID, err)
			}
		}
		if n := mustCount(t, f.db, `SELECT COUNT(*) FROM messages WHERE room_id = ?`, f.closed.ID); n != 3 {
			t.Errorf("messages = %d after a refused delete, want 3", n)
		}
	})
}

func TestSetInvolvement(t *testing.T) {
	f := newFixture(t)
	for _, inv := range []chat.Involvement{chat.InvolvedEverything, chat.InvolvedNothing, chat.InvolvedInvisible, chat.InvolvedMentions} {
		t.Run("OK"+string(inv), func(t *testing.T) {
			m, err := f.db.SetInvolvement(ctx, f.bob.ID, f.allTalk.ID, inv)
			if err != nil {
				t.Fatal(err)
			}
			if m.Involvement != inv || m.UserID != f.bob.ID || m.RoomID != f.allTalk.ID {
				t.Errorf("SetInvolvement = %+v", m)
			}
			r, err := f.db.FindRoom(ctx, f.bob.ID, f.allTalk.ID)
			if err != nil || r.Membership.Involvement != inv {
				t.Errorf("FindRoom membership = %+v, %v", r.Membership, err)
			}
		})
	}
	for _, inv := range []chat.Involvement{"", "all", "EVERYTHING", "invisible "} {
		t.Run("ErrInvalid", func(t *testing.T) {
			_, err := f.db.SetInvolvement(ctx, f.bob.ID, f.allTalk.ID, inv)
			wantCode(t, err, chat.EINVALID)
		})
	}
}
