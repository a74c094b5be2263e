package sqldb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

func TestFindMessages_Pagination(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, room := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")
	other := sqldbtest.MustCreateRoom(t, db, admin.ID, "Other", chat.RoomOpen)

	const total = 250
	var ids []int64 // in posting order
	for i := range total {
		author := admin.ID
		if i%3 == 0 {
			author = bob.ID
		}
		ids = append(ids, sqldbtest.MustPost(t, db, author, room.ID, fmt.Sprintf("message %03d", i)).ID)
		if i%50 == 0 { // interleave another room's messages
			sqldbtest.MustPost(t, db, admin.ID, other.ID, "elsewhere")
		}
	}

	tests := []struct {
		name string
		page chat.Page
		want []int64
	}{
		{"OKDefaultIsNewest40", chat.Page{}, ids[total-chat.DefaultPageSize:]},
		{"OKBefore", chat.Page{Before: ids[total-40]}, ids[total-80 : total-40]},
		{"OKBeforeNearStart", chat.Page{Before: ids[10]}, ids[:10]},
		{"OKBeforeFirst", chat.Page{Before: ids[0]}, []int64{}},
		{"OKAfter", chat.Page{After: ids[100]}, ids[101:141]},
		{"OKAfterNearEnd", chat.Page{After: ids[total-5]}, ids[total-4:]},
		{"OKAfterLast", chat.Page{After: ids[total-1]}, []int64{}},
		{"OKLimit", chat.Page{Limit: 5}, ids[total-5:]},
		{"OKLimitBefore", chat.Page{Before: ids[50], Limit: 3}, ids[47:50]},
		{"OKLimitClamped", chat.Page{Limit: 1_000_000}, ids[total-chat.MaxPageSize:]},
		{"OKLimitClampedAfter", chat.Page{After: ids[0], Limit: 1_000_000}, ids[1 : 1+chat.MaxPageSize]},
		{"OKNegativeLimitIsDefault", chat.Page{Limit: -1}, ids[total-chat.DefaultPageSize:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := db.FindMessages(ctx, bob.ID, room.ID, tt.page)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, messageIDs(msgs)); diff != "" {
				t.Errorf("FindMessages(%+v) ids, oldest first (-want +got):\n%s", tt.page, diff)
			}
			for _, m := range msgs {
				if m.RoomID != room.ID {
					t.Fatalf("message %d of room %d in the page", m.ID, m.RoomID)
				}
				if m.Creator == nil || m.Creator.ID != m.CreatorID || m.Boosts == nil || m.MentionIDs == nil {
					t.Fatalf("message %d details not loaded: creator %+v boosts %v mentions %v", m.ID, m.Creator, m.Boosts, m.MentionIDs)
				}
			}
		})
	}

	// Walking back with before= visits every message once.
	t.Run("OKWalkBack", func(t *testing.T) {
		var all []int64
		page := chat.Page{}
		for {
			msgs, err := db.FindMessages(ctx, bob.ID, room.ID, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 0 {
				break
			}
			all = append(messageIDs(msgs), all...)
			page = chat.Page{Before: msgs[0].ID}
		}
		if diff := cmp.Diff(ids, all); diff != "" {
			t.Errorf("walk back (-want +got):\n%s", diff)
		}
	})

	for _, p := range []chat.Page{{Before: ids[50], After: ids[10]}, {Before: -1}, {After: -5}} {
		t.Run("ErrInvalid", func(t *testing.T) {
			_, err := db.FindMessages(ctx, bob.ID, room.ID, p)
			wantCode(t, err, chat.EINVALID)
		})
	}
}

