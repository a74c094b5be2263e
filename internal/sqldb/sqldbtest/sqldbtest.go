// Package sqldbtest opens real, throw-away SQLite databases for tests and
// fills them through the public sqldb API.
//
// Every helper calls tb.Helper and fails the test with tb.Fatalf on error, so
// a test reads as a list of facts:
//
//	db := sqldbtest.MustOpen(t)
//	admin, allTalk := sqldbtest.MustFirstRun(t, db)
//	bob := sqldbtest.MustSignUp(t, db, "Bob")
//	msg := sqldbtest.MustPost(t, db, bob.ID, allTalk.ID, "Hello")
//
// Helpers must only be called from the test's own goroutine (tb.Fatalf
// calls runtime.Goexit).
package sqldbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// PasswordHash is the stored password hash of every user the helpers create.
// Storage never checks it: hashing and comparing passwords is the web
// layer's job. Password is a plain-text password that passes validation.
const (
	PasswordHash = "$2a$04$sqldbtest.fixed.password.hash.not.a.real.bcrypt.value"
	Password     = "correct horse battery"
)

// AdminName and AdminEmail identify the administrator MustFirstRun creates.
const (
	AdminName  = "Admin"
	AdminEmail = "admin@example.com"
)

// MustOpen opens a new, migrated database in tb.TempDir() and closes it when
// the test ends. If the test failed, a copy of the database file is kept
// (its path is logged) for inspection.
func MustOpen(tb testing.TB) *sqldb.DB {
	tb.Helper()
	return MustOpenFile(tb, filepath.Join(tb.TempDir(), "campfire.db"), nil)
}

// MustOpenFile opens (creating if needed) the database at path and closes
// it when the test ends. configure, if not nil, runs before Open to set
// tunables such as Now, Logger (logs are discarded by default) or
// AutoCheckpoint. Opening the same path twice gives
// two independent handles, like two processes.
func MustOpenFile(tb testing.TB, path string, configure func(*sqldb.DB)) *sqldb.DB {
	tb.Helper()
	db := sqldb.New(path)
	db.Logger = slog.New(slog.DiscardHandler)
	if configure != nil {
		configure(db)
	}
	if err := db.Open(context.Background()); err != nil {
		tb.Fatalf("open database %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close database %s: %v", db.Path, err)
		}
		if tb.Failed() {
			keepForInspection(tb, db.Path)
		}
	})
	return db
}

// keepForInspection copies a failed test's (closed) database out of the
// temporary directory, which the testing package removes.
func keepForInspection(tb testing.TB, path string) {
	src, err := os.Open(path)
	if err != nil {
		return // the test may have removed it on purpose
	}
	defer src.Close()
	name := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, tb.Name())
	dst, err := os.CreateTemp("", "campfire-failed-"+name+"-*.db")
	if err != nil {
		tb.Logf("keep failed database: %v", err)
		return
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		tb.Logf("keep failed database: %v", err)
		return
	}
	tb.Logf("kept the database of the failed test at %s", dst.Name())
}

// Clock is a fake time source for DB.Now: every call returns a time Step
// later than the previous one, so rows written one after another never share
// a timestamp. It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	Step time.Duration
}

// NewClock returns a Clock starting at start and advancing by one second per
// call.
func NewClock(start time.Time) *Clock { return &Clock{now: start, Step: time.Second} }

// Now advances the clock by Step and returns the new time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.Step)
	return c.now
}

// Advance moves the clock forward by d without returning a time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// MustFirstRun sets the account up with AdminName/AdminEmail as its
// administrator and returns the administrator and the "All Talk" room.
func MustFirstRun(tb testing.TB, db *sqldb.DB) (*chat.User, *chat.Room) {
	tb.Helper()
	u, room, err := db.FirstRun(context.Background(), chat.NewUser{
		Name: AdminName, Email: AdminEmail, Password: Password,
	}, PasswordHash)
	if err != nil {
		tb.Fatalf("first run: %v", err)
	}
	return u, room
}

