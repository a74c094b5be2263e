package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/web"
)

func TestFirstRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	anon := e.anon()

	// Nothing works before first run, and nobody can sign in.
	anon.call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": adminEmail, "password": adminPassword}, nil)
	anon.call(http.StatusNotFound, "GET", "/api/join/AAAA-BBBB-CCCC", nil, nil)

	// Bad input is refused with a message that says what to fix.
	bad := []struct {
		name, email, password, message string
	}{
		{"Admin", adminEmail, "short", "at least 8 characters"},
		{"Admin", adminEmail, strings.Repeat("x", 73), "at most 72 bytes"},
		{"Admin", "not-an-email", adminPassword, "is not valid"},
		{"Admin", "Admin <admin@example.com>", adminPassword, "is not valid"},
		{"Admin", "", adminPassword, "Email address is required"},
		{"", adminEmail, adminPassword, "Name is required"},
		{"   ", adminEmail, adminPassword, "Name is required"},
		{"Ad\nmin", adminEmail, adminPassword, "single line"},
		{strings.Repeat("n", 101), adminEmail, adminPassword, "at most 100 characters"},
	}
	for _, tt := range bad {
		r := anon.call(http.StatusBadRequest, "POST", "/api/first_run",
			map[string]string{"name": tt.name, "email": tt.email, "password": tt.password}, nil)
		if msg := r.errorMessage(t); !strings.Contains(msg, tt.message) {
			t.Errorf("%s: message %q does not contain %q", r, msg, tt.message)
		}
	}

	// The first good request creates the administrator and signs them in.
	var s signedIn
	r := anon.call(http.StatusCreated, "POST", "/api/first_run",
		map[string]string{"name": " " + adminName + " ", "email": " ADMIN@Example.COM ", "password": adminPassword}, &s)
	if s.Token == "" || s.User == nil {
		t.Fatalf("%s: want user and token", r)
	}
	if s.User.Role != chat.RoleAdministrator || s.User.Name != adminName || s.User.Email != adminEmail || s.User.Status != chat.StatusActive {
		t.Errorf("first run user = %+v, want an active administrator %q <%s>", s.User, adminName, adminEmail)
	}
	if strings.Contains(string(r.Body), "password") {
		t.Errorf("%s: response mentions a password", r)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "campfire_session" {
			cookie = c
		}
	}
	switch {
	case cookie == nil:
		t.Errorf("%s: no campfire_session cookie in %q", r, r.Header.Values("Set-Cookie"))
	case !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Value != s.Token || cookie.MaxAge <= 0:
		t.Errorf("session cookie = %q, want HttpOnly, SameSite=Lax, Path=/, the token and a Max-Age", cookie.String())
	}

	admin := &client{e: e, hc: e.ts.Client(), token: s.Token}
	var me chat.User
	admin.call(http.StatusOK, "GET", "/api/me", nil, &me)
	if me.ID != s.User.ID {
		t.Errorf("GET /api/me = %+v, want user %d", me, s.User.ID)
	}
	// First run made the first room.
	if rooms := admin.rooms(); len(rooms) != 1 || rooms[0].Name != chat.FirstRoomName || rooms[0].Type != chat.RoomOpen {
		t.Errorf("rooms after first run = %+v, want one open %q", rooms, chat.FirstRoomName)
	}

	// A second first run conflicts, with good or bad credentials alike.
	r = anon.call(http.StatusConflict, "POST", "/api/first_run",
		map[string]string{"name": "Mallory", "email": "mallory@example.com", "password": "mallory password"}, nil)
	if msg := r.errorMessage(t); !strings.Contains(msg, "already set up") {
		t.Errorf("%s: message %q", r, msg)
	}
	anon.call(http.StatusConflict, "POST", "/api/first_run",
		map[string]string{"name": adminName, "email": adminEmail, "password": adminPassword}, nil)
	anon.call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": "mallory@example.com", "password": "mallory password"}, nil)
}

