package sqldb_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

// search runs SearchMessages and fails the test on error.
func search(tb testing.TB, db *sqldb.DB, actorID int64, q string) []*chat.Message {
	tb.Helper()
	msgs, err := db.SearchMessages(ctx, actorID, q)
	if err != nil {
		tb.Fatalf("SearchMessages(%q): %v", q, err)
	}
	if msgs == nil {
		tb.Fatalf("SearchMessages(%q) = nil, want a (possibly empty) list", q)
	}
	return msgs
}

func TestSearchMessages(t *testing.T) {
	f := newFixture(t)
	db := f.db
	post := func(body string) *chat.Message { return sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, body) }
	deployed := post("We deployed the new build")
	deploys := post("She deploys every Friday")
	post("Nothing to see here")
	cafe := post("Meet at the cafe at noon")
	cafeAccent := post("Un café, s'il vous plaît")
	naive := post("naïve résumé")
	post("🎉🎉🎉")
	numbers := post("Order 66 was executed")
	cjk := post("你好 世界")

	tests := []struct {
		name  string
		query string
		want  []*chat.Message // newest first
	}{
		{"OKStemming", "deploying", []*chat.Message{deploys, deployed}},
		{"OKStemmingOtherForm", "deploy", []*chat.Message{deploys, deployed}},
		{"OKCaseInsensitive", "DEPLOYED", []*chat.Message{deploys, deployed}},
		{"OKAllTermsMustMatch", "deployed friday", []*chat.Message{deploys}},
		{"OKDiacriticsInQuery", "café", []*chat.Message{cafeAccent, cafe}},
		{"OKDiacriticsInMessage", "cafe", []*chat.Message{cafeAccent, cafe}},
		{"OKDiacriticsBoth", "NAIVE resume", []*chat.Message{naive}},
		{"OKNumbers", "66", []*chat.Message{numbers}},
		{"OKPunctuationAround", `"deployed!"`, []*chat.Message{deploys, deployed}},
		{"OKCJK", "你好", []*chat.Message{cjk}},
		{"OKEmojiOnly", "🎉", nil},
		{"OKNoMatch", "kubernetes", nil},
		{"OKEmpty", "", nil},
		{"OKWhitespace", " \t\n ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := search(t, db, f.carol.ID, tt.query)
			want := []int64{}
			for _, m := range tt.want {
				want = append(want, m.ID)
			}
			if diff := cmp.Diff(want, messageIDs(got)); diff != "" {
				t.Errorf("SearchMessages(%q) (-want +got):\n%s", tt.query, diff)
			}
			for _, m := range got {
				if m.Creator == nil || m.Boosts == nil || m.MentionIDs == nil {
					t.Errorf("message %d details not loaded", m.ID)
				}
			}
		})
	}
}

// TestSearchMessages_Hostile feeds the query sanitizer FTS5 syntax and
// garbage: none of it may reach FTS5 as syntax, so nothing is an error.
func TestSearchMessages_Hostile(t *testing.T) {
	f := newFixture(t)
	db := f.db
	sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "a b and or not near x plus quote NEAR AND OR NOT")

	queries := []string{
		"AND", "OR", "NOT", "NEAR", "and", `"`, `""`, `"""`, "*", "a*", "*a", "NEAR(", "NEAR(a b", "NEAR(a b, 2)",
		"a:b", "plain:a", "{plain}: a", "(", ")", "()", "(a", "a)", "^", "^a", "-x", "+", "+a", "'", `\`, `\"`, "{}",
		"a AND", "AND a", "a OR OR b", "NOT a", "a NOT", `"a" "b`, "a - b", "a + b", "a . b", "rowid:1",
		"message_search_index", "; DROP TABLE messages; --", "' OR 1=1 --", "%", "_", "\x00", "a\x00b",
		"\xff\xfe", "\u200b", "cafe\u0301", "ǅ", "Ⅻ ½ ²",
		strings.Repeat("a ", 5000),          // 10 KB, many terms
		strings.Repeat("x", 10<<10),         // 10 KB, one term
		strings.Repeat(`NEAR("a" `, 1<<10),  // deep nesting
		strings.Repeat("é", 5<<10),          // 10 KB of two-byte runes
		strings.Repeat("👍", 3<<10),          // 12 KB of emoji
		strings.Repeat("OR ", 3<<10),        // operators only
		strings.Repeat(`"`, 10<<10),         // quotes only
		strings.Repeat("(", 10<<10) + "a",   // parentheses
		strings.Repeat("a\x00", 5<<10),      // NULs
		strings.Repeat("\u0301", 5<<10),     // combining marks only
		strings.Repeat("ab:cd*^-+ ", 1<<10), // everything at once
	}
	t.Run("OK", func(t *testing.T) {
		for i, q := range queries {
			name := q
			if len(name) > 20 {
				name = fmt.Sprintf("long%d", i)
			}
			t.Run(name, func(t *testing.T) {
				if _, err := db.SearchMessages(ctx, f.carol.ID, q); err != nil {
					t.Errorf("SearchMessages(%.40q) error: %v", q, err)
				}
			})
		}
	})
	t.Run("OKOperatorsAreWords", func(t *testing.T) {
		// Operators are searched as words, not obeyed.
		for _, q := range []string{"NOT", "near", "OR", "AND quote"} {
			if got := search(t, db, f.carol.ID, q); len(got) != 1 {
				t.Errorf("SearchMessages(%q) found %d messages, want the one containing it", q, len(got))
			}
		}
		if got := search(t, db, f.carol.ID, "zebra OR quote"); len(got) != 0 {
			t.Errorf("OR worked as an operator: found %d", len(got))
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		// Whether or not the query has anything searchable in it.
		for _, q := range []string{"anything", "🎉", ""} {
			_, err := db.SearchMessages(ctx, 9999, q)
			wantCode(t, err, chat.EUNAUTHORIZED)
		}
	})
}