// MustJoinCode returns the account's current join code.
func MustJoinCode(tb testing.TB, db *sqldb.DB) string {
	tb.Helper()
	a, err := db.FindAccount(context.Background())
	if err != nil {
		tb.Fatalf("find account: %v", err)
	}
	return a.JoinCode
}

// Email returns the address MustSignUp gives a user called name: the name's
// letters and digits, lower-cased, with other runs of characters as "-",
// at example.com ("Bob Smith" is bob-smith@example.com).
func Email(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		b.WriteString("user")
	}
	return b.String() + "@example.com"
}

// MustSignUp creates a member called name, with Email(name), through the
// account's join code. The account must exist (see MustFirstRun).
func MustSignUp(tb testing.TB, db *sqldb.DB, name string) *chat.User {
	tb.Helper()
	return MustSignUpUser(tb, db, chat.NewUser{Name: name, Email: Email(name), Password: Password})
}

// MustSignUpUser creates a member from nu through the account's join code.
// An empty nu.Password defaults to Password.
func MustSignUpUser(tb testing.TB, db *sqldb.DB, nu chat.NewUser) *chat.User {
	tb.Helper()
	if nu.Password == "" {
		nu.Password = Password
	}
	u, err := db.SignUp(context.Background(), MustJoinCode(tb, db), nu, PasswordHash)
	if err != nil {
		tb.Fatalf("sign up %q: %v", nu.Name, err)
	}
	return u
}

// MustCreateRoom creates an open or closed room as actorID; userIDs are the
// other members of a closed room.
func MustCreateRoom(tb testing.TB, db *sqldb.DB, actorID int64, name string, typ chat.RoomType, userIDs ...int64) *chat.Room {
	tb.Helper()
	room, err := db.CreateRoom(context.Background(), actorID, chat.NewRoom{Name: name, Type: typ, UserIDs: userIDs})
	if err != nil {
		tb.Fatalf("create %s room %q: %v", typ, name, err)
	}
	return room
}

// MustDirectRoom finds or creates the direct room of actorID and userIDs.
func MustDirectRoom(tb testing.TB, db *sqldb.DB, actorID int64, userIDs ...int64) *chat.Room {
	tb.Helper()
	room, _, err := db.FindOrCreateDirectRoom(context.Background(), actorID, userIDs)
	if err != nil {
		tb.Fatalf("direct room of %d with %v: %v", actorID, userIDs, err)
	}
	return room
}

// NewMessage returns what the web layer would store for a plain-text body:
// HTML is the escaped body in a paragraph and Plain the body itself.
func NewMessage(roomID int64, body string) chat.Message {
	return chat.Message{RoomID: roomID, Body: body, HTML: "<p>" + html.EscapeString(body) + "</p>", Plain: body}
}

// MustPost posts body as userID in roomID (see NewMessage) with a generated
// client id.
func MustPost(tb testing.TB, db *sqldb.DB, userID, roomID int64, body string) *chat.Message {
	tb.Helper()
	return MustPostMessage(tb, db, userID, NewMessage(roomID, body))
}

// MustPostMessage posts msg as userID.
func MustPostMessage(tb testing.TB, db *sqldb.DB, userID int64, msg chat.Message) *chat.Message {
	tb.Helper()
	m, _, err := db.CreateMessage(context.Background(), userID, msg)
	if err != nil {
		tb.Fatalf("post %q as %d in room %d: %v", msg.Body, userID, msg.RoomID, err)
	}
	return m
}

// HashToken returns the hash under which a session token is stored
// (hex-encoded SHA-256; the web package may use its own scheme, storage
// only compares the strings).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// MustCreateSession signs userID in on a new device whose token is token
// and returns the stored token hash (HashToken(token)).
func MustCreateSession(tb testing.TB, db *sqldb.DB, userID int64, token string) string {
	tb.Helper()
	hash := HashToken(token)
	if _, err := db.CreateSession(context.Background(), userID, hash, "192.0.2.1", "sqldbtest"); err != nil {
		tb.Fatalf("create session for %d: %v", userID, err)
	}
	return hash
}