// TestFirstRunConcurrent races first runs: exactly one wins.
func TestFirstRunConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 8
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]*response, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = e.anon().send("POST", "/api/first_run", map[string]string{
				"name": fmt.Sprintf("Admin %d", i), "email": fmt.Sprintf("admin%d@example.com", i), "password": adminPassword,
			})
		})
	}
	close(start)
	wg.Wait()

	var winner *signedIn
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		checkResponse(t, r)
		switch r.Status {
		case http.StatusCreated:
			if winner != nil {
				t.Errorf("%s: a second first run succeeded", r)
			}
			winner = new(signedIn)
			r.decode(t, winner)
		case http.StatusConflict:
		default:
			t.Errorf("%s: want 201 or 409", r)
		}
	}
	if winner == nil {
		t.Fatal("no first run succeeded")
	}
	admin := &client{e: e, hc: e.ts.Client(), token: winner.Token}
	var users struct {
		Users []*chat.User `json:"users"`
	}
	admin.call(http.StatusOK, "GET", "/api/users?inactive=true&bots=true", nil, &users)
	if len(users.Users) != 1 || users.Users[0].ID != winner.User.ID {
		t.Errorf("users after concurrent first runs = %+v, want only %+v", users.Users, winner.User)
	}
	if rooms := admin.rooms(); len(rooms) != 1 {
		t.Errorf("rooms after concurrent first runs = %+v, want one", rooms)
	}
}

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	anon := e.anon()

	// Wrong password and unknown email are indistinguishable.
	wrong := anon.call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": adminEmail, "password": "wrong password"}, nil)
	unknown := anon.call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": "nobody@example.com", "password": adminPassword}, nil)
	if a, b := wrong.errorMessage(t), unknown.errorMessage(t); a != b {
		t.Errorf("wrong password says %q, unknown email says %q; want the same", a, b)
	}
	anon.call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": adminEmail, "password": ""}, nil)
	anon.call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": "", "password": ""}, nil)
	anon.call(http.StatusBadRequest, "POST", "/api/session", map[string]any{"email": adminEmail, "password": adminPassword, "remember": true}, nil)

	// The email address is matched case-insensitively; each sign-in is a
	// new session with its own token.
	s1 := anon.signInAs(" Admin@EXAMPLE.com", adminPassword)
	s2 := admin.signIn()
	if s1.token == "" || s1.token == s2.token || s1.token == admin.token {
		t.Fatalf("tokens %q, %q, %q: want three different tokens", admin.token, s1.token, s2.token)
	}
	if s1.user.ID != admin.user.ID || s1.user.Email != adminEmail {
		t.Errorf("signed in as %+v, want %+v", s1.user, admin.user)
	}

	// Signing out ends only that session.
	s1.call(http.StatusOK, "GET", "/api/me", nil, nil)
	s1.call(http.StatusNoContent, "DELETE", "/api/session", nil, nil)
	s1.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
	s1.call(http.StatusUnauthorized, "DELETE", "/api/session", nil, nil)
	s2.call(http.StatusOK, "GET", "/api/me", nil, nil)
	admin.call(http.StatusOK, "GET", "/api/me", nil, nil)

	// A browser uses the cookie instead of the header.
	b := e.browser()
	b.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
	var s signedIn
	b.call(http.StatusCreated, "POST", "/api/session", map[string]string{"email": adminEmail, "password": adminPassword}, &s)
	var me chat.User
	b.call(http.StatusOK, "GET", "/api/me", nil, &me)
	if me.ID != admin.user.ID {
		t.Errorf("cookie session is user %d, want %d", me.ID, admin.user.ID)
	}
	// The token in the body is the same session as the cookie.
	bearer := &client{e: e, hc: e.ts.Client(), token: s.Token}
	bearer.call(http.StatusOK, "GET", "/api/me", nil, nil)
	// A non-Bearer Authorization header is not replaced by the cookie.
	b.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil, "Authorization", "Token "+s.Token)
	// Signing out clears the cookie and ends the session for both. With
	// the cookie, a state change needs our pages' X-Requested-With.
	b.call(http.StatusForbidden, "DELETE", "/api/session", nil, nil)
	b.call(http.StatusOK, "GET", "/api/me", nil, nil)
	r := b.call(http.StatusNoContent, "DELETE", "/api/session", nil, nil, "X-Requested-With", "campfire")
	if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "campfire_session=") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("%s: Set-Cookie %q, want the session cookie cleared", r, sc)
	}
	b.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
	bearer.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
	u, _ := url.Parse(e.url)
	if cs := b.hc.Jar.Cookies(u); len(cs) != 0 {
		t.Errorf("cookies after sign-out = %v, want none", cs)
	}
}

func TestDeactivatedUserIsSignedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	bob2 := bob.signIn()
	bob2.call(http.StatusOK, "GET", "/api/me", nil, nil)

	// Only administrators deactivate, and not themselves.
	bob.call(http.StatusForbidden, "DELETE", "/api/users/"+itoa(admin.user.ID), nil, nil)
	admin.call(http.StatusForbidden, "DELETE", "/api/users/"+itoa(admin.user.ID), nil, nil)
	admin.call(http.StatusNotFound, "DELETE", "/api/users/999999", nil, nil)

	var u chat.User
	admin.call(http.StatusOK, "DELETE", "/api/users/"+itoa(bob.user.ID), nil, &u)
	if u.Status != chat.StatusDeactivated {
		t.Errorf("deactivated user = %+v", u)
	}
	for _, c := range []*client{bob, bob2} {
		c.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
		c.call(http.StatusUnauthorized, "GET", "/api/rooms", nil, nil)
	}
	// The right password no longer signs in, with the usual message.
	r := e.anon().call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": bob.user.Email, "password": bob.password}, nil)
	if msg := r.errorMessage(t); msg != "Email address or password is incorrect." {
		t.Errorf("%s: message %q", r, msg)
	}
	// Nor can the address sign up again.
	e.anon().call(http.StatusConflict, "POST", "/api/join/"+admin.joinCode(),
		map[string]string{"name": "Bob again", "email": bob.user.Email, "password": bob.password}, nil)
}

func TestSignInRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *web.Server) { s.LoginLimit = 3 })
	admin := e.firstRun()
	anon := e.anon()
	wrong := map[string]string{"email": adminEmail, "password": "wrong password"}
	for range 3 {
		anon.call(http.StatusUnauthorized, "POST", "/api/session", wrong, nil)
	}
	r := anon.call(http.StatusTooManyRequests, "POST", "/api/session", wrong, nil)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra <= 0 {
		t.Errorf("%s: Retry-After %q, want a positive number of seconds", r, r.Header.Get("Retry-After"))
	}
	// The right password waits too, and so does an unknown address.
	anon.call(http.StatusTooManyRequests, "POST", "/api/session", map[string]string{"email": adminEmail, "password": adminPassword}, nil)
	anon.call(http.StatusTooManyRequests, "POST", "/api/session", map[string]string{"email": "x@example.com", "password": adminPassword}, nil)
	// X-Forwarded-For does not dodge the limit.
	anon.call(http.StatusTooManyRequests, "POST", "/api/session", wrong, nil, "X-Forwarded-For", "203.0.113.7")
	// Existing sessions are unaffected.
	admin.call(http.StatusOK, "GET", "/api/me", nil, nil)
}

// TestSignInRateLimitRefills checks the window: attempts come back evenly.
func TestSignInRateLimitRefills(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *web.Server) { s.LoginLimit, s.LoginWindow = 2, 2*time.Second })
	admin := e.firstRun()
	anon := e.anon()
	wrong := map[string]string{"email": adminEmail, "password": "wrong password"}
	anon.call(http.StatusUnauthorized, "POST", "/api/session", wrong, nil)
	anon.call(http.StatusUnauthorized, "POST", "/api/session", wrong, nil)
	anon.call(http.StatusTooManyRequests, "POST", "/api/session", wrong, nil)
	time.Sleep(1100 * time.Millisecond) // one attempt refills every second
	admin.signIn()
}

func TestCrossOriginProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	b := e.browser()
	b.call(http.StatusCreated, "POST", "/api/session", map[string]string{"email": adminEmail, "password": adminPassword}, nil)

	room := map[string]string{"name": "Cookies", "type": "open"}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
		{"Origin", "http://127.0.0.1:1"},
	} {
		r := b.call(http.StatusForbidden, "POST", "/api/rooms", room, nil, hdr...)
		if strings.Contains(string(r.Body), "Cookies") {
			t.Errorf("%s: echoes the request", r)
		}
		b.call(http.StatusForbidden, "DELETE", "/api/session", nil, nil, hdr...)
	}
	// Reading cross-site is not a state change.
	b.call(http.StatusOK, "GET", "/api/rooms", nil, nil, "Sec-Fetch-Site", "cross-site")
	// Nothing was created and the session survived.
	if rooms := admin.rooms(); len(rooms) != 1 {
		t.Fatalf("rooms = %+v, want only the first room", rooms)
	}
	// Same-origin requests from our pages' scripts work: they send
	// X-Requested-With, which a cross-site page cannot without a CORS
	// preflight (docs/decisions/0003-csrf.md).
	xrw := []string{"X-Requested-With", "campfire"}
	b.call(http.StatusCreated, "POST", "/api/rooms", room, nil, append([]string{"Sec-Fetch-Site", "same-origin"}, xrw...)...)
	b.call(http.StatusCreated, "POST", "/api/rooms", map[string]string{"name": "Cookies 2"}, nil, append([]string{"Origin", e.url}, xrw...)...)
	b.call(http.StatusCreated, "POST", "/api/rooms", map[string]string{"name": "Cookies 3"}, nil, xrw...)
	// Cookie-authenticated state changes without it are refused, even
	// same-origin and even from browsers that send no Origin at all;
	// reads are not state changes.
	for _, hdr := range [][]string{
		nil,
		{"Sec-Fetch-Site", "same-origin"},
		{"Origin", e.url},
		{"X-Requested-With", "XMLHttpRequest"},
	} {
		r := b.call(http.StatusForbidden, "POST", "/api/rooms", map[string]string{"name": "No header"}, nil, hdr...)
		if msg := r.errorMessage(t); !strings.Contains(msg, "X-Requested-With") {
			t.Errorf("%s: message %q", r, msg)
		}
	}
	b.call(http.StatusOK, "GET", "/api/rooms", nil, nil)
	// API clients with a bearer token send no browser headers and are not
	// affected, even when they also hold a cookie.
	admin.call(http.StatusCreated, "POST", "/api/rooms", map[string]string{"name": "Bearer"}, nil)
	withBoth := &client{e: e, hc: b.hc, token: admin.token}
	withBoth.call(http.StatusCreated, "POST", "/api/rooms", map[string]string{"name": "Bearer and cookie"}, nil)
	if rooms := admin.rooms(); len(rooms) != 6 {
		t.Errorf("rooms = %d, want 6", len(rooms))
	}
}