func TestCreateMessage(t *testing.T) {
	f := newFixture(t)
	db := f.db

	t.Run("OK", func(t *testing.T) {
		in := chat.Message{RoomID: f.allTalk.ID, ClientID: "abc-123_XYZ", Body: "**hi**", HTML: "<p><b>hi</b></p>", Plain: "hi", Sound: "trombone"}
		m, created, err := db.CreateMessage(ctx, f.bob.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if !created {
			t.Error("created = false for a new message")
		}
		want := in
		want.ID, want.CreatorID, want.CreatedAt, want.UpdatedAt = m.ID, f.bob.ID, m.CreatedAt, m.UpdatedAt
		want.Creator, want.MentionIDs, want.Boosts = f.bob, []int64{}, []*chat.Boost{}
		if diff := cmp.Diff(&want, m); diff != "" {
			t.Errorf("CreateMessage (-want +got):\n%s", diff)
		}
		if m.ID == 0 || m.CreatedAt.IsZero() || !m.CreatedAt.Equal(m.UpdatedAt) {
			t.Errorf("id %d, created %v, updated %v", m.ID, m.CreatedAt, m.UpdatedAt)
		}
		got, err := db.FindMessage(ctx, f.carol.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("FindMessage (-want +got):\n%s", diff)
		}
	})

	t.Run("OKGeneratedClientID", func(t *testing.T) {
		a := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "one")
		b := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "one")
		if a.ClientID == "" || a.ClientID == b.ClientID || a.ID == b.ID {
			t.Errorf("messages without client id: %q/%d and %q/%d, want distinct generated ids", a.ClientID, a.ID, b.ClientID, b.ID)
		}
		if err := chat.ValidateClientID(a.ClientID); err != nil {
			t.Errorf("generated client id %q: %v", a.ClientID, err)
		}
	})

	t.Run("OKIdempotent", func(t *testing.T) {
		in := sqldbtest.NewMessage(f.allTalk.ID, "only once")
		in.ClientID = "retry-me"
		first, created, err := db.CreateMessage(ctx, f.carol.ID, in)
		if err != nil || !created {
			t.Fatalf("first post: created=%v, %v", created, err)
		}
		if _, _, err := db.CreateBoost(ctx, f.bob.ID, first.ID, "👍"); err != nil {
			t.Fatal(err)
		}
		in.Body = "a different body on retry is ignored"
		again, created, err := db.CreateMessage(ctx, f.carol.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if created || again.ID != first.ID || again.Body != "only once" {
			t.Errorf("retry = id %d %q created=%v, want id %d, created=false", again.ID, again.Body, created, first.ID)
		}
		if again.Creator == nil || len(again.Boosts) != 1 {
			t.Errorf("retry details: creator %+v, boosts %v", again.Creator, again.Boosts)
		}
		if n := mustCount(t, db, `SELECT COUNT(*) FROM messages WHERE client_id = 'retry-me'`); n != 1 {
			t.Errorf("rows with the client id = %d, want 1", n)
		}

		// Another author's client id space is independent.
		theirs, created, err := db.CreateMessage(ctx, f.bob.ID, in)
		if err != nil || !created || theirs.ID == first.ID || theirs.CreatorID != f.bob.ID {
			t.Errorf("same client id by another user = %+v, created=%v, %v; want a new message", theirs, created, err)
		}

		// The same author reusing it in another room is a conflict.
		elsewhere := in
		elsewhere.RoomID = f.closed.ID
		_, _, err = db.CreateMessage(ctx, f.alice.ID, elsewhere) // alice: fresh id for her
		wantCode(t, err, "")
		elsewhere.RoomID = f.direct.ID
		_, _, err = db.CreateMessage(ctx, f.alice.ID, elsewhere)
		wantCode(t, err, chat.ECONFLICT)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		before := mustCount(t, db, `SELECT COUNT(*) FROM messages`)
		for name, m := range map[string]chat.Message{
			"empty":             {RoomID: f.allTalk.ID, Body: ""},
			"whitespace":        {RoomID: f.allTalk.ID, Body: " \n\t "},
			"too long":          {RoomID: f.allTalk.ID, Body: strings.Repeat("a", chat.MaxMessageBytes+1)},
			"bad utf-8":         {RoomID: f.allTalk.ID, Body: "\xff\xfe"},
			"NUL":               {RoomID: f.allTalk.ID, Body: "a\x00b"},
			"client id /":       {RoomID: f.allTalk.ID, Body: "x", ClientID: "a/b"},
			"client id sp":      {RoomID: f.allTalk.ID, Body: "x", ClientID: "a b"},
			"client id long":    {RoomID: f.allTalk.ID, Body: "x", ClientID: strings.Repeat("a", chat.MaxClientIDLength+1)},
			"client id unicode": {RoomID: f.allTalk.ID, Body: "x", ClientID: "café"},
		} {
			_, _, err := db.CreateMessage(ctx, f.bob.ID, m)
			if chat.ErrorCode(err) != chat.EINVALID {
				t.Errorf("CreateMessage(%s) error = %v, want EINVALID", name, err)
			}
		}
		if after := mustCount(t, db, `SELECT COUNT(*) FROM messages`); after != before {
			t.Errorf("messages = %d after invalid posts, want %d", after, before)
		}
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, _, err := db.CreateMessage(ctx, 9999, sqldbtest.NewMessage(f.allTalk.ID, "who?"))
		wantCode(t, err, chat.EUNAUTHORIZED)
	})
}

