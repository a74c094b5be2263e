package sqldb_test

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

var ctx = context.Background()

// wantCode fails the test unless err carries the chat error code want
// ("" means no error).
func wantCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := chat.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

// mustCount runs a COUNT query on the read pool.
func mustCount(tb testing.TB, db *sqldb.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.ReaderPool().QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// ids returns the ids of users, rooms or messages.
func userIDs(users []*chat.User) []int64 {
	out := make([]int64, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func roomIDs(rooms []*chat.Room) []int64 {
	out := make([]int64, len(rooms))
	for i, r := range rooms {
		out[i] = r.ID
	}
	return out
}

func messageIDs(msgs []*chat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func messageBodies(msgs []*chat.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

// isMember reports whether userID has a membership in roomID, looking at
// the table directly (FindRoom would hide the difference behind ENOTFOUND).
func isMember(tb testing.TB, db *sqldb.DB, roomID, userID int64) bool {
	tb.Helper()
	return mustCount(tb, db, `SELECT COUNT(*) FROM room_memberships WHERE room_id = ? AND user_id = ?`, roomID, userID) == 1
}

// fixture is an account with an administrator, three members and rooms of
// every type:
//
//	allTalk  open   everyone
//	closed   closed admin (creator), alice
//	direct   direct alice, bob
type fixture struct {
	db                   *sqldb.DB
	admin, alice, bob    *chat.User
	carol                *chat.User
	allTalk              *chat.Room
	closed, direct       *chat.Room
	closedMsg, directMsg *chat.Message
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{db: sqldbtest.MustOpen(tb)}
	f.admin, f.allTalk = sqldbtest.MustFirstRun(tb, f.db)
	f.alice = sqldbtest.MustSignUp(tb, f.db, "Alice")
	f.bob = sqldbtest.MustSignUp(tb, f.db, "Bob")
	f.carol = sqldbtest.MustSignUp(tb, f.db, "Carol")
	f.closed = sqldbtest.MustCreateRoom(tb, f.db, f.admin.ID, "Secret", chat.RoomClosed, f.alice.ID)
	f.direct = sqldbtest.MustDirectRoom(tb, f.db, f.alice.ID, f.bob.ID)
	f.closedMsg = sqldbtest.MustPost(tb, f.db, f.alice.ID, f.closed.ID, "closed zanzibar secret")
	f.directMsg = sqldbtest.MustPost(tb, f.db, f.bob.ID, f.direct.ID, "direct zanzibar secret")
	return f
}

func ptr[T any](v T) *T { return &v }

// queryRows is a tiny helper for single-column int64 queries.
func queryInt64s(tb testing.TB, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) []int64 {
	tb.Helper()
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			tb.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// checkSearchIndex runs FTS5's integrity check, which compares the search
// index with the messages table it indexes.
func checkSearchIndex(tb testing.TB, db *sqldb.DB) {
	tb.Helper()
	_, err := db.WriterPool().ExecContext(ctx, `INSERT INTO message_search_index (message_search_index, rank) VALUES ('integrity-check', 1)`)
	if err != nil {
		tb.Errorf("search index integrity check: %v", err)
	}
}
