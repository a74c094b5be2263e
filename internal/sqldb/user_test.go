package sqldb_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

func TestSessions(t *testing.T) {
	clock := sqldbtest.NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	db := sqldbtest.MustOpenFile(t, t.TempDir()+"/campfire.db", func(db *sqldb.DB) { db.Now = clock.Now })
	admin, _ := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")

	t.Run("OK", func(t *testing.T) {
		hash := sqldbtest.HashToken("bob-laptop")
		s, err := db.CreateSession(ctx, bob.ID, hash, "198.51.100.7", "Firefox")
		if err != nil {
			t.Fatal(err)
		}
		if s.ID == 0 || s.UserID != bob.ID || s.IPAddress != "198.51.100.7" || s.UserAgent != "Firefox" {
			t.Errorf("CreateSession = %+v", s)
		}
		u, got, err := db.Authenticate(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != bob.ID || got.ID != s.ID || got.UserID != bob.ID || got.UserAgent != "Firefox" {
			t.Errorf("Authenticate = %+v, %+v", u, got)
		}
		if err := db.DeleteSession(ctx, hash); err != nil {
			t.Fatal(err)
		}
		_, _, err = db.Authenticate(ctx, hash)
		wantCode(t, err, chat.EUNAUTHORIZED)
		// Signing out twice is harmless.
		wantCode(t, db.DeleteSession(ctx, hash), "")
	})

	t.Run("OKRefreshesLastActive", func(t *testing.T) {
		hash := sqldbtest.MustCreateSession(t, db, bob.ID, "bob-phone")
		_, s1, err := db.Authenticate(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Hour)
		if _, _, err := db.Authenticate(ctx, hash); err != nil {
			t.Fatal(err)
		}
		_, s2, err := db.Authenticate(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if !s2.LastActiveAt.After(s1.LastActiveAt.Add(time.Hour)) {
			t.Errorf("last_active_at = %v, was %v: not refreshed after two hours", s2.LastActiveAt, s1.LastActiveAt)
		}
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		for _, hash := range []string{"", "unknown", sqldbtest.HashToken("never issued")} {
			_, _, err := db.Authenticate(ctx, hash)
			wantCode(t, err, chat.EUNAUTHORIZED)
		}
		_, err := db.CreateSession(ctx, 9999, sqldbtest.HashToken("ghost"), "", "")
		wantCode(t, err, chat.EUNAUTHORIZED)
	})

	t.Run("ErrConflictSameToken", func(t *testing.T) {
		hash := sqldbtest.MustCreateSession(t, db, bob.ID, "dup")
		_, err := db.CreateSession(ctx, admin.ID, hash, "", "")
		wantCode(t, err, chat.ECONFLICT)
	})

	t.Run("ErrUnauthorizedDeactivated", func(t *testing.T) {
		carol := sqldbtest.MustSignUp(t, db, "Carol")
		hash := sqldbtest.MustCreateSession(t, db, carol.ID, "carol-laptop")
		if _, _, err := db.Authenticate(ctx, hash); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Deactivate(ctx, admin.ID, carol.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err := db.Authenticate(ctx, hash)
		wantCode(t, err, chat.EUNAUTHORIZED)
		// Nor can a deactivated user get a new session.
		_, err = db.CreateSession(ctx, carol.ID, sqldbtest.HashToken("carol-again"), "", "")
		wantCode(t, err, chat.EUNAUTHORIZED)
		cred, err := db.FindCredentials(ctx, carol.Email)
		if err != nil || cred.User.Status != chat.StatusDeactivated {
			t.Errorf("FindCredentials(deactivated) = %+v, %v; want the user, deactivated", cred, err)
		}
	})

	t.Run("OKLongFieldsTruncated", func(t *testing.T) {
		ua := strings.Repeat("a", 2000)
		hash := sqldbtest.HashToken("long")
		created, err := db.CreateSession(ctx, bob.ID, hash, "2001:db8::1", ua)
		if err != nil {
			t.Fatal(err)
		}
		_, s, err := db.Authenticate(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.UserAgent) > 512 {
			t.Errorf("stored user agent is %d bytes, want at most 512", len(s.UserAgent))
		}
		// CreateSession returns what was stored.
		if created.UserAgent != s.UserAgent || created.IPAddress != s.IPAddress {
			t.Errorf("CreateSession returned user agent of %d bytes, stored %d", len(created.UserAgent), len(s.UserAgent))
		}
	})
}

func TestUpdateProfile(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")
	sqldbtest.MustSignUp(t, db, "Carol")

	t.Run("OK", func(t *testing.T) {
		u, err := db.UpdateProfile(ctx, bob.ID, chat.UserUpdate{Name: ptr(" Robert "), Bio: ptr(" Builds things. "), Email: ptr("ROBERT@example.com")}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "Robert" || u.Bio != "Builds things." || u.Email != "robert@example.com" {
			t.Errorf("UpdateProfile = %+v", u)
		}
		u, err = db.UpdateProfile(ctx, bob.ID, chat.UserUpdate{}, "", "")
		if err != nil || u.Name != "Robert" || u.Bio != "Builds things." {
			t.Errorf("empty UpdateProfile changed the user: %+v, %v", u, err)
		}
	})

	t.Run("OKPasswordSignsOutOtherSessions", func(t *testing.T) {
		current := sqldbtest.MustCreateSession(t, db, bob.ID, "current")
		other1 := sqldbtest.MustCreateSession(t, db, bob.ID, "other1")
		other2 := sqldbtest.MustCreateSession(t, db, bob.ID, "other2")
		if _, err := db.UpdateProfile(ctx, bob.ID, chat.UserUpdate{Password: ptr("a new password")}, "new-hash", current); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Authenticate(ctx, current); err != nil {
			t.Errorf("the current session was signed out: %v", err)
		}
		for _, h := range []string{other1, other2} {
			_, _, err := db.Authenticate(ctx, h)
			wantCode(t, err, chat.EUNAUTHORIZED)
		}
		cred, err := db.FindCredentials(ctx, "robert@example.com")
		if err != nil || cred.PasswordHash != "new-hash" {
			t.Errorf("password hash = %q, %v, want new-hash", cred.PasswordHash, err)
		}
	})

	t.Run("OKNoPasswordKeepsSessions", func(t *testing.T) {
		a := sqldbtest.MustCreateSession(t, db, bob.ID, "keep-a")
		b := sqldbtest.MustCreateSession(t, db, bob.ID, "keep-b")
		if _, err := db.UpdateProfile(ctx, bob.ID, chat.UserUpdate{Bio: ptr("x")}, "", a); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{a, b} {
			if _, _, err := db.Authenticate(ctx, h); err != nil {
				t.Errorf("session lost on a bio change: %v", err)
			}
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		_, err := db.UpdateProfile(ctx, bob.ID, chat.UserUpdate{Email: ptr("Carol@example.com")}, "", "")
		wantCode(t, err, chat.ECONFLICT)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, upd := range []chat.UserUpdate{
			{Name: ptr("  ")},
			{Email: ptr("nope")},
			{Password: ptr("short")},
			{Bio: ptr(strings.Repeat("é", chat.MaxBioLength+1))},
		} {
			_, err := db.UpdateProfile(ctx, bob.ID, upd, "h", "")
			wantCode(t, err, chat.EINVALID)
		}
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := db.UpdateProfile(ctx, 9999, chat.UserUpdate{Bio: ptr("x")}, "", "")
		wantCode(t, err, chat.EUNAUTHORIZED)
	})
}

func TestFindUsers(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, _ := sqldbtest.MustFirstRun(t, db)
	percent := sqldbtest.MustSignUp(t, db, "100% Real")
	under := sqldbtest.MustSignUp(t, db, "snake_case")
	plain := sqldbtest.MustSignUp(t, db, "snakeXcase")
	backslash := sqldbtest.MustSignUp(t, db, `back\slash`)
	zed := sqldbtest.MustSignUp(t, db, "zed")
	gone := sqldbtest.MustSignUp(t, db, "Gone Snake")
	if _, err := db.Deactivate(ctx, admin.ID, gone.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		filter sqldb.UserFilter
		want   []int64
	}{
		{"OKAll", sqldb.UserFilter{}, []int64{percent.ID, admin.ID, backslash.ID, under.ID, plain.ID, zed.ID}},
		{"OKCaseInsensitive", sqldb.UserFilter{Query: "SNAKE"}, []int64{under.ID, plain.ID}},
		{"OKPercentIsLiteral", sqldb.UserFilter{Query: "%"}, []int64{percent.ID}},
		{"OKUnderscoreIsLiteral", sqldb.UserFilter{Query: "e_c"}, []int64{under.ID}},
		{"OKBackslashIsLiteral", sqldb.UserFilter{Query: `k\s`}, []int64{backslash.ID}},
		{"OKTrimmed", sqldb.UserFilter{Query: "  zed  "}, []int64{zed.ID}},
		{"OKIncludeInactive", sqldb.UserFilter{Query: "snake", IncludeInactive: true}, []int64{gone.ID, under.ID, plain.ID}},
		{"OKLimit", sqldb.UserFilter{Limit: 2}, []int64{percent.ID, admin.ID}},
		{"OKNoMatch", sqldb.UserFilter{Query: "nobody"}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := db.FindUsers(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, userIDs(users)); diff != "" {
				t.Errorf("FindUsers(%+v) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func TestSetRole(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, _ := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")
	carol := sqldbtest.MustSignUp(t, db, "Carol")

	t.Run("OK", func(t *testing.T) {
		u, err := db.SetRole(ctx, admin.ID, bob.ID, chat.RoleAdministrator)
		if err != nil || u.Role != chat.RoleAdministrator {
			t.Fatalf("promote: %+v, %v", u, err)
		}
		// The new administrator may now demote the old one.
		u, err = db.SetRole(ctx, bob.ID, admin.ID, chat.RoleMember)
		if err != nil || u.Role != chat.RoleMember {
			t.Fatalf("demote: %+v, %v", u, err)
		}
		if _, err := db.SetRole(ctx, bob.ID, admin.ID, chat.RoleAdministrator); err != nil {
			t.Fatal(err)
		}
	})

	tests := []struct {
		name             string
		actor, target    int64
		role             chat.Role
		want             string
		wantTargetRoleIs chat.Role
	}{
		{"ErrForbiddenMember", carol.ID, bob.ID, chat.RoleMember, chat.EFORBIDDEN, chat.RoleAdministrator},
		{"ErrForbiddenMemberSelf", carol.ID, carol.ID, chat.RoleAdministrator, chat.EFORBIDDEN, chat.RoleMember},
		{"ErrForbiddenOwnRole", admin.ID, admin.ID, chat.RoleMember, chat.EFORBIDDEN, chat.RoleAdministrator},
		{"ErrInvalidBotRole", admin.ID, carol.ID, chat.RoleBot, chat.EINVALID, chat.RoleMember},
		{"ErrInvalidUnknownRole", admin.ID, carol.ID, chat.Role("owner"), chat.EINVALID, chat.RoleMember},
		{"ErrNotFound", admin.ID, 9999, chat.RoleMember, chat.ENOTFOUND, ""},
		{"ErrUnauthorized", 9999, carol.ID, chat.RoleMember, chat.EUNAUTHORIZED, chat.RoleMember},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.SetRole(ctx, tt.actor, tt.target, tt.role)
			wantCode(t, err, tt.want)
			if tt.wantTargetRoleIs == "" {
				return
			}
			u, err := db.FindUserByID(ctx, tt.target)
			if err != nil || u.Role != tt.wantTargetRoleIs {
				t.Errorf("role after refusal = %q, %v, want %q", u.Role, err, tt.wantTargetRoleIs)
			}
		})
	}
}

func TestDeactivate(t *testing.T) {
	f := newFixture(t)
	db := f.db

	t.Run("OK", func(t *testing.T) {
		u, err := db.Deactivate(ctx, f.admin.ID, f.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != chat.StatusDeactivated || u.IsActive() {
			t.Errorf("Deactivate = %+v", u)
		}
		if isMember(t, db, f.allTalk.ID, f.alice.ID) || isMember(t, db, f.closed.ID, f.alice.ID) {
			t.Error("a deactivated user kept an open or closed membership")
		}
		if !isMember(t, db, f.direct.ID, f.alice.ID) {
			t.Error("a deactivated user lost a direct-room membership")
		}
		// Messages stay.
		if _, err := db.FindMessage(ctx, f.admin.ID, f.closedMsg.ID); err != nil {
			t.Errorf("a deactivated user's message: %v", err)
		}
		// A deactivated user cannot act.
		_, err = db.FindRooms(ctx, f.alice.ID)
		wantCode(t, err, chat.EUNAUTHORIZED)
		_, _, err = db.CreateMessage(ctx, f.alice.ID, sqldbtest.NewMessage(f.direct.ID, "still here?"))
		wantCode(t, err, chat.EUNAUTHORIZED)
		// Nor is a deactivated user listed as a member or offered as one.
		members, err := db.FindRoomMembers(ctx, f.bob.ID, f.direct.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{f.bob.ID}, userIDs(members)); diff != "" {
			t.Errorf("direct room members (-want +got):\n%s", diff)
		}
		// New open rooms skip deactivated users.
		r := sqldbtest.MustCreateRoom(t, db, f.admin.ID, "After", chat.RoomOpen)
		if isMember(t, db, r.ID, f.alice.ID) {
			t.Error("a deactivated user joined a new open room")
		}
	})

	t.Run("ErrForbiddenSelf", func(t *testing.T) {
		_, err := db.Deactivate(ctx, f.admin.ID, f.admin.ID)
		wantCode(t, err, chat.EFORBIDDEN)
	})
	t.Run("ErrForbiddenMember", func(t *testing.T) {
		_, err := db.Deactivate(ctx, f.bob.ID, f.carol.ID)
		wantCode(t, err, chat.EFORBIDDEN)
		if u, _ := db.FindUserByID(ctx, f.carol.ID); !u.IsActive() {
			t.Error("a member deactivated someone")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := db.Deactivate(ctx, f.admin.ID, 9999)
		wantCode(t, err, chat.ENOTFOUND)
	})
}