func TestMentions(t *testing.T) {
	f := newFixture(t)
	db := f.db
	outsider := f.carol // not in the closed room

	in := sqldbtest.NewMessage(f.closed.ID, "@Alice @Carol @Admin")
	in.MentionIDs = []int64{f.alice.ID, outsider.ID, f.alice.ID, 9999, f.admin.ID}
	m, _, err := db.CreateMessage(ctx, f.admin.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	want := sorted(f.admin.ID, f.alice.ID)
	if diff := cmp.Diff(want, m.MentionIDs); diff != "" {
		t.Errorf("CreateMessage mentions (-want +got):\n%s", diff)
	}
	got, err := db.FindMessage(ctx, f.alice.ID, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.MentionIDs); diff != "" {
		t.Errorf("FindMessage mentions (-want +got):\n%s", diff)
	}

	upd := sqldbtest.NewMessage(f.closed.ID, "@Alice only")
	upd.ID, upd.MentionIDs = m.ID, []int64{f.alice.ID, outsider.ID}
	u, err := db.UpdateMessage(ctx, f.admin.ID, upd)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{f.alice.ID}, u.MentionIDs); diff != "" {
		t.Errorf("UpdateMessage mentions (-want +got):\n%s", diff)
	}
	upd.MentionIDs = nil
	u, err = db.UpdateMessage(ctx, f.admin.ID, upd)
	if err != nil || len(u.MentionIDs) != 0 || u.MentionIDs == nil {
		t.Errorf("mentions after an update without any = %#v, %v, want empty", u.MentionIDs, err)
	}
	msgs, err := db.FindMessages(ctx, f.alice.ID, f.closed.ID, chat.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.MentionIDs == nil {
			t.Errorf("message %d: MentionIDs is nil, want a (possibly empty) list", m.ID)
		}
	}
}

func TestUpdateMessage(t *testing.T) {
	f := newFixture(t)
	db := f.db
	edit := func(id int64, body string) chat.Message {
		m := sqldbtest.NewMessage(0, body)
		m.ID = id
		return m
	}

	t.Run("OKAuthor", func(t *testing.T) {
		orig := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "tpyo")
		m, err := db.UpdateMessage(ctx, f.bob.ID, edit(orig.ID, "typo"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Body != "typo" || m.Plain != "typo" || m.HTML != "<p>typo</p>" || m.RoomID != f.allTalk.ID || m.CreatorID != f.bob.ID {
			t.Errorf("UpdateMessage = %+v", m)
		}
		if m.UpdatedAt.Before(orig.UpdatedAt) || !m.CreatedAt.Equal(orig.CreatedAt) || m.ClientID != orig.ClientID {
			t.Errorf("times/client id: %+v, was %+v", m, orig)
		}
		if m.Creator == nil || m.Creator.ID != f.bob.ID {
			t.Errorf("creator not loaded: %+v", m.Creator)
		}
	})

	t.Run("OKAdmin", func(t *testing.T) {
		orig := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "rude words")
		m, err := db.UpdateMessage(ctx, f.admin.ID, edit(orig.ID, "[moderated]"))
		if err != nil || m.Body != "[moderated]" || m.CreatorID != f.bob.ID {
			t.Errorf("admin edit = %+v, %v", m, err)
		}
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		orig := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "mine")
		_, err := db.UpdateMessage(ctx, f.carol.ID, edit(orig.ID, "not yours"))
		wantCode(t, err, chat.EFORBIDDEN)
		m, _ := db.FindMessage(ctx, f.bob.ID, orig.ID)
		if m.Body != "mine" {
			t.Errorf("body after a refused edit = %q", m.Body)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		orig := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "keep")
		_, err := db.UpdateMessage(ctx, f.bob.ID, edit(orig.ID, "   "))
		wantCode(t, err, chat.EINVALID)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := db.UpdateMessage(ctx, f.bob.ID, edit(9999, "nothing"))
		wantCode(t, err, chat.ENOTFOUND)
	})
}

