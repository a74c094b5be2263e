package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/web"
)

// TestFirstRunPages walks a fresh server through first run in a browser.
func TestFirstRunPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()

	// Every page leads to first run while there is no account.
	b.page(http.StatusSeeOther, "/").redirect(t, "/first_run")
	b.page(http.StatusSeeOther, "/rooms/1").redirect(t, "/first_run")
	b.page(http.StatusSeeOther, "/session/new").redirect(t, "/first_run")

	r := b.page(http.StatusOK, "/first_run")
	doc := r.doc(t)
	for _, id := range []string{"name", "email", "password"} {
		input := byID(doc, id)
		if input == nil || len(findAll(doc, func(n *html.Node) bool { return n.Data == "label" && attr(n, "for") == id })) != 1 {
			t.Errorf("first run page: no input %q with a label", id)
		}
	}

	// A bad form comes back with the message, what was typed (never the
	// password), and a 400.
	r = b.form(http.StatusBadRequest, "/first_run", url.Values{"name": {"Ada <b>"}, "email": {adminEmail}, "password": {"short"}})
	if !strings.Contains(string(r.Body), "Password must be at least 8 characters.") {
		t.Errorf("%s: no error message", r)
	}
	if input := byID(r.doc(t), "name"); input == nil || attr(input, "value") != "Ada <b>" {
		t.Errorf("%s: the name typed is not kept", r)
	}
	if strings.Contains(string(r.Body), "Ada <b>") || strings.Contains(string(r.Body), `value="short"`) {
		t.Errorf("%s: echoes input unescaped, or the password", r)
	}

	r = b.form(http.StatusSeeOther, "/first_run", url.Values{"name": {adminName}, "email": {adminEmail}, "password": {adminPassword}})
	r.redirect(t, "/")
	if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "campfire_session=") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
		t.Errorf("%s: Set-Cookie %q", r, sc)
	}
	// Signed in: home leads to the first room, which shows.
	r = b.page(http.StatusSeeOther, "/")
	room := r.Header.Get("Location")
	if !regexp.MustCompile(`^/rooms/\d+$`).MatchString(room) {
		t.Fatalf("%s: Location %q, want the first room", r, room)
	}
	r = b.page(http.StatusOK, room)
	if h1 := findAll(r.doc(t), func(n *html.Node) bool { return n.Data == "h1" }); len(h1) != 1 || !strings.Contains(textOf(h1[0]), chat.FirstRoomName) {
		t.Errorf("%s: no %q heading", r, chat.FirstRoomName)
	}

	// First run happens once.
	b.page(http.StatusSeeOther, "/first_run").redirect(t, "/")
	e.browser().form(http.StatusSeeOther, "/first_run",
		url.Values{"name": {"Mallory"}, "email": {"mallory@example.com"}, "password": {"a password 123"}}).redirect(t, "/session/new")
	e.anon().call(http.StatusUnauthorized, "POST", "/api/session", map[string]string{"email": "mallory@example.com", "password": "a password 123"}, nil)
}

func TestSignInPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s *web.Server) { s.LoginLimit = 5 })
	admin := e.firstRun()
	b := e.browser()

	// A page that needs a session sends the visitor to sign in and back.
	r := b.page(http.StatusSeeOther, "/search?q=x")
	r.redirect(t, "/session/new?return_to="+url.QueryEscape("/search?q=x"))
	r = b.page(http.StatusOK, r.Header.Get("Location"))
	if input := findAll(r.doc(t), func(n *html.Node) bool { return attr(n, "name") == "return_to" }); len(input) != 1 || attr(input[0], "value") != "/search?q=x" {
		t.Errorf("%s: return_to is not carried by the form", r)
	}

	// A wrong password: 401 and the form again, with the email kept.
	r = b.form(http.StatusUnauthorized, "/session", url.Values{"email": {adminEmail}, "password": {"wrong password"}})
	if !strings.Contains(string(r.Body), "Email address or password is incorrect.") {
		t.Errorf("%s: no error message", r)
	}
	if input := byID(r.doc(t), "email"); input == nil || attr(input, "value") != adminEmail {
		t.Errorf("%s: email not kept", r)
	}
	// The right one goes back where the visitor was going, on this site only.
	r = b.form(http.StatusSeeOther, "/session", url.Values{"email": {adminEmail}, "password": {adminPassword}, "return_to": {"/search?q=x"}})
	r.redirect(t, "/search?q=x")
	b.page(http.StatusOK, "/search?q=x")
	for _, evil := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		e.browser().form(http.StatusSeeOther, "/session", url.Values{"email": {adminEmail}, "password": {adminPassword}, "return_to": {evil}}).redirect(t, "/")
	}

	// Attempts are limited per client, forms and API together: this
	// client has used all five.
	r = e.browser().form(http.StatusTooManyRequests, "/session", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	if !strings.Contains(string(r.Body), "Too many sign-in attempts") || r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: want the rate-limit message and Retry-After", r)
	}
	e.anon().call(http.StatusTooManyRequests, "POST", "/api/session", map[string]string{"email": adminEmail, "password": adminPassword}, nil)

	// Signing out ends the session and its cookie.
	b.form(http.StatusSeeOther, "/session/delete", nil).redirect(t, "/session/new")
	b.page(http.StatusSeeOther, "/search").redirect(t, "/session/new?return_to=%2Fsearch")
	admin.call(http.StatusOK, "GET", "/api/me", nil, nil) // other sessions live on
}

func TestJoinPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	code := admin.joinCode()

	e.browser().page(http.StatusNotFound, "/join/AAAA-BBBB-CCCC")
	e.browser().form(http.StatusNotFound, "/join/AAAA-BBBB-CCCC", url.Values{"name": {"X"}, "email": {"x@example.com"}, "password": {"password 123"}})

	b := e.browser()
	r := b.page(http.StatusOK, "/join/"+code)
	if form := findAll(r.doc(t), func(n *html.Node) bool { return n.Data == "form" }); len(form) != 1 || attr(form[0], "action") != "/join/"+code {
		t.Errorf("%s: no join form", r)
	}
	// A taken email address: 409 and the form again.
	r = b.form(http.StatusConflict, "/join/"+code, url.Values{"name": {"Ada 2"}, "email": {adminEmail}, "password": {"password 123"}})
	if byID(r.doc(t), "email") == nil || !strings.Contains(string(r.Body), "flash--error") {
		t.Errorf("%s: want the form with an error", r)
	}
	b.form(http.StatusSeeOther, "/join/"+code, url.Values{"name": {"Bob"}, "email": {"bob@example.com"}, "password": {"password 123"}}).redirect(t, "/")
	b.page(http.StatusSeeOther, "/")
	// Signed in, the join page sends the member home.
	b.page(http.StatusSeeOther, "/join/"+code).redirect(t, "/")
	// Bob joined every open room.
	bob := e.anon().signInAs("bob@example.com", "password 123")
	if rooms := bob.rooms(); len(rooms) != 1 || rooms[0].Name != chat.FirstRoomName {
		t.Errorf("bob's rooms = %+v", rooms)
	}
}