var joinPathPattern = regexp.MustCompile(`^/join/[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`)

func TestJoinLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	var acct account
	admin.call(http.StatusOK, "GET", "/api/account", nil, &acct)
	if !joinPathPattern.MatchString(acct.JoinPath) {
		t.Fatalf("join_path = %q, want /join/XXXX-XXXX-XXXX", acct.JoinPath)
	}
	code := strings.TrimPrefix(acct.JoinPath, "/join/")

	open2 := admin.createRoom("Open Two", chat.RoomOpen)
	closed := admin.createRoom("Closed", chat.RoomClosed)

	var show map[string]string
	e.anon().call(http.StatusOK, "GET", "/api/join/"+code, nil, &show)
	if show["account_name"] != chat.DefaultAccountName {
		t.Errorf("GET /api/join = %v", show)
	}
	e.anon().call(http.StatusNotFound, "GET", "/api/join/AAAA-BBBB-CCCC", nil, nil)
	e.anon().call(http.StatusNotFound, "GET", "/api/join/"+strings.ToLower(code), nil, nil)

	newMember := map[string]string{"name": "Bob", "email": "bob@example.com", "password": "bob password"}
	e.anon().call(http.StatusNotFound, "POST", "/api/join/AAAA-BBBB-CCCC", newMember, nil)
	e.anon().call(http.StatusBadRequest, "POST", "/api/join/"+code, map[string]string{"name": "Bob", "email": "bob@example.com", "password": "short"}, nil)
	// Sign-up can never pick its role.
	e.anon().call(http.StatusBadRequest, "POST", "/api/join/"+code, map[string]string{"name": "Bob", "email": "bob@example.com", "password": "bob password", "role": "administrator"}, nil)

	var s signedIn
	r := e.anon().call(http.StatusCreated, "POST", "/api/join/"+code, newMember, &s)
	if s.Token == "" || s.User == nil || s.User.Role != chat.RoleMember || s.User.Email != "bob@example.com" {
		t.Fatalf("%s: want a signed-in member", r)
	}
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "campfire_session=") {
		t.Errorf("%s: sign-up sets no session cookie", r)
	}
	bob := &client{e: e, hc: e.ts.Client(), token: s.Token, user: s.User, password: "bob password"}
	got := map[int64]bool{}
	for _, room := range bob.rooms() {
		got[room.ID] = true
	}
	first := admin.roomNamed(chat.FirstRoomName)
	if !got[first.ID] || !got[open2.ID] || got[closed.ID] || len(got) != 2 {
		t.Errorf("new member's rooms = %v, want the open rooms %d and %d only", got, first.ID, open2.ID)
	}

	// The same address cannot join twice, in any case.
	for _, email := range []string{"bob@example.com", "BOB@example.com", adminEmail} {
		e.anon().call(http.StatusConflict, "POST", "/api/join/"+code,
			map[string]string{"name": "Robert", "email": email, "password": "robert password"}, nil)
	}

	// Members see the join link but only administrators regenerate it.
	if bob.joinCode() != code {
		t.Errorf("member sees join code %q, want %q", bob.joinCode(), code)
	}
	bob.call(http.StatusForbidden, "POST", "/api/account/join_code", nil, nil)
	var regen map[string]string
	admin.call(http.StatusCreated, "POST", "/api/account/join_code", nil, &regen)
	newCode := regen["join_code"]
	if newCode == code || regen["join_path"] != "/join/"+newCode || !joinPathPattern.MatchString(regen["join_path"]) {
		t.Fatalf("regenerated join code = %v, old %q", regen, code)
	}
	if admin.joinCode() != newCode {
		t.Errorf("account join code = %q, want %q", admin.joinCode(), newCode)
	}
	carol := map[string]string{"name": "Carol", "email": "carol@example.com", "password": "carol password"}
	e.anon().call(http.StatusNotFound, "GET", "/api/join/"+code, nil, nil)
	e.anon().call(http.StatusNotFound, "POST", "/api/join/"+code, carol, nil)
	e.anon().call(http.StatusCreated, "POST", "/api/join/"+newCode, carol, nil)
}