func TestDeleteMessage(t *testing.T) {
	f := newFixture(t)
	db := f.db

	for _, actor := range []func() *chat.User{func() *chat.User { return f.bob }, func() *chat.User { return f.admin }} {
		t.Run("OK"+actor().Name, func(t *testing.T) {
			in := sqldbtest.NewMessage(f.allTalk.ID, "ephemeral wombat")
			in.MentionIDs = []int64{f.carol.ID}
			m := sqldbtest.MustPostMessage(t, db, f.bob.ID, in)
			if _, _, err := db.CreateBoost(ctx, f.carol.ID, m.ID, "👋"); err != nil {
				t.Fatal(err)
			}
			got, err := db.DeleteMessage(ctx, actor().ID, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != m.ID || got.Body != m.Body || len(got.Boosts) != 1 {
				t.Errorf("DeleteMessage returned %+v", got)
			}
			_, err = db.FindMessage(ctx, f.bob.ID, m.ID)
			wantCode(t, err, chat.ENOTFOUND)
			for _, q := range []string{
				`SELECT COUNT(*) FROM boosts WHERE message_id = ?`,
				`SELECT COUNT(*) FROM message_mentions WHERE message_id = ?`,
			} {
				if n := mustCount(t, db, q, m.ID); n != 0 {
					t.Errorf("%s = %d, want 0", q, n)
				}
			}
			if n := mustCount(t, db, `SELECT COUNT(*) FROM message_search_index WHERE message_search_index MATCH 'wombat'`); n != 0 {
				t.Errorf("search index still has %d entries for the deleted message", n)
			}
			checkSearchIndex(t, db)
			_, err = db.DeleteMessage(ctx, actor().ID, m.ID)
			wantCode(t, err, chat.ENOTFOUND)
		})
	}

	t.Run("ErrForbidden", func(t *testing.T) {
		m := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "stays")
		_, err := db.DeleteMessage(ctx, f.carol.ID, m.ID)
		wantCode(t, err, chat.EFORBIDDEN)
		if _, err := db.FindMessage(ctx, f.carol.ID, m.ID); err != nil {
			t.Errorf("message after a refused delete: %v", err)
		}
	})
}