// TestRoomPage checks the chat page: the sidebar, the last messages with
// everything people typed escaped, and the composer.
func TestRoomPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	mallory := e.join(admin, `Mallory <img src=x onerror=alert(1)>`)
	room := admin.roomNamed(chat.FirstRoomName)
	other := admin.createRoom(`Other "room" & <co>`, chat.RoomOpen)
	for i := range 45 {
		admin.post(room.ID, fmt.Sprintf("message number %d", i))
	}
	evil := mallory.post(room.ID, "hi <script>alert('x')</script> & **bold**")
	mallory.post(other.ID, "unread elsewhere")
	b := e.browserAs(admin)

	r := b.page(http.StatusOK, roomPath(room.ID))
	body := string(r.Body)
	doc := r.doc(t)
	for _, bad := range []string{"<script>alert", "<img src=x", "<co>"} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: page contains %q unescaped", r, bad)
		}
	}
	// The only script is ours, from a hashed static URL.
	scripts := findAll(doc, func(n *html.Node) bool { return n.Data == "script" })
	if len(scripts) != 1 || !regexp.MustCompile(`^/static/app\.[0-9a-f]{12}\.js$`).MatchString(attr(scripts[0], "src")) {
		t.Errorf("scripts = %d, first src %q", len(scripts), attr(scripts[0], "src"))
	}
	// The last 40 messages, oldest first, as "message" fragments.
	msgs := findAll(byID(doc, "messages"), withClass("article", "message"))
	if len(msgs) != 40 {
		t.Fatalf("page shows %d messages, want 40", len(msgs))
	}
	last := msgs[len(msgs)-1]
	if attr(last, "id") != "message_"+itoa(evil.ID) || attr(last, "data-message-id") != itoa(evil.ID) ||
		attr(last, "data-creator-id") != itoa(mallory.user.ID) || attr(last, "data-client-id") != evil.ClientID {
		t.Errorf("last message attributes = %v", last.Attr)
	}
	if got := textOf(last); !strings.Contains(got, "<script>alert('x')</script>") || !strings.Contains(got, "Mallory <img src=x onerror=alert(1)>") {
		t.Errorf("last message text = %q, want what was typed, as text", got)
	}
	if len(findAll(last, func(n *html.Node) bool { return n.Data == "strong" })) != 1 {
		t.Errorf("last message: **bold** is not rendered")
	}
	if tm := findAll(last, func(n *html.Node) bool { return n.Data == "time" }); len(tm) != 1 || attr(tm[0], "datetime") == "" {
		t.Errorf("last message: no <time datetime>")
	}
	for _, cls := range []string{"boost", "edit", "delete"} {
		if btn := findAll(last, withClass("button", cls)); len(btn) != 1 || attr(btn[0], "aria-label") == "" {
			t.Errorf("last message: want one button.%s with an aria-label", cls)
		}
	}
	if attr(byID(doc, "chat"), "data-has-older") != "true" {
		t.Errorf("a room with 46 messages should say it has older ones")
	}
	// The body tells the script who is looking.
	bodyEl := findAll(doc, func(n *html.Node) bool { return n.Data == "body" })[0]
	if attr(bodyEl, "data-user-id") != itoa(admin.user.ID) || !hasAttr(bodyEl, "data-admin") {
		t.Errorf("body attributes = %v", bodyEl.Attr)
	}

	// The sidebar: every room, the current one marked, unread ones too.
	side := byID(doc, "sidebar")
	rooms := findAll(side, func(n *html.Node) bool { return hasAttr(n, "data-room-id") })
	if len(rooms) != 2 {
		t.Fatalf("sidebar has %d rooms, want 2", len(rooms))
	}
	for _, li := range rooms {
		cls := strings.Fields(attr(li, "class"))
		switch attr(li, "data-room-id") {
		case itoa(room.ID):
			if !strings.Contains(attr(li, "class"), "current") || strings.Contains(attr(li, "class"), "unread") {
				t.Errorf("current room classes %v", cls)
			}
		case itoa(other.ID):
			if !strings.Contains(attr(li, "class"), "unread") || !strings.Contains(textOf(li), `Other "room" & <co>`) {
				t.Errorf("other room: classes %v, text %q", cls, textOf(li))
			}
		}
	}
	// The composer posts without the script too.
	composer := byID(doc, "composer")
	if composer == nil || attr(composer, "action") != roomPath(room.ID)+"/messages" ||
		len(findAll(composer, func(n *html.Node) bool { return n.Data == "textarea" && attr(n, "name") == "body" })) != 1 {
		t.Fatalf("no composer form")
	}
	b.form(http.StatusSeeOther, roomPath(room.ID)+"/messages", url.Values{"body": {"posted by a form"}}).redirect(t, roomPath(room.ID))
	if m := admin.messages(room.ID, ""); m[len(m)-1].Body != "posted by a form" {
		t.Errorf("last message = %q", m[len(m)-1].Body)
	}
	b.form(http.StatusBadRequest, roomPath(room.ID)+"/messages", url.Values{"body": {"  "}})

	// "/" remembers the last room shown.
	b.page(http.StatusOK, roomPath(other.ID))
	b.page(http.StatusSeeOther, "/").redirect(t, roomPath(other.ID))
}

