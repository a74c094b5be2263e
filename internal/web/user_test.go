package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// userList fetches GET /api/users (with query) as raw objects, keyed by id,
// so a missing "email" key is visible.
func (c *client) userList(query string) map[int64]map[string]any {
	c.e.t.Helper()
	var out struct {
		Users []map[string]any `json:"users"`
	}
	c.call(http.StatusOK, "GET", "/api/users"+query, nil, &out)
	m := map[int64]map[string]any{}
	for _, u := range out.Users {
		m[int64(u["id"].(float64))] = u
	}
	return m
}

func TestUserEmailsAreVisibleToAdminsAndOwners(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")

	for _, viewer := range []*client{admin, bob, carol} {
		users := viewer.userList("")
		if len(users) != 3 {
			t.Fatalf("%s sees %d users, want 3", viewer.user.Name, len(users))
		}
		for _, u := range []*client{admin, bob, carol} {
			email, shown := users[u.user.ID]["email"]
			want := viewer.user.Role == chat.RoleAdministrator || viewer == u
			if shown != want || (shown && email != u.user.Email) {
				t.Errorf("%s sees %s's email as %v (shown %v), want shown %v", viewer.user.Name, u.user.Name, email, shown, want)
			}
		}
		// The same on a single user and in member lists.
		r := viewer.call(http.StatusOK, "GET", "/api/users/"+itoa(carol.user.ID), nil, nil)
		if got := strings.Contains(string(r.Body), carol.user.Email); got != (viewer != bob) {
			t.Errorf("%s: email shown %v", r, got)
		}
		room := viewer.roomNamed(chat.FirstRoomName)
		r = viewer.call(http.StatusOK, "GET", "/api/rooms/"+itoa(room.ID)+"/members", nil, nil)
		for _, u := range []*client{admin, bob, carol} {
			if got, want := strings.Contains(string(r.Body), u.user.Email), viewer == admin || viewer == u; got != want {
				t.Errorf("%s: %s's email shown %v, want %v", r, u.user.Name, got, want)
			}
		}
	}
	bob.call(http.StatusNotFound, "GET", "/api/users/999999", nil, nil)

	// Name filter.
	if got := bob.userList("?q=car"); len(got) != 1 || got[carol.user.ID] == nil {
		t.Errorf("users matching car = %v", got)
	}
	if got := bob.userList("?q=%25"); len(got) != 0 {
		t.Errorf("users matching %% = %v, want none (LIKE wildcards are literal)", got)
	}

	// Only administrators list deactivated users.
	admin.call(http.StatusOK, "DELETE", "/api/users/"+itoa(carol.user.ID), nil, nil)
	if got := admin.userList(""); got[carol.user.ID] != nil || len(got) != 2 {
		t.Errorf("admin's users after deactivation = %v", got)
	}
	if got := admin.userList("?inactive=true"); got[carol.user.ID] == nil || got[carol.user.ID]["status"] != "deactivated" {
		t.Errorf("admin's users with inactive = %v", got)
	}
	if got := bob.userList("?inactive=true"); got[carol.user.ID] != nil {
		t.Errorf("member's users with inactive = %v, want no deactivated user", got)
	}
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	other := bob.signIn() // a second device

	var u chat.User
	bob.call(http.StatusOK, "PATCH", "/api/me", map[string]string{"name": "  Robert  ", "bio": " Builds things. "}, &u)
	if u.Name != "Robert" || u.Bio != "Builds things." || u.Email != bob.user.Email || u.Role != chat.RoleMember {
		t.Errorf("updated profile = %+v", u)
	}
	bob.call(http.StatusOK, "GET", "/api/me", nil, &u)
	if u.Name != "Robert" || u.Bio != "Builds things." {
		t.Errorf("profile after update = %+v", u)
	}
	// A name-only change keeps every session.
	other.call(http.StatusOK, "GET", "/api/me", nil, nil)

	for _, in := range []map[string]any{
		{"name": ""},
		{"name": strings.Repeat("n", 101)},
		{"bio": strings.Repeat("b", 201)},
		{"email": "nope"},
		{"password": "short"},
		{"role": "administrator"},
		{"status": "active"},
	} {
		bob.call(http.StatusBadRequest, "PATCH", "/api/me", in, nil)
	}
	bob.call(http.StatusConflict, "PATCH", "/api/me", map[string]string{"email": strings.ToUpper(adminEmail)}, nil)
	bob.call(http.StatusOK, "GET", "/api/me", nil, &u)
	if u.Role != chat.RoleMember || u.Email != bob.user.Email {
		t.Errorf("profile after refused updates = %+v", u)
	}

	// A password change signs out the other sessions but not this one.
	bob.call(http.StatusOK, "PATCH", "/api/me", map[string]string{"password": "a brand new password"}, nil)
	bob.call(http.StatusOK, "GET", "/api/me", nil, nil)
	other.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
	e.anon().call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": bob.user.Email, "password": bob.password}, nil)
	e.anon().signInAs(bob.user.Email, "a brand new password")
	// Others' sessions are untouched.
	admin.call(http.StatusOK, "GET", "/api/me", nil, nil)

	// A changed email address is the one to sign in with.
	bob.call(http.StatusOK, "PATCH", "/api/me", map[string]string{"email": "Robert@Example.com"}, &u)
	if u.Email != "robert@example.com" {
		t.Errorf("email = %q, want it normalized", u.Email)
	}
	e.anon().signInAs("robert@example.com", "a brand new password")
	e.anon().call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": bob.user.Email, "password": "a brand new password"}, nil)
}

func TestChangeRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")

	role := func(r chat.Role) map[string]chat.Role { return map[string]chat.Role{"role": r} }
	// Members cannot change roles, their own or others'.
	bob.call(http.StatusForbidden, "PATCH", "/api/users/"+itoa(carol.user.ID), role(chat.RoleAdministrator), nil)
	bob.call(http.StatusForbidden, "PATCH", "/api/users/"+itoa(bob.user.ID), role(chat.RoleAdministrator), nil)
	// Administrators cannot change their own.
	admin.call(http.StatusForbidden, "PATCH", "/api/users/"+itoa(admin.user.ID), role(chat.RoleMember), nil)
	admin.call(http.StatusBadRequest, "PATCH", "/api/users/"+itoa(carol.user.ID), role(chat.RoleBot), nil)
	admin.call(http.StatusBadRequest, "PATCH", "/api/users/"+itoa(carol.user.ID), role("owner"), nil)
	admin.call(http.StatusBadRequest, "PATCH", "/api/users/"+itoa(carol.user.ID), map[string]string{"role": "member", "name": "x"}, nil)
	admin.call(http.StatusNotFound, "PATCH", "/api/users/999999", role(chat.RoleMember), nil)

	var u chat.User
	admin.call(http.StatusOK, "PATCH", "/api/users/"+itoa(carol.user.ID), role(chat.RoleAdministrator), &u)
	if u.ID != carol.user.ID || u.Role != chat.RoleAdministrator {
		t.Errorf("promoted user = %+v", u)
	}
	// The promotion takes effect on Carol's existing session.
	carol.call(http.StatusCreated, "POST", "/api/account/join_code", nil, nil)
	if got := carol.userList(""); got[bob.user.ID]["email"] != bob.user.Email {
		t.Errorf("new administrator does not see emails: %v", got[bob.user.ID])
	}
	carol.call(http.StatusOK, "PATCH", "/api/users/"+itoa(admin.user.ID), role(chat.RoleMember), nil)
	admin.call(http.StatusForbidden, "POST", "/api/account/join_code", nil, nil)
	admin.call(http.StatusForbidden, "PATCH", "/api/account", map[string]bool{"restrict_room_creation": true}, nil)
}
