package sqldb_test

import (
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

var joinCodeRE = regexp.MustCompile(`^[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}$`)

func newAdmin(i int) chat.NewUser {
	return chat.NewUser{Name: "Admin", Email: "admin" + string(rune('a'+i)) + "@example.com", Password: sqldbtest.Password}
}

func TestFirstRun(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := sqldbtest.MustOpen(t)
		if ok, err := db.HasAccount(ctx); err != nil || ok {
			t.Fatalf("HasAccount() before first run = %v, %v, want false", ok, err)
		}
		_, err := db.FindAccount(ctx)
		wantCode(t, err, chat.ENOTFOUND)

		admin, room, err := db.FirstRun(ctx, chat.NewUser{
			Name: "  Ada  ", Email: " ADA@Example.COM ", Password: sqldbtest.Password,
			Role: chat.RoleMember, // ignored: first run makes an administrator
		}, sqldbtest.PasswordHash)
		if err != nil {
			t.Fatal(err)
		}
		if admin.Name != "Ada" || admin.Email != "ada@example.com" || admin.Role != chat.RoleAdministrator || admin.Status != chat.StatusActive {
			t.Errorf("admin = %+v, want active administrator Ada <ada@example.com>", admin)
		}
		if room.Name != chat.FirstRoomName || room.Type != chat.RoomOpen || room.CreatorID != admin.ID {
			t.Errorf("room = %+v, want open %q created by the admin", room, chat.FirstRoomName)
		}
		if ok, err := db.HasAccount(ctx); err != nil || !ok {
			t.Errorf("HasAccount() = %v, %v, want true", ok, err)
		}
		acct, err := db.FindAccount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if acct.Name != chat.DefaultAccountName || acct.RestrictRoomCreation || !joinCodeRE.MatchString(acct.JoinCode) {
			t.Errorf("account = %+v", acct)
		}
		rooms, err := db.FindRooms(ctx, admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rooms) != 1 || rooms[0].ID != room.ID || rooms[0].Membership == nil ||
			rooms[0].Membership.Involvement != chat.InvolvedMentions || rooms[0].Membership.Unread() {
			t.Errorf("FindRooms(admin) = %+v, want All Talk with a read membership", rooms)
		}
		cred, err := db.FindCredentials(ctx, "Ada@example.com")
		if err != nil || cred.PasswordHash != sqldbtest.PasswordHash || cred.User.ID != admin.ID {
			t.Errorf("FindCredentials = %+v, %v", cred, err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		db := sqldbtest.MustOpen(t)
		for _, nu := range []chat.NewUser{
			{Name: "", Email: "a@example.com", Password: sqldbtest.Password},
			{Name: "A", Email: "not an email", Password: sqldbtest.Password},
			{Name: "A", Email: "a@example.com", Password: "short"},
		} {
			_, _, err := db.FirstRun(ctx, nu, sqldbtest.PasswordHash)
			wantCode(t, err, chat.EINVALID)
		}
		if ok, _ := db.HasAccount(ctx); ok {
			t.Error("a refused first run created the account")
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		db := sqldbtest.MustOpen(t)
		sqldbtest.MustFirstRun(t, db)
		_, _, err := db.FirstRun(ctx, newAdmin(1), sqldbtest.PasswordHash)
		wantCode(t, err, chat.ECONFLICT)
		// All or nothing: the second administrator was not created.
		if n := mustCount(t, db, `SELECT COUNT(*) FROM users`); n != 1 {
			t.Errorf("users = %d, want 1", n)
		}
		if n := mustCount(t, db, `SELECT COUNT(*) FROM rooms`); n != 1 {
			t.Errorf("rooms = %d, want 1", n)
		}
	})

	// race runs FirstRun once per handle in dbs, all at once, and checks that
	// exactly one succeeds and the rest conflict.
	race := func(t *testing.T, dbs []*sqldb.DB) {
		t.Helper()
		codes := make([]string, len(dbs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				<-start
				_, _, err := db.FirstRun(ctx, newAdmin(i), sqldbtest.PasswordHash)
				codes[i] = chat.ErrorCode(err)
			})
		}
		close(start)
		wg.Wait()
		got := map[string]int{}
		for _, c := range codes {
			got[c]++
		}
		want := map[string]int{"": 1, chat.ECONFLICT: len(dbs) - 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FirstRun results by error code (-want +got):\n%s", diff)
		}
		for _, q := range []string{`SELECT COUNT(*) FROM users`, `SELECT COUNT(*) FROM accounts`, `SELECT COUNT(*) FROM rooms`} {
			if n := mustCount(t, dbs[0], q); n != 1 {
				t.Errorf("%s = %d, want 1", q, n)
			}
		}
	}

	t.Run("ErrConflictConcurrent", func(t *testing.T) {
		db := sqldbtest.MustOpen(t)
		dbs := make([]*sqldb.DB, 10)
		for i := range dbs {
			dbs[i] = db
		}
		race(t, dbs)
	})

	t.Run("ErrConflictTwoProcesses", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "campfire.db")
		dbs := make([]*sqldb.DB, 10)
		for i := range dbs {
			// Two handles on one file, as two processes would have.
			if i < 2 {
				dbs[i] = sqldbtest.MustOpenFile(t, path, nil)
			} else {
				dbs[i] = dbs[i%2]
			}
		}
		race(t, dbs)
	})
}