// TestRoomPageForbidden: a closed room of others, or no room at all, is a
// 403 page; the API says 404 for the same.
func TestRoomPageForbidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	secret := admin.createRoom("Secret", chat.RoomClosed)
	m := admin.post(secret.ID, "top secret")
	b := e.browserAs(bob)

	for _, path := range []string{
		roomPath(secret.ID),
		roomPath(secret.ID) + "/@" + itoa(m.ID),
		roomPath(secret.ID) + "/settings",
		"/rooms/999999",
		"/rooms/abc",
	} {
		r := b.page(http.StatusForbidden, path)
		if h1 := findAll(r.doc(t), func(n *html.Node) bool { return n.Data == "h1" }); len(h1) != 1 || textOf(h1[0]) != "Room not found or inaccessible." {
			t.Errorf("%s: want the inaccessible page", r)
		}
		if strings.Contains(string(r.Body), "top secret") || strings.Contains(string(r.Body), "Secret") {
			t.Errorf("%s: leaks the room", r)
		}
	}
	b.form(http.StatusForbidden, roomPath(secret.ID)+"/messages", url.Values{"body": {"let me in"}})
	b.form(http.StatusForbidden, roomPath(secret.ID)+"/settings", url.Values{"action": {"delete"}})
	bob.call(http.StatusNotFound, "GET", "/api/rooms/"+itoa(secret.ID), nil, nil)
	if got := admin.messages(secret.ID, ""); len(got) != 1 {
		t.Errorf("secret room has %d messages, want 1", len(got))
	}
	// Other unknown pages are 404 pages.
	b.page(http.StatusNotFound, "/no/such/page")
	b.page(http.StatusNotFound, roomPath(secret.ID)+"/nope")
}

func TestPermalinkPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	room := admin.roomNamed(chat.FirstRoomName)
	var posted []*chat.Message
	for i := range 100 {
		posted = append(posted, admin.post(room.ID, fmt.Sprintf("message %d", i)))
	}
	target := posted[50]
	b := e.browserAs(admin)

	r := b.page(http.StatusOK, fmt.Sprintf("/rooms/%d/@%d", room.ID, target.ID))
	doc := r.doc(t)
	chatEl := byID(doc, "chat")
	if attr(chatEl, "data-highlight-id") != itoa(target.ID) || attr(chatEl, "data-has-newer") != "true" || attr(chatEl, "data-has-older") != "true" {
		t.Errorf("chat attributes = %v", chatEl.Attr)
	}
	msgs := findAll(byID(doc, "messages"), withClass("article", "message"))
	var got []int64
	for _, m := range msgs {
		id, _ := strconv.ParseInt(attr(m, "data-message-id"), 10, 64)
		got = append(got, id)
	}
	// 40 before it, the message, 40 after it, in order.
	if len(got) != 81 || got[0] != posted[10].ID || got[40] != target.ID || got[80] != posted[90].ID {
		t.Errorf("permalink page shows %d messages %v…, want 81 around %d", len(got), got[:min(3, len(got))], target.ID)
	}
	if byID(doc, "message_"+itoa(target.ID)) == nil {
		t.Errorf("target message missing")
	}
	// The fragment's own link is the permalink.
	perma := findAll(byID(doc, "message_"+itoa(target.ID)), withClass("a", "message__permalink"))
	if len(perma) != 1 || attr(perma[0], "href") != fmt.Sprintf("/rooms/%d/@%d", room.ID, target.ID) {
		t.Errorf("message has no permalink")
	}
	// Near the end there is nothing newer to load.
	r = b.page(http.StatusOK, fmt.Sprintf("/rooms/%d/@%d", room.ID, posted[95].ID))
	if attr(byID(r.doc(t), "chat"), "data-has-newer") != "false" {
		t.Errorf("permalink near the end says there are newer messages")
	}

	// A message of another room, a deleted one, or a malformed link: 404.
	other := admin.createRoom("Other", chat.RoomOpen)
	elsewhere := admin.post(other.ID, "elsewhere")
	b.page(http.StatusNotFound, fmt.Sprintf("/rooms/%d/@%d", room.ID, elsewhere.ID))
	admin.call(http.StatusNoContent, "DELETE", "/api/messages/"+itoa(posted[3].ID), nil, nil)
	b.page(http.StatusNotFound, fmt.Sprintf("/rooms/%d/@%d", room.ID, posted[3].ID))
	b.page(http.StatusNotFound, fmt.Sprintf("/rooms/%d/@x", room.ID))
	b.page(http.StatusNotFound, fmt.Sprintf("/rooms/%d/%d", room.ID, posted[4].ID))
}

func TestSearchPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	room := admin.roomNamed(chat.FirstRoomName)
	hit := admin.post(room.ID, "the <pumpkin> is ready")
	admin.post(room.ID, "nothing to see")
	b := e.browserAs(admin)

	r := b.page(http.StatusOK, "/search")
	if form := byID(r.doc(t), "search"); form == nil || attr(form, "method") != "get" {
		t.Fatalf("no form#search")
	}
	r = b.page(http.StatusOK, "/search?q=pumpkin")
	doc := r.doc(t)
	results := findAll(doc, withClass("li", "search-result"))
	if len(results) != 1 {
		t.Fatalf("%s: %d results, want 1", r, len(results))
	}
	link := findAll(results[0], withClass("a", "search-result__room"))
	if len(link) != 1 || attr(link[0], "href") != fmt.Sprintf("/rooms/%d/@%d", room.ID, hit.ID) || textOf(link[0]) != chat.FirstRoomName {
		t.Errorf("result link = %v", link)
	}
	if !strings.Contains(textOf(results[0]), "the <pumpkin> is ready") {
		t.Errorf("result text = %q", textOf(results[0]))
	}
	b.page(http.StatusOK, "/search?q=zucchini")
	// Recent searches, newest first, and a button that clears them.
	r = b.page(http.StatusOK, "/search")
	recent := findAll(r.doc(t), func(n *html.Node) bool { return n.Data == "a" && strings.HasPrefix(attr(n, "href"), "/search?q=") })
	if len(recent) != 2 || textOf(recent[0]) != "zucchini" || textOf(recent[1]) != "pumpkin" {
		t.Errorf("recent searches = %d links", len(recent))
	}
	if byID(r.doc(t), "clear-searches") == nil {
		t.Errorf("no clear button")
	}
	b.form(http.StatusSeeOther, "/search/clear", nil).redirect(t, "/search")
	r = b.page(http.StatusOK, "/search")
	if byID(r.doc(t), "clear-searches") != nil {
		t.Errorf("recent searches not cleared")
	}
}