func TestSearchMessages_Scope(t *testing.T) {
	f := newFixture(t)
	db := f.db
	open := sqldbtest.MustPost(t, db, f.carol.ID, f.allTalk.ID, "open zanzibar")

	got := func(u *chat.User) []int64 { return messageIDs(search(t, db, u.ID, "zanzibar")) }
	cases := []struct {
		user *chat.User
		want []int64
	}{
		{f.alice, []int64{open.ID, f.directMsg.ID, f.closedMsg.ID}},
		{f.bob, []int64{open.ID, f.directMsg.ID}},
		{f.carol, []int64{open.ID}},
		{f.admin, []int64{open.ID, f.closedMsg.ID}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, got(c.user)); diff != "" {
			t.Errorf("search as %s (-want +got):\n%s", c.user.Name, diff)
		}
	}

	// Leaving the closed room takes its messages out of alice's results,
	// even her own.
	if _, err := db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{UserIDs: &[]int64{}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{open.ID, f.directMsg.ID}, got(f.alice)); diff != "" {
		t.Errorf("search after leaving the closed room (-want +got):\n%s", diff)
	}
	// Joining shows the room's history.
	if _, err := db.UpdateRoom(ctx, f.admin.ID, f.closed.ID, chat.RoomUpdate{UserIDs: &[]int64{f.carol.ID}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{open.ID, f.closedMsg.ID}, got(f.carol)); diff != "" {
		t.Errorf("search after joining the closed room (-want +got):\n%s", diff)
	}
	// A deactivated user cannot search at all.
	if _, err := db.Deactivate(ctx, f.admin.ID, f.bob.ID); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"zanzibar", "🎉"} {
		_, err := db.SearchMessages(ctx, f.bob.ID, q)
		wantCode(t, err, chat.EUNAUTHORIZED)
	}
}

func TestSearchMessages_Limit(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, room := sqldbtest.MustFirstRun(t, db)
	var ids []int64
	for i := range 150 {
		ids = append(ids, sqldbtest.MustPost(t, db, admin.ID, room.ID, fmt.Sprintf("ticket %d filed", i)).ID)
		if i%10 == 0 {
			sqldbtest.MustPost(t, db, admin.ID, room.ID, "unrelated")
		}
	}
	got := messageIDs(search(t, db, admin.ID, "tickets"))
	want := slices.Clone(ids[len(ids)-chat.MaxSearchResults:])
	slices.Reverse(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SearchMessages returns the newest %d, newest first (-want +got):\n%s", chat.MaxSearchResults, diff)
	}
}