func TestUpdateAccount(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, _ := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")

	t.Run("OK", func(t *testing.T) {
		a, err := db.UpdateAccount(ctx, admin.ID, sqldb.AccountUpdate{Name: ptr("  Base Camp "), RestrictRoomCreation: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != "Base Camp" || !a.RestrictRoomCreation {
			t.Errorf("UpdateAccount = %+v", a)
		}
		a, err = db.UpdateAccount(ctx, admin.ID, sqldb.AccountUpdate{RestrictRoomCreation: ptr(false)})
		if err != nil || a.Name != "Base Camp" || a.RestrictRoomCreation {
			t.Errorf("UpdateAccount(restrict=false) = %+v, %v; name must stay", a, err)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		_, err := db.UpdateAccount(ctx, bob.ID, sqldb.AccountUpdate{RestrictRoomCreation: ptr(true)})
		wantCode(t, err, chat.EFORBIDDEN)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := db.UpdateAccount(ctx, admin.ID, sqldb.AccountUpdate{Name: ptr("   ")})
		wantCode(t, err, chat.EINVALID)
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := db.UpdateAccount(ctx, 9999, sqldb.AccountUpdate{Name: ptr("X")})
		wantCode(t, err, chat.EUNAUTHORIZED)
	})
}

func TestSignUp(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, allTalk := sqldbtest.MustFirstRun(t, db)
	second := sqldbtest.MustCreateRoom(t, db, admin.ID, "Second", chat.RoomOpen)
	closed := sqldbtest.MustCreateRoom(t, db, admin.ID, "Closed", chat.RoomClosed)
	code := sqldbtest.MustJoinCode(t, db)
	if !joinCodeRE.MatchString(code) {
		t.Fatalf("join code %q is not XXXX-XXXX-XXXX", code)
	}

	t.Run("OK", func(t *testing.T) {
		u, err := db.SignUp(ctx, code, chat.NewUser{
			Name: " Dana ", Email: "Dana@Example.com", Password: sqldbtest.Password,
			Role: chat.RoleAdministrator, // ignored: the join link makes members
		}, sqldbtest.PasswordHash)
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "Dana" || u.Email != "dana@example.com" || u.Role != chat.RoleMember || u.Status != chat.StatusActive {
			t.Errorf("SignUp = %+v", u)
		}
		rooms, err := db.FindRooms(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]bool{}
		for _, r := range rooms {
			got[r.ID] = true
		}
		if diff := cmp.Diff(map[int64]bool{allTalk.ID: true, second.ID: true}, got); diff != "" {
			t.Errorf("rooms of a new member (-want +got):\n%s", diff)
		}
		if isMember(t, db, closed.ID, u.ID) {
			t.Error("a new member joined a closed room")
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, c := range []string{"", "AAAA-BBBB-CCCC", code + "x", " " + code} {
			_, err := db.SignUp(ctx, c, chat.NewUser{Name: "Eve", Email: "eve@example.com", Password: sqldbtest.Password}, sqldbtest.PasswordHash)
			wantCode(t, err, chat.ENOTFOUND)
			wantCode(t, db.CheckJoinCode(ctx, c), chat.ENOTFOUND)
		}
		wantCode(t, db.CheckJoinCode(ctx, code), "")
	})

	t.Run("ErrConflict", func(t *testing.T) {
		sqldbtest.MustSignUpUser(t, db, chat.NewUser{Name: "Frank", Email: "frank@example.com"})
		for _, email := range []string{"frank@example.com", "FRANK@example.com", " Frank@Example.Com "} {
			_, err := db.SignUp(ctx, code, chat.NewUser{Name: "Frank 2", Email: email, Password: sqldbtest.Password}, sqldbtest.PasswordHash)
			wantCode(t, err, chat.ECONFLICT)
		}
		// The administrator's address is taken too.
		_, err := db.SignUp(ctx, code, chat.NewUser{Name: "Imposter", Email: "ADMIN@example.com", Password: sqldbtest.Password}, sqldbtest.PasswordHash)
		wantCode(t, err, chat.ECONFLICT)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := db.SignUp(ctx, code, chat.NewUser{Name: "Gus", Email: "gus@", Password: sqldbtest.Password}, sqldbtest.PasswordHash)
		wantCode(t, err, chat.EINVALID)
	})

	t.Run("ErrNotSetUp", func(t *testing.T) {
		empty := sqldbtest.MustOpen(t)
		_, err := empty.SignUp(ctx, "AAAA-BBBB-CCCC", chat.NewUser{Name: "Hal", Email: "hal@example.com", Password: sqldbtest.Password}, sqldbtest.PasswordHash)
		wantCode(t, err, chat.ENOTFOUND)
	})
}

func TestRegenerateJoinCode(t *testing.T) {
	db := sqldbtest.MustOpen(t)
	admin, _ := sqldbtest.MustFirstRun(t, db)
	bob := sqldbtest.MustSignUp(t, db, "Bob")

	t.Run("OK", func(t *testing.T) {
		old := sqldbtest.MustJoinCode(t, db)
		code, err := db.RegenerateJoinCode(ctx, admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		if code == old || !joinCodeRE.MatchString(code) {
			t.Errorf("RegenerateJoinCode = %q (old %q), want a new XXXX-XXXX-XXXX code", code, old)
		}
		if got := sqldbtest.MustJoinCode(t, db); got != code {
			t.Errorf("stored join code = %q, want %q", got, code)
		}
		_, err = db.SignUp(ctx, old, chat.NewUser{Name: "Late", Email: "late@example.com", Password: sqldbtest.Password}, sqldbtest.PasswordHash)
		wantCode(t, err, chat.ENOTFOUND)
		if _, err := db.SignUp(ctx, code, chat.NewUser{Name: "Late", Email: "late@example.com", Password: sqldbtest.Password}, sqldbtest.PasswordHash); err != nil {
			t.Errorf("SignUp with the new code: %v", err)
		}
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		before := sqldbtest.MustJoinCode(t, db)
		_, err := db.RegenerateJoinCode(ctx, bob.ID)
		wantCode(t, err, chat.EFORBIDDEN)
		if got := sqldbtest.MustJoinCode(t, db); got != before {
			t.Errorf("a member changed the join code")
		}
	})
}