// TestAccountPage: everyone sees the join link and the people;
// administrators also manage them, and only they.
func TestAccountPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	code := admin.joinCode()
	ab, bb := e.browserAs(admin), e.browserAs(bob)

	r := ab.page(http.StatusOK, "/account")
	doc := r.doc(t)
	if u := byID(doc, "join-url"); u == nil || !strings.HasSuffix(attr(u, "value"), "/join/"+code) {
		t.Errorf("admin: no join link")
	}
	for _, id := range []string{"regenerate-join-code", "account-settings"} {
		if byID(doc, id) == nil {
			t.Errorf("admin: no #%s", id)
		}
	}
	if n := len(findAll(doc, withClass("form", "role-form"))); n != 2 {
		t.Errorf("admin: %d role forms, want 2 (not for themselves)", n)
	}
	if !strings.Contains(string(r.Body), bob.user.Email) {
		t.Errorf("admin: does not see emails")
	}

	r = bb.page(http.StatusOK, "/account")
	doc = r.doc(t)
	if u := byID(doc, "join-url"); u == nil || !strings.HasSuffix(attr(u, "value"), "/join/"+code) {
		t.Errorf("member: no join link")
	}
	for _, id := range []string{"regenerate-join-code", "account-settings"} {
		if byID(doc, id) != nil {
			t.Errorf("member sees #%s", id)
		}
	}
	if n := len(findAll(doc, withClass("form", "role-form"))) + len(findAll(doc, withClass("form", "deactivate-form"))); n != 0 {
		t.Errorf("member sees %d user management forms", n)
	}
	if strings.Contains(string(r.Body), carol.user.Email) || strings.Contains(string(r.Body), adminEmail) {
		t.Errorf("member sees others' emails")
	}
	if !strings.Contains(textOf(doc), "Carol") {
		t.Errorf("member does not see the people")
	}
	// Members cannot use the admin forms; the page says why.
	r = bb.form(http.StatusForbidden, "/account", url.Values{"name": {"Hijacked"}})
	if !strings.Contains(string(r.Body), "Only administrators") {
		t.Errorf("%s: no reason given", r)
	}
	bb.form(http.StatusForbidden, "/account/join_code", nil)
	bb.form(http.StatusForbidden, "/account/users/"+itoa(carol.user.ID)+"/role", url.Values{"role": {"administrator"}})
	bb.form(http.StatusForbidden, "/account/users/"+itoa(carol.user.ID)+"/deactivate", nil)
	if admin.joinCode() != code {
		t.Errorf("a member changed the join code")
	}

	// Administrators manage.
	ab.form(http.StatusSeeOther, "/account", url.Values{"name": {"Team Fire"}, "restrict_room_creation": {"1"}}).redirect(t, "/account?saved=1")
	if r := ab.page(http.StatusOK, "/account?saved=1"); !strings.Contains(string(r.Body), "Team Fire") || !strings.Contains(string(r.Body), "Saved.") {
		t.Errorf("%s: settings not shown as saved", r)
	}
	// Room creation is now for administrators: the member's sidebar has no
	// "new room" link and the form is refused.
	if r := bb.page(http.StatusOK, "/search"); byID(r.doc(t), "sidebar") == nil || strings.Contains(string(r.Body), `href="/rooms/new"`) {
		t.Errorf("member still offered a new room")
	}
	bb.page(http.StatusForbidden, "/rooms/new")
	bb.form(http.StatusForbidden, "/rooms", url.Values{"name": {"Mine"}, "type": {"open"}})
	ab.form(http.StatusSeeOther, "/account/join_code", nil)
	if admin.joinCode() == code {
		t.Errorf("join code not regenerated")
	}
	ab.form(http.StatusSeeOther, "/account/users/"+itoa(bob.user.ID)+"/role", url.Values{"role": {"administrator"}})
	var u chat.User
	admin.call(http.StatusOK, "GET", "/api/users/"+itoa(bob.user.ID), nil, &u)
	if u.Role != chat.RoleAdministrator {
		t.Errorf("bob's role = %q", u.Role)
	}
	ab.form(http.StatusForbidden, "/account/users/"+itoa(admin.user.ID)+"/role", url.Values{"role": {"member"}})
	ab.form(http.StatusSeeOther, "/account/users/"+itoa(carol.user.ID)+"/deactivate", nil)
	carol.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
}

func TestProfilePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	other := bob.signIn()
	b := e.browserAs(bob)

	r := b.page(http.StatusOK, "/profile")
	if input := byID(r.doc(t), "email"); input == nil || attr(input, "value") != bob.user.Email {
		t.Errorf("profile does not show the email")
	}
	r = b.form(http.StatusBadRequest, "/profile", url.Values{"name": {""}, "email": {bob.user.Email}})
	if !strings.Contains(string(r.Body), "Name is required.") {
		t.Errorf("%s: no error", r)
	}
	// A blank password keeps the old one; other sessions live on.
	b.form(http.StatusSeeOther, "/profile", url.Values{"name": {"Robert"}, "email": {bob.user.Email}, "bio": {"Hi"}, "password": {""}}).redirect(t, "/profile?saved=1")
	other.call(http.StatusOK, "GET", "/api/me", nil, nil)
	var me chat.User
	b.call(http.StatusOK, "GET", "/api/me", nil, &me)
	if me.Name != "Robert" || me.Bio != "Hi" {
		t.Errorf("profile = %+v", me)
	}
	// A new password signs out every other session, not this one.
	b.form(http.StatusSeeOther, "/profile", url.Values{"name": {"Robert"}, "email": {bob.user.Email}, "password": {"a new password"}})
	other.call(http.StatusUnauthorized, "GET", "/api/me", nil, nil)
	b.page(http.StatusOK, "/profile")
	e.anon().signInAs(bob.user.Email, "a new password")

	// Someone else's card offers a direct message.
	r = b.page(http.StatusOK, "/users/"+itoa(admin.user.ID))
	if byID(r.doc(t), "message-user") == nil || strings.Contains(string(r.Body), adminEmail) {
		t.Errorf("%s: want a message button and no email", r)
	}
	b.page(http.StatusNotFound, "/users/999999")
}