func TestSearchMessages_Edits(t *testing.T) {
	f := newFixture(t)
	db := f.db
	m := sqldbtest.MustPost(t, db, f.bob.ID, f.allTalk.ID, "the platypus escaped")

	upd := sqldbtest.NewMessage(f.allTalk.ID, "the echidna escaped")
	upd.ID = m.ID
	if _, err := db.UpdateMessage(ctx, f.bob.ID, upd); err != nil {
		t.Fatal(err)
	}
	if got := search(t, db, f.bob.ID, "platypus"); len(got) != 0 {
		t.Errorf("old text still found: %v", messageBodies(got))
	}
	if got := search(t, db, f.bob.ID, "echidna"); len(got) != 1 || got[0].Body != "the echidna escaped" {
		t.Errorf("new text: %v", messageBodies(got))
	}
	if got := search(t, db, f.bob.ID, "escaped"); len(got) != 1 {
		t.Errorf("unchanged word: %v", messageBodies(got))
	}
	// Search uses Plain, not Body or HTML.
	rich := chat.Message{RoomID: f.allTalk.ID, Body: "**bold** marmot", HTML: "<p><strong>bold</strong> marmot</p>", Plain: "bold marmot"}
	rich.ClientID = "rich"
	if _, _, err := db.CreateMessage(ctx, f.bob.ID, rich); err != nil {
		t.Fatal(err)
	}
	if got := search(t, db, f.bob.ID, "strong"); len(got) != 0 {
		t.Errorf("HTML tags are searchable: %v", messageBodies(got))
	}
	if got := search(t, db, f.bob.ID, "marmot"); len(got) != 1 {
		t.Errorf("plain text not searchable: %v", messageBodies(got))
	}

	if _, err := db.DeleteMessage(ctx, f.bob.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	if got := search(t, db, f.bob.ID, "echidna"); len(got) != 0 {
		t.Errorf("deleted message found: %v", messageBodies(got))
	}
	checkSearchIndex(t, db)
}

func TestRecentSearches(t *testing.T) {
	clock := sqldbtest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	db := sqldbtest.MustOpenFile(t, t.TempDir()+"/campfire.db", func(db *sqldb.DB) { db.Now = clock.Now })
	admin, _ := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")

	recent := func(u *chat.User) []string {
		t.Helper()
		qs, err := db.RecentSearches(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for i, q := range qs {
			out = append(out, q.Query)
			if i > 0 && q.UpdatedAt.After(qs[i-1].UpdatedAt) {
				t.Errorf("recent searches not newest first: %v", qs)
			}
		}
		return out
	}

	if got := recent(bob); len(got) != 0 {
		t.Fatalf("RecentSearches before any search = %v", got)
	}
	for i := range 12 {
		search(t, db, bob.ID, fmt.Sprintf("query %d", i))
	}
	search(t, db, admin.ID, "the admin's own")
	want := []string{"query 11", "query 10", "query 9", "query 8", "query 7", "query 6", "query 5", "query 4", "query 3", "query 2"}
	if diff := cmp.Diff(want, recent(bob)); diff != "" {
		t.Errorf("10 most recent (-want +got):\n%s", diff)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM searches WHERE user_id = ?`, bob.ID); n != chat.MaxRecentSearches {
		t.Errorf("stored searches = %d, want %d (older ones deleted)", n, chat.MaxRecentSearches)
	}

	// Repeating a search moves it to the top without duplicating it;
	// whitespace is normalized first.
	search(t, db, bob.ID, "  query   5 ")
	want = []string{"query 5", "query 11", "query 10", "query 9", "query 8", "query 7", "query 6", "query 4", "query 3", "query 2"}
	if diff := cmp.Diff(want, recent(bob)); diff != "" {
		t.Errorf("after repeating query 5 (-want +got):\n%s", diff)
	}

	// Queries with nothing searchable are not remembered.
	search(t, db, bob.ID, "🎉")
	search(t, db, bob.ID, "   ")
	if got := recent(bob); got[0] != "query 5" || len(got) != 10 {
		t.Errorf("unsearchable queries were remembered: %v", got)
	}

	// Long queries are stored bounded.
	search(t, db, bob.ID, strings.Repeat("long ", 1000))
	if got := recent(bob); len([]rune(got[0])) > chat.MaxSearchQueryRune {
		t.Errorf("stored query is %d runes, want at most %d", len([]rune(got[0])), chat.MaxSearchQueryRune)
	}

	if err := db.ClearSearches(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if got := recent(bob); len(got) != 0 {
		t.Errorf("after ClearSearches = %v, want none", got)
	}
	if diff := cmp.Diff([]string{"the admin's own"}, recent(admin)); diff != "" {
		t.Errorf("another user's searches (-want +got):\n%s", diff)
	}
}