func TestCreateBoost(t *testing.T) {
	f := newFixture(t)
	db := f.db
	msg := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "boost me")

	t.Run("OK", func(t *testing.T) {
		for _, content := range []string{"👍", " +1 ", strings.Repeat("é", chat.MaxBoostLength), "🔥🔥🔥"} {
			b, roomID, err := db.CreateBoost(ctx, f.carol.ID, msg.ID, content)
			if err != nil {
				t.Fatalf("CreateBoost(%q): %v", content, err)
			}
			if b.Content != strings.TrimSpace(content) || b.BoosterID != f.carol.ID || b.MessageID != msg.ID || roomID != f.allTalk.ID || b.ID == 0 {
				t.Errorf("CreateBoost(%q) = %+v, room %d", content, b, roomID)
			}
		}
		m, err := db.FindMessage(ctx, f.bob.ID, msg.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range m.Boosts {
			got = append(got, b.Content)
		}
		if diff := cmp.Diff([]string{"👍", "+1", strings.Repeat("é", chat.MaxBoostLength), "🔥🔥🔥"}, got); diff != "" {
			t.Errorf("boosts on the message, in order (-want +got):\n%s", diff)
		}
		if !m.UpdatedAt.After(msg.UpdatedAt) && !m.UpdatedAt.Equal(msg.UpdatedAt) {
			t.Errorf("message updated_at went back: %v < %v", m.UpdatedAt, msg.UpdatedAt)
		}
		// Boosts come with the message in pages and search too.
		page, err := db.FindMessages(ctx, f.bob.ID, f.allTalk.ID, chat.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if last := page[len(page)-1]; last.ID != msg.ID || len(last.Boosts) != 4 {
			t.Errorf("page's last message %d has %d boosts, want %d with 4", last.ID, len(last.Boosts), msg.ID)
		}
		found, err := db.SearchMessages(ctx, f.bob.ID, "boost")
		if err != nil || len(found) != 1 || len(found[0].Boosts) != 4 || found[0].Creator == nil {
			t.Errorf("search result = %+v, %v; want the message with 4 boosts and its creator", found, err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, content := range []string{"", "   ", strings.Repeat("a", chat.MaxBoostLength+1), strings.Repeat("👍", chat.MaxBoostLength+1), "a\nb"} {
			_, _, err := db.CreateBoost(ctx, f.carol.ID, msg.ID, content)
			if chat.ErrorCode(err) != chat.EINVALID {
				t.Errorf("CreateBoost(%q) error = %v, want EINVALID", content, err)
			}
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, _, err := db.CreateBoost(ctx, f.carol.ID, 9999, "👍")
		wantCode(t, err, chat.ENOTFOUND)
		_, _, err = db.CreateBoost(ctx, f.carol.ID, f.closedMsg.ID, "👍") // not a member
		wantCode(t, err, chat.ENOTFOUND)
	})
}

func TestDeleteBoost(t *testing.T) {
	f := newFixture(t)
	db := f.db
	msg := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "boost me")

	t.Run("ErrForbidden", func(t *testing.T) {
		b, _, err := db.CreateBoost(ctx, f.carol.ID, msg.ID, "👍")
		if err != nil {
			t.Fatal(err)
		}
		// Not even the author of the message or an administrator.
		for _, actor := range []*chat.User{f.bob, f.admin, f.alice} {
			_, _, err := db.DeleteBoost(ctx, actor.ID, b.ID)
			wantCode(t, err, chat.EFORBIDDEN)
		}
		if n := mustCount(t, db, `SELECT COUNT(*) FROM boosts WHERE id = ?`, b.ID); n != 1 {
			t.Error("a refused DeleteBoost removed the boost")
		}
	})

	t.Run("OK", func(t *testing.T) {
		b, _, err := db.CreateBoost(ctx, f.alice.ID, msg.ID, "🎉")
		if err != nil {
			t.Fatal(err)
		}
		got, roomID, err := db.DeleteBoost(ctx, f.alice.ID, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != b.ID || roomID != f.allTalk.ID {
			t.Errorf("DeleteBoost = %+v, room %d", got, roomID)
		}
		m, _ := db.FindMessage(ctx, f.bob.ID, msg.ID)
		for _, mb := range m.Boosts {
			if mb.ID == b.ID {
				t.Error("the deleted boost is still on the message")
			}
		}
		_, _, err = db.DeleteBoost(ctx, f.alice.ID, b.ID)
		wantCode(t, err, chat.ENOTFOUND)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, _, err := db.DeleteBoost(ctx, f.alice.ID, 9999)
		wantCode(t, err, chat.ENOTFOUND)
	})
}

func TestUnread(t *testing.T) {
	f := newFixture(t)
	db := f.db
	unread := func(t *testing.T, user *chat.User, roomID int64) bool {
		t.Helper()
		rooms, err := db.FindRooms(ctx, user.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rooms {
			if r.ID == roomID {
				room, err := db.FindRoom(ctx, user.ID, roomID)
				if err != nil {
					t.Fatal(err)
				}
				if room.Membership.Unread() != r.Membership.Unread() {
					t.Fatalf("FindRoom and FindRooms disagree on unread for %s", user.Name)
				}
				return r.Membership.Unread()
			}
		}
		t.Fatalf("%s is not in room %d", user.Name, roomID)
		return false
	}
	for _, u := range []*chat.User{f.admin, f.alice, f.bob, f.carol} {
		if unread(t, u, f.allTalk.ID) {
			t.Fatalf("All Talk is unread for %s before any message", u.Name)
		}
	}
	if _, err := db.SetInvolvement(ctx, f.carol.ID, f.allTalk.ID, chat.InvolvedInvisible); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetInvolvement(ctx, f.alice.ID, f.allTalk.ID, chat.InvolvedNothing); err != nil {
		t.Fatal(err)
	}

	msg := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "news")
	for _, c := range []struct {
		user *chat.User
		want bool
	}{
		{f.admin, true},
		{f.alice, true}, // "nothing" still marks unread; only invisible hides the room
		{f.bob, false},  // the author
		{f.carol, false},
	} {
		if got := unread(t, c.user, f.allTalk.ID); got != c.want {
			t.Errorf("unread for %s = %v, want %v", c.user.Name, got, c.want)
		}
	}
	r, _ := db.FindRoom(ctx, f.admin.ID, f.allTalk.ID)
	if r.Membership.UnreadAt == nil || !r.Membership.UnreadAt.Equal(msg.CreatedAt) {
		t.Errorf("unread_at = %v, want the message's created_at %v", r.Membership.UnreadAt, msg.CreatedAt)
	}
	// A later message keeps the first unread time.
	sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "more news")
	r, _ = db.FindRoom(ctx, f.admin.ID, f.allTalk.ID)
	if !r.Membership.UnreadAt.Equal(msg.CreatedAt) {
		t.Errorf("unread_at moved to %v, want %v", r.Membership.UnreadAt, msg.CreatedAt)
	}

	if err := db.MarkRead(ctx, f.admin.ID, f.allTalk.ID); err != nil {
		t.Fatal(err)
	}
	if unread(t, f.admin, f.allTalk.ID) {
		t.Error("still unread after MarkRead")
	}
	if !unread(t, f.alice, f.allTalk.ID) {
		t.Error("MarkRead by one member cleared another's marker")
	}
	// Marking a read room read again is fine.
	wantCode(t, db.MarkRead(ctx, f.admin.ID, f.allTalk.ID), "")

	// Replying does not mark the room unread for the replier.
	sqldbtest.MustPost(t, db, f.admin.ID, f.allTalk.ID, "thanks")
	if unread(t, f.admin, f.allTalk.ID) {
		t.Error("own message marked the room unread")
	}
	if !unread(t, f.bob, f.allTalk.ID) {
		t.Error("the reply did not mark the room unread for bob")
	}

	// Direct rooms too.
	sqldbtest.MustPost(t, db, f.alice.ID, f.direct.ID, "psst")
	if !unread(t, f.bob, f.direct.ID) {
		t.Error("direct message did not mark the room unread")
	}
}

// TestCreateMessage_Concurrent posts from many goroutines at once: every
// post lands, none fails with a busy database.
func TestCreateMessage_Concurrent(t *testing.T) {
	f := newFixture(t)
	const writers, each = 8, 10
	errs := make(chan error, writers*each)
	done := make(chan struct{})
	for w := range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			author := []*chat.User{f.admin, f.alice, f.bob, f.carol}[w%4]
			for i := range each {
				in := sqldbtest.NewMessage(f.allTalk.ID, fmt.Sprintf("w%d m%d", w, i))
				in.ClientID = fmt.Sprintf("w%d-m%d", w, i)
				_, _, err := f.db.CreateMessage(ctx, author.ID, in)
				errs <- err
				// Readers run alongside the writers.
				if _, err := f.db.FindMessages(ctx, author.ID, f.allTalk.ID, chat.Page{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	for range writers {
		<-done
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := mustCount(t, f.db, `SELECT COUNT(*) FROM messages WHERE room_id = ?`, f.allTalk.ID); n != writers*each {
		t.Errorf("messages = %d, want %d", n, writers*each)
	}
}

func TestMessageIDsNotReused(t *testing.T) {
	ctx := context.Background()
	db := sqldbtest.MustOpen(t)
	admin, room := sqldbtest.MustFirstRun(t, db)
	first := sqldbtest.MustPost(t, db, admin.ID, room.ID, "one")
	second := sqldbtest.MustPost(t, db, admin.ID, room.ID, "two")
	if _, err := db.DeleteMessage(ctx, admin.ID, second.ID); err != nil {
		t.Fatal(err)
	}
	third := sqldbtest.MustPost(t, db, admin.ID, room.ID, "three")
	if third.ID <= second.ID {
		t.Fatalf("message ids %d, %d, then %d after deleting %d: a deleted id was reused", first.ID, second.ID, third.ID, second.ID)
	}
}