// TestRoomForms creates, changes and deletes rooms through the pages.
func TestRoomForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	b := e.browserAs(admin)

	r := b.page(http.StatusOK, "/rooms/new")
	if n := len(findAll(r.doc(t), func(n *html.Node) bool { return attr(n, "name") == "user_ids" })); n != 3 {
		t.Errorf("new room form offers %d people, want 3", n)
	}
	b.form(http.StatusBadRequest, "/rooms", url.Values{"name": {""}, "type": {"open"}})
	r = b.form(http.StatusSeeOther, "/rooms", url.Values{"name": {"Plans"}, "type": {"closed"}, "user_ids": {itoa(bob.user.ID)}})
	plans := bob.roomNamed("Plans")
	r.redirect(t, roomPath(plans.ID))
	if plans.Type != chat.RoomClosed {
		t.Errorf("plans = %+v", plans)
	}
	for _, rm := range carol.rooms() {
		if rm.ID == plans.ID {
			t.Errorf("carol is in the closed room")
		}
	}
	// Open rooms ignore the member checkboxes.
	b.form(http.StatusSeeOther, "/rooms", url.Values{"name": {"Lobby"}, "type": {"open"}, "user_ids": {itoa(bob.user.ID)}})
	carol.roomNamed("Lobby")

	// Settings: rename and change the members.
	r = b.page(http.StatusOK, roomPath(plans.ID)+"/settings")
	if byID(r.doc(t), "delete-room") == nil || byID(r.doc(t), "room-form") == nil {
		t.Errorf("creator's settings page lacks the forms")
	}
	b.form(http.StatusSeeOther, roomPath(plans.ID)+"/settings", url.Values{
		"action": {"update"}, "members": {"1"}, "name": {"Big plans"}, "type": {"closed"}, "user_ids": {itoa(carol.user.ID)},
	}).redirect(t, roomPath(plans.ID)+"/settings?saved=1")
	carol.roomNamed("Big plans")
	bob.call(http.StatusNotFound, "GET", "/api/rooms/"+itoa(plans.ID), nil, nil)
	b.form(http.StatusBadRequest, roomPath(plans.ID)+"/settings", url.Values{"action": {"update"}, "name": {""}})
	b.form(http.StatusBadRequest, roomPath(plans.ID)+"/settings", url.Values{"action": {"nonsense"}})
	// A member who is not the creator sees the people, not the forms.
	cb := e.browserAs(carol)
	r = cb.page(http.StatusOK, roomPath(plans.ID)+"/settings")
	if byID(r.doc(t), "room-form") != nil || byID(r.doc(t), "delete-room") != nil {
		t.Errorf("a plain member gets the room's admin forms")
	}
	cb.form(http.StatusForbidden, roomPath(plans.ID)+"/settings", url.Values{"action": {"update"}, "name": {"Mine now"}})
	cb.form(http.StatusSeeOther, roomPath(plans.ID)+"/settings", url.Values{"action": {"involvement"}, "involvement": {"everything"}})
	if m := carol.roomNamed("Big plans").Membership; m == nil || m.Involvement != chat.InvolvedEverything {
		t.Errorf("carol's membership = %+v", m)
	}
	cb.form(http.StatusBadRequest, roomPath(plans.ID)+"/settings", url.Values{"action": {"involvement"}, "involvement": {"loud"}})
	// Delete.
	b.form(http.StatusSeeOther, roomPath(plans.ID)+"/settings", url.Values{"action": {"delete"}}).redirect(t, "/")
	admin.call(http.StatusNotFound, "GET", "/api/rooms/"+itoa(plans.ID), nil, nil)

	// Direct messages: the same people, the same room.
	r = b.page(http.StatusOK, "/rooms/direct/new")
	if n := len(findAll(r.doc(t), func(n *html.Node) bool { return attr(n, "name") == "user_ids" })); n != 2 {
		t.Errorf("direct form offers %d people, want 2 (not yourself)", n)
	}
	b.form(http.StatusBadRequest, "/rooms/direct", nil)
	r = b.form(http.StatusSeeOther, "/rooms/direct", url.Values{"user_ids": {itoa(bob.user.ID)}})
	dm := r.Header.Get("Location")
	b.form(http.StatusSeeOther, "/rooms/direct", url.Values{"user_ids": {itoa(bob.user.ID)}}).redirect(t, dm)
	// It is named after the other person in the sidebar.
	r = b.page(http.StatusOK, dm)
	direct := findAll(byID(r.doc(t), "direct-rooms"), withClass("li", "room"))
	if len(direct) != 1 || !strings.Contains(textOf(direct[0]), "Bob") {
		t.Errorf("direct rooms in the sidebar: %d", len(direct))
	}
}

// TestFormsRefusedCrossOrigin: a page on another site cannot post our
// forms, signed in or not; the HTML refusal changes nothing.
func TestFormsRefusedCrossOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	b := e.browserAs(admin)
	room := admin.roomNamed(chat.FirstRoomName)

	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
	} {
		for _, f := range []struct {
			path string
			v    url.Values
		}{
			{"/session/delete", nil},
			{"/rooms", url.Values{"name": {"Evil"}, "type": {"open"}}},
			{roomPath(room.ID) + "/messages", url.Values{"body": {"evil"}}},
			{"/account/join_code", nil},
			{"/session", url.Values{"email": {adminEmail}, "password": {adminPassword}}},
		} {
			r := b.form(http.StatusForbidden, f.path, f.v, hdr...)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(r.Body), "Cross-origin request refused") {
				t.Errorf("%s (%s): want the HTML refusal, got %s", r, hdr, ct)
			}
		}
	}
	// Nothing happened: still signed in, no room, no message.
	b.page(http.StatusOK, "/search")
	if rooms := admin.rooms(); len(rooms) != 1 {
		t.Errorf("rooms = %d, want 1", len(rooms))
	}
	if msgs := admin.messages(room.ID, ""); len(msgs) != 0 {
		t.Errorf("messages = %d, want 0", len(msgs))
	}
	// The same forms from our own pages work.
	b.form(http.StatusSeeOther, roomPath(room.ID)+"/messages", url.Values{"body": {"fine"}}, "Sec-Fetch-Site", "same-origin", "Origin", e.url)
}

// TestStaticAssets: content-hashed URLs, cached forever, right types.
func TestStaticAssets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	r := b.page(http.StatusOK, "/first_run")
	doc := r.doc(t)
	urls := map[string]string{} // URL → content type wanted
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Data == "link" || n.Data == "script" }) {
		u := attr(n, "href") + attr(n, "src")
		switch {
		case strings.HasSuffix(u, ".css"):
			urls[u] = "text/css; charset=utf-8"
		case strings.HasSuffix(u, ".js"):
			urls[u] = "text/javascript; charset=utf-8"
		case strings.HasSuffix(u, ".svg"):
			urls[u] = "image/svg+xml"
		}
	}
	if len(urls) != 3 {
		t.Fatalf("static URLs in the page: %v", urls)
	}
	hashed := regexp.MustCompile(`^/static/[a-z]+\.[0-9a-f]{12}\.(css|js|svg)$`)
	for u, ctype := range urls {
		if !hashed.MatchString(u) {
			t.Errorf("%s: not a content-hashed URL", u)
		}
		r := b.call(http.StatusOK, "GET", u, nil, nil)
		if got := r.Header.Get("Content-Type"); got != ctype {
			t.Errorf("%s: Content-Type %q, want %q", u, got, ctype)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", u, cc)
		}
		if len(r.Body) == 0 {
			t.Errorf("%s: empty", u)
		}
		etag := r.Header.Get("ETag")
		b.call(http.StatusNotModified, "GET", u, nil, nil, "If-None-Match", etag)
	}
	// Unhashed or stale names are not served.
	b.call(http.StatusNotFound, "GET", "/static/app.js", nil, nil)
	b.call(http.StatusNotFound, "GET", "/static/app.000000000000.js", nil, nil)
	// Pages are never cached and only run our own scripts.
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control %q", cc)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("page CSP %q", csp)
	}
}

// TestTemplatesRender renders every page template with sample data, so a
// template broken in a branch no other test reaches still fails here.
func TestTemplatesRender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := web.RenderSamples(e.srv, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func roomPath(id int64) string { return "/rooms/" + itoa(id) }
