package web_test

// Browser tests: headless Chromium (chromedp) against a real server on a
// real SQLite file, through the pages and app.js as people use them. Each
// test starts its own browser and server; two people are two browser
// contexts (separate cookies) of one browser. They skip without Chromium
// (fail under CAMPFIRE_TEST_REQUIRE_ALL=1) and in -short mode.

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// liveWithin is how fast a message must reach another person's page.
const liveWithin = time.Second

// TestBrowserFirstRun sets a fresh server up through the first-run form.
func TestBrowserFirstRun(t *testing.T) {
	browserTest(t, func() {
		s := newLiveServer(t)
		b := newBrowser(t)
		a := b.newTab("admin")

		if st := a.open(s, "/"); st != http.StatusOK {
			t.Fatalf("/: status %d", st)
		}
		if p := a.path(); p != "/first_run" {
			t.Fatalf("a fresh server shows %s, want /first_run", p)
		}
		a.do("fill in the first-run form",
			chromedp.SendKeys(chromedp.ID("name"), adminName),
			chromedp.SendKeys(chromedp.ID("email"), adminEmail),
			chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		)
		if st := a.navigating("set up", chromedp.Click(chromedp.CSS(`form[action="/first_run"] button[type=submit]`))); st != http.StatusOK {
			t.Fatalf("set up: status %d", st)
		}
		if p := a.path(); !regexp.MustCompile(`^/rooms/\d+$`).MatchString(p) {
			t.Fatalf("after first run at %s, want a room", p)
		}
		if h := eval[string](a, `document.querySelector(".topbar__title").textContent`); h != chat.FirstRoomName {
			t.Errorf("lands in %q, want %q", h, chat.FirstRoomName)
		}
		if cur := eval[string](a, `document.querySelector("#sidebar .room.current .room__name").textContent`); cur != chat.FirstRoomName {
			t.Errorf("the sidebar's current room is %q, want %q", cur, chat.FirstRoomName)
		}
		if name := eval[string](a, `document.body.dataset.userName`); name != adminName {
			t.Errorf("signed in as %q, want %q", name, adminName)
		}
		a.waitLive()

		// The room works: a first message goes through.
		a.do("type", chromedp.SendKeys(chromedp.ID("composer-body"), "hello from first run"))
		start := time.Now()
		a.pressEnter("#composer-body")
		expectOnce(t, "hello from first run", start, 3*time.Second, a)

		// The account exists, and first run is over.
		s.anon().call(http.StatusCreated, "POST", "/api/session", map[string]string{"email": adminEmail, "password": adminPassword}, nil)
		a.open(s, "/first_run")
		if p := a.path(); p == "/first_run" {
			t.Errorf("first run still shows after the setup")
		}
	})
}

// TestBrowserSignIn signs in through the form: a wrong password shows the
// error, the right one goes where the visitor wanted; then signs out.
func TestBrowserSignIn(t *testing.T) {
	browserTest(t, func() {
		s := newLiveServer(t)
		admin := s.firstRun()
		bob := s.join(admin, "Bob", "bob@example.com")
		room := admin.roomNamed(chat.FirstRoomName)
		b := newBrowser(t)
		tb := b.newTab("bob")

		// A room asks for signing in first, and remembers the room.
		tb.open(s, fmt.Sprintf("/rooms/%d", room.ID))
		if p, want := tb.path(), "/session/new?return_to="+url.QueryEscape(fmt.Sprintf("/rooms/%d", room.ID)); p != want {
			t.Fatalf("signed out, a room shows %s, want %s", p, want)
		}

		tb.do("fill in a wrong password",
			chromedp.SendKeys(chromedp.ID("email"), bob.user.Email),
			chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		)
		if st := tb.navigating("sign in", chromedp.Click(chromedp.CSS(`#sign-in button[type=submit]`))); st != http.StatusUnauthorized {
			t.Errorf("wrong password: status %d, want 401", st)
		}
		if msg := eval[string](tb, `(document.querySelector(".flash--error") || {}).textContent || ""`); msg != "Email address or password is incorrect." {
			t.Errorf("wrong password: error %q", msg)
		}
		if v := eval[string](tb, `document.getElementById("email").value`); v != bob.user.Email {
			t.Errorf("wrong password: email field %q, want it kept", v)
		}
		if v := eval[string](tb, `document.getElementById("password").value`); v != "" {
			t.Errorf("wrong password: the password field is not empty")
		}
		if eval[bool](tb, `Boolean(window.campfire && campfire.live.open())`) {
			t.Errorf("signed out, the page has a live connection")
		}

		tb.do("fill in the password", chromedp.SendKeys(chromedp.ID("password"), bob.password))
		if st := tb.navigating("sign in", chromedp.Click(chromedp.CSS(`#sign-in button[type=submit]`))); st != http.StatusOK {
			t.Fatalf("sign in: status %d", st)
		}
		if p, want := tb.path(), fmt.Sprintf("/rooms/%d", room.ID); p != want {
			t.Errorf("signed in at %s, want %s", p, want)
		}
		if name := eval[string](tb, `document.body.dataset.userName`); name != "Bob" {
			t.Errorf("signed in as %q, want Bob", name)
		}
		tb.waitLive()

		// Sign out from the profile page: the session is over.
		// (Two navigations race here: the form's redirect, and the page's own
		// move to the sign-in page when its socket closes with 4001, "signed
		// out". Both go to /session/new, so wait for that page.)
		tb.open(s, "/profile")
		tb.do("sign out", chromedp.Click(chromedp.CSS(`#sign-out button[type=submit]`)))
		tb.waitFor("the sign-in page after signing out", `location.pathname === "/session/new" && document.readyState === "complete" && document.getElementById("sign-in") !== null`, 5*time.Second)
		if st := eval[int](tb, `fetch("/api/rooms", { headers: { Accept: "application/json" } }).then((r) => r.status)`); st != http.StatusUnauthorized {
			t.Errorf("signed out, /api/rooms: status %d, want 401", st)
		}
		tb.open(s, "/")
		if p := tb.path(); !strings.HasPrefix(p, "/session/new") {
			t.Errorf("signed out, / shows %s", p)
		}
	})
}

// chatters is a server with an administrator and a member, both in
// browsers showing All Talk.
type chatters struct {
	s          *liveServer
	admin, bob *client
	room       *chat.Room
	b          *browser
	a, bb      *tab // the administrator's and Bob's pages
}

func newChatters(t *testing.T) *chatters {
	t.Helper()
	c := &chatters{s: newLiveServer(t)}
	c.admin = c.s.firstRun()
	c.bob = c.s.join(c.admin, "Bob", "bob@example.com")
	c.room = c.admin.roomNamed(chat.FirstRoomName)
	c.b = newBrowser(t)
	c.a = c.b.newTab("admin")
	c.bb = c.b.newTab("bob")
	c.a.signIn(c.s, c.admin)
	c.bb.signIn(c.s, c.bob)
	c.a.openRoom(c.s, c.room.ID)
	c.bb.openRoom(c.s, c.room.ID)
	// Bob's sign-in did not replace the admin's: the cookies are apart.
	for tb, want := range map[*tab]string{c.a: adminName, c.bb: "Bob"} {
		if got := eval[string](tb, `document.body.dataset.userName`); got != want {
			t.Fatalf("%s: signed in as %q, want %q", tb.name, got, want)
		}
	}
	return c
}

// expectOnce waits until each tab shows exactly one server-confirmed
// message containing text, within timeout of start, checking at every
// look that none shows it twice (a pending bubble and the real message
// together count twice); then checks that it stays so for 500 ms. It
// returns how long each tab took.
func expectOnce(t *testing.T, text string, start time.Time, timeout time.Duration, tabs ...*tab) []time.Duration {
	t.Helper()
	took := make([]time.Duration, len(tabs))
	for pending := len(tabs); pending > 0; {
		for i, tb := range tabs {
			if took[i] != 0 {
				continue
			}
			all, confirmed := tb.messageCount(text)
			if all > 1 {
				t.Fatalf("%s: %q shows %d times", tb.name, text, all)
			}
			if confirmed == 1 {
				took[i] = time.Since(start)
				pending--
			}
		}
		if pending > 0 && time.Since(start) > timeout {
			for i, tb := range tabs {
				if took[i] == 0 {
					all, confirmed := tb.messageCount(text)
					t.Fatalf("%s: %q not shown within %v (shown %d, confirmed %d)", tb.name, text, timeout, all, confirmed)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, tb := range tabs {
			if all, confirmed := tb.messageCount(text); all != 1 || confirmed != 1 {
				t.Fatalf("%s: %q shows %d times (%d confirmed) after it showed once", tb.name, text, all, confirmed)
			}
		}
	}
	return took
}

// send types body into the composer of from and presses Enter; then to
// must show it exactly once within liveWithin, and from too (its pending
// bubble replaced by the real message).
func send(t *testing.T, from, to *tab, body string) {
	t.Helper()
	from.do("type a message", chromedp.SendKeys(chromedp.ID("composer-body"), body))
	start := time.Now()
	from.pressEnter("#composer-body")
	took := expectOnce(t, body, start, liveWithin, to, from)
	t.Logf("%s → %s: shown to %s after %v, confirmed to %s after %v", from.name, to.name, to.name, took[0].Round(time.Millisecond), from.name, took[1].Round(time.Millisecond))
	if v := eval[string](from, `document.getElementById("composer-body").value`); v != "" {
		t.Errorf("%s: the composer holds %q after sending", from.name, v)
	}
	id := from.messageID(body)
	if to.messageID(body) != id {
		t.Errorf("%s and %s show %q with different ids", from.name, to.name, body)
	}
	sel := fmt.Sprintf("#message_%d", id)
	if !eval[bool](from, fmt.Sprintf(`document.querySelector(%s).classList.contains("message--mine")`, js(sel))) {
		t.Errorf("%s: own message %d is not marked as mine", from.name, id)
	}
	if eval[bool](to, fmt.Sprintf(`document.querySelector(%s).classList.contains("message--mine")`, js(sel))) {
		t.Errorf("%s: %s's message %d is marked as mine", to.name, from.name, id)
	}
}

// TestBrowserChat has two people chat: each message shows in the other's
// page exactly once within a second, and once in the sender's.
func TestBrowserChat(t *testing.T) {
	browserTest(t, func() {
		c := newChatters(t)
		send(t, c.a, c.bb, "hello Bob, from the admin")
		send(t, c.bb, c.a, "hi admin, Bob here")
		send(t, c.a, c.bb, "second from the admin")
		send(t, c.bb, c.a, "second from Bob")

		// A burst: three messages sent without waiting show once each, in
		// order.
		var bodies []string
		start := time.Now()
		for i := range 3 {
			body := fmt.Sprintf("burst message %d", i+1)
			bodies = append(bodies, body)
			c.a.do("type", chromedp.SendKeys(chromedp.ID("composer-body"), body))
			c.a.pressEnter("#composer-body")
		}
		for _, body := range bodies {
			expectOnce(t, body, start, 3*time.Second, c.bb, c.a)
		}
		for _, tb := range []*tab{c.a, c.bb} {
			order := eval[[]string](tb, `Array.from(document.querySelectorAll("#messages article.message")).map((m) => m.querySelector(".message__body").textContent.trim()).filter((s) => s.startsWith("burst"))`)
			if strings.Join(order, "|") != strings.Join(bodies, "|") {
				t.Errorf("%s: burst shows as %q, want %q", tb.name, order, bodies)
			}
		}

		// After a reload each page shows each message once.
		c.bb.openRoom(c.s, c.room.ID)
		for _, body := range append(bodies, "hello Bob, from the admin", "second from Bob") {
			if all, confirmed := c.bb.messageCount(body); all != 1 || confirmed != 1 {
				t.Errorf("bob after a reload: %q shows %d times (%d confirmed)", body, all, confirmed)
			}
		}
	})
}

// TestBrowserEditDelete edits and deletes a message through its buttons;
// the other person's page follows live.
func TestBrowserEditDelete(t *testing.T) {
	browserTest(t, func() {
		c := newChatters(t)
		send(t, c.a, c.bb, "this message has a tpyo")
		id := c.a.messageID("this message has a tpyo")
		msg := fmt.Sprintf("#message_%d", id)

		// Bob has no edit or delete buttons on the admin's message.
		if shown := eval[bool](c.bb, fmt.Sprintf(`getComputedStyle(document.querySelector(%s)).display !== "none"`, js(msg+" button.edit"))); shown {
			t.Errorf("bob sees an edit button on the admin's message")
		}

		// Edit: the button opens an inline editor with the text.
		c.a.hoverClick(msg, msg+" .message__actions button.edit")
		editor := fmt.Sprintf("edit-%d", id)
		c.a.waitFor("the editor opens", fmt.Sprintf(`(document.getElementById(%s) || {}).value === "this message has a tpyo"`, js(editor)), 3*time.Second)
		// Select the old text and type over it, then save.
		eval[chromedp.Void](c.a, fmt.Sprintf(`document.getElementById(%s).select()`, js(editor)))
		c.a.do("rewrite the message", chromedp.SendKeys(chromedp.ID(editor), "this message has no typo"))
		if v := eval[string](c.a, fmt.Sprintf(`document.getElementById(%s).value`, js(editor))); v != "this message has no typo" {
			t.Fatalf("the editor holds %q", v)
		}
		start := time.Now()
		c.a.do("save", chromedp.Click(chromedp.CSS(msg+" .edit-form button.save")))
		edited := fmt.Sprintf(`(() => {
			const m = document.querySelector(%s);
			return Boolean(m) && m.querySelector(".message__body").textContent.trim() === "this message has no typo" && !m.querySelector(".edit-form");
		})()`, js(msg))
		c.bb.waitFor("the edit shows", edited, 2*time.Second)
		t.Logf("bob sees the edit %v after the click on Save", time.Since(start).Round(time.Millisecond))
		c.a.waitFor("the editor closes with the edit", edited, 2*time.Second)
		for _, tb := range []*tab{c.a, c.bb} {
			if all, _ := tb.messageCount("typo"); all != 1 {
				t.Errorf("%s: the edited message shows %d times", tb.name, all)
			}
			if all, _ := tb.messageCount("tpyo"); all != 0 {
				t.Errorf("%s: the old text still shows", tb.name)
			}
		}

		// Delete: the button asks, then the message goes from both pages.
		start = time.Now()
		c.a.hoverClick(msg, msg+" .message__actions button.delete")
		gone := fmt.Sprintf(`!document.querySelector(%s)`, js(msg))
		c.a.waitFor("the message goes", gone, 2*time.Second)
		c.bb.waitFor("the deletion shows", gone, 2*time.Second)
		t.Logf("bob sees the deletion %v after the click on Delete", time.Since(start).Round(time.Millisecond))
		c.a.mu.Lock()
		dialogs := strings.Join(c.a.dialogs, "; ")
		c.a.mu.Unlock()
		if dialogs != "confirm: Delete this message?" {
			t.Errorf("dialogs %q, want the delete confirmation", dialogs)
		}
		c.bb.openRoom(c.s, c.room.ID)
		if all, _ := c.bb.messageCount("typo"); all != 0 {
			t.Errorf("bob after a reload: the deleted message shows")
		}
	})
}

// TestBrowserBoost boosts a message through its boost button; the author
// sees it live.
func TestBrowserBoost(t *testing.T) {
	browserTest(t, func() {
		c := newChatters(t)
		send(t, c.a, c.bb, "we shipped the release")
		id := c.bb.messageID("we shipped the release")
		msg := fmt.Sprintf("#message_%d", id)
		boosts := func(tb *tab) []string {
			t.Helper()
			return eval[[]string](tb, fmt.Sprintf(`Array.from(document.querySelectorAll("#boosts_%d .boost-item")).map((b) => b.querySelector(".boost-item__content").textContent + " by " + b.title + (b.classList.contains("boost-item--mine") ? " (mine)" : ""))`, id))
		}

		// A quick boost from the picker.
		c.bb.hoverClick(msg, msg+" .message__actions button.boost")
		start := time.Now()
		c.bb.do("pick 🎉", chromedp.Click(chromedp.CSS(msg+` .boost-picker button[aria-label="Boost with 🎉"]`)))
		c.a.waitFor("the boost shows", fmt.Sprintf(`document.querySelectorAll("#boosts_%d .boost-item").length > 0`, id), 2*time.Second)
		t.Logf("the admin sees the boost %v after the click", time.Since(start).Round(time.Millisecond))
		c.bb.waitFor("the picker closes and the boost shows", fmt.Sprintf(`!document.querySelector(%s) && document.querySelectorAll("#boosts_%d .boost-item").length > 0`, js(msg+" .boost-picker"), id), 2*time.Second)

		// A boost with words, typed into the picker.
		c.bb.hoverClick(msg, msg+" .message__actions button.boost")
		c.bb.do("type a boost", chromedp.SendKeys(chromedp.ID(fmt.Sprintf("boost-%d", id)), "nice work\n"))
		c.a.waitFor("the second boost shows", fmt.Sprintf(`document.querySelectorAll("#boosts_%d .boost-item").length === 2`, id), 2*time.Second)
		time.Sleep(500 * time.Millisecond) // nothing more comes
		if got, want := strings.Join(boosts(c.a), "|"), "🎉 by Bob|nice work by Bob"; got != want {
			t.Errorf("admin sees boosts %q, want %q", got, want)
		}
		if got, want := strings.Join(boosts(c.bb), "|"), "🎉 by Bob (mine)|nice work by Bob (mine)"; got != want {
			t.Errorf("bob sees boosts %q, want %q", got, want)
		}
	})
}

// TestBrowserUnread marks a room unread in the sidebar live, and clears
// the mark when the room is opened.
func TestBrowserUnread(t *testing.T) {
	browserTest(t, func() {
		c := newChatters(t)
		side := c.admin.createRoom("Side", chat.RoomOpen)
		// The admin's page learns about the new room and subscribes to it.
		li := fmt.Sprintf(`document.querySelector('#sidebar .room[data-room-id="%d"]')`, side.ID)
		c.a.waitFor("the new room shows in the sidebar", li+" !== null", 3*time.Second)
		c.a.waitLive()
		if eval[bool](c.a, li+`.classList.contains("unread")`) {
			t.Fatalf("the new room is unread before anything was posted")
		}

		start := time.Now()
		c.bob.post(side.ID, "news in the side room")
		c.a.waitFor("the room turns unread", li+`.classList.contains("unread")`, 2*time.Second)
		t.Logf("the unread mark shows %v after the post", time.Since(start).Round(time.Millisecond))
		if !eval[bool](c.a, `document.querySelector(".sidebar-toggle").classList.contains("unread")`) {
			t.Errorf("the sidebar toggle has no unread badge")
		}
		if c.a.path() != fmt.Sprintf("/rooms/%d", c.room.ID) {
			t.Errorf("the admin's page moved")
		}
		// The room shown is not marked unread by its own messages.
		c.bob.post(c.room.ID, "news in All Talk")
		expectOnce(t, "news in All Talk", time.Now(), 2*time.Second, c.a)
		if eval[bool](c.a, fmt.Sprintf(`document.querySelector('#sidebar .room[data-room-id="%d"]').classList.contains("unread")`, c.room.ID)) {
			t.Errorf("the open room is marked unread")
		}

		// Opening the room clears the mark, and the server forgets it.
		c.a.navigating("open the unread room", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#sidebar .room[data-room-id="%d"] a`, side.ID))))
		if p := c.a.path(); p != fmt.Sprintf("/rooms/%d", side.ID) {
			t.Fatalf("the sidebar link opened %s", p)
		}
		c.a.waitLive()
		expectOnce(t, "news in the side room", time.Now(), time.Second, c.a)
		c.a.waitFor("the mark clears", `!document.querySelector("#sidebar .room.unread") && !document.querySelector(".sidebar-toggle.unread")`, 2*time.Second)
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var r chat.Room
			c.admin.call(http.StatusOK, "GET", fmt.Sprintf("/api/rooms/%d", side.ID), nil, &r)
			if !r.Membership.Unread() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server still has the room unread for the admin")
			}
		}
		// It stays cleared after reloading, here and in another room.
		for _, id := range []int64{side.ID, c.room.ID} {
			c.a.openRoom(c.s, id)
			if eval[bool](c.a, li+`.classList.contains("unread")`) {
				t.Errorf("in room %d after a reload, the side room is unread again", id)
			}
		}
	})
}

// TestBrowserSearchPermalink finds an older message with the search form
// and follows the result to its permalink, which shows it highlighted and
// scrolled into view.
func TestBrowserSearchPermalink(t *testing.T) {
	browserTest(t, func() {
		s := newLiveServer(t)
		admin := s.firstRun()
		bob := s.join(admin, "Bob", "bob@example.com")
		room := admin.roomNamed(chat.FirstRoomName)
		for i := range 50 {
			bob.post(room.ID, fmt.Sprintf("filler before %d", i))
		}
		target := bob.post(room.ID, "the quokka protocol is ready for review")
		for i := range 60 {
			bob.post(room.ID, fmt.Sprintf("filler after %d", i))
		}

		b := newBrowser(t)
		a := b.newTab("admin")
		a.signIn(s, admin)
		a.openRoom(s, room.ID)
		if all, _ := a.messageCount("quokka"); all != 0 {
			t.Fatalf("the old message is already in the room's first page")
		}

		a.navigating("open search", chromedp.Click(chromedp.CSS(`#sidebar a[href="/search"]`)))
		a.do("type the query", chromedp.SendKeys(chromedp.ID("q"), "quokka"))
		if st := a.navigating("search", chromedp.SendKeys(chromedp.ID("q"), "\n")); st != http.StatusOK {
			t.Fatalf("search: status %d", st)
		}
		if p := a.path(); p != "/search?q=quokka" {
			t.Errorf("search shows %s", p)
		}
		results := eval[[]string](a, `Array.from(document.querySelectorAll(".search-result")).map((r) => r.querySelector(".message__body").textContent.trim())`)
		if len(results) != 1 || results[0] != target.Body {
			t.Fatalf("results %q, want the quokka message", results)
		}
		if n := eval[string](a, `document.querySelector(".search-count").textContent`); n != "1 result for “quokka”" {
			t.Errorf("result count %q", n)
		}

		permalink := fmt.Sprintf("/rooms/%d/@%d", room.ID, target.ID)
		if href := eval[string](a, `document.querySelector(".search-result .search-result__room").getAttribute("href")`); href != permalink {
			t.Errorf("the result links to %s, want %s", href, permalink)
		}
		if st := a.navigating("follow the result", chromedp.Click(chromedp.CSS(".search-result .search-result__room"))); st != http.StatusOK {
			t.Fatalf("permalink: status %d", st)
		}
		if p := a.path(); p != permalink {
			t.Fatalf("the result opened %s, want %s", p, permalink)
		}
		a.waitLive()
		inView := fmt.Sprintf(`(() => {
			const m = document.getElementById("message_%d"), list = document.getElementById("messages");
			if (!m) return "missing";
			if (!m.classList.contains("message--highlight")) return "not highlighted";
			const r = m.getBoundingClientRect(), l = list.getBoundingClientRect();
			if (list.scrollTop === 0) return "the list is not scrolled";
			if (r.top < l.top || r.bottom > l.bottom || l.bottom > innerHeight + 1) return "out of view: message " + r.top + ".." + r.bottom + ", list " + l.top + ".." + l.bottom + ", window " + innerHeight;
			return "ok";
		})()`, target.ID)
		if v := eval[string](a, inView); v != "ok" {
			t.Errorf("the permalinked message: %s", v)
		}
		// Nothing scrolls it away once the page is live.
		time.Sleep(time.Second)
		if v := eval[string](a, inView); v != "ok" {
			t.Errorf("the permalinked message, a second later: %s", v)
		}
		if all, _ := a.messageCount("quokka"); all != 1 {
			t.Errorf("the permalinked message shows %d times", all)
		}
	})
}

// TestBrowserStoredXSS shows a user name and a message body that carry
// scripts, from the page and live, in every place they appear; nothing
// runs.
func TestBrowserStoredXSS(t *testing.T) {
	browserTest(t, func() {
		const evilName = `<img src=x onerror="window.__xss=1">`
		const evilBody = `xssprobe <img src=x onerror="window.__xss=1"><script>window.__xss=1</script>[x](javascript:window.__xss=1)`
		s := newLiveServer(t)
		admin := s.firstRun()
		mallory := s.join(admin, evilName, "mallory@example.com")
		room := admin.roomNamed(chat.FirstRoomName)
		mallory.post(room.ID, evilBody)
		direct := struct {
			ID int64 `json:"id"`
		}{}
		admin.call(http.StatusCreated, "POST", "/api/rooms/direct", map[string]any{"user_ids": []int64{mallory.user.ID}}, &direct)

		b := newBrowser(t)
		a := b.newTab("admin")
		m := b.newTab("mallory")
		a.signIn(s, admin)
		m.signIn(s, mallory)
		a.openRoom(s, room.ID)
		m.openRoom(s, room.ID)

		// safe checks that nothing ran and no handler or script made it into
		// the page.
		safe := func(tb *tab, where string) {
			t.Helper()
			v := eval[string](tb, `(() => {
				if (window.__xss !== undefined) return "window.__xss is set";
				const bad = Array.from(document.querySelectorAll("[onerror], [onload], [onclick], #messages script, #sidebar script, a[href^='javascript' i]"));
				if (bad.length) return "found " + bad.map((e) => e.outerHTML).join(", ");
				return "ok";
			})()`)
			if v != "ok" {
				t.Errorf("%s, %s: %s", tb.name, where, v)
			}
		}

		// Live: Mallory posts again while both pages are open, through the API
		// and through the composer.
		mallory.post(room.ID, strings.Replace(evilBody, "xssprobe", "xssprobe-live", 1))
		m.do("type", chromedp.SendKeys(chromedp.ID("composer-body"), `xssprobe-typed <img src=x onerror="window.__xss=1">`))
		start := time.Now()
		m.pressEnter("#composer-body")
		expectOnce(t, "xssprobe-typed", start, 3*time.Second, a, m)
		for _, tb := range []*tab{a, m} {
			for _, probe := range []string{"xssprobe ", "xssprobe-live", "xssprobe-typed"} {
				if all, _ := tb.messageCount(probe); all != 1 {
					t.Errorf("%s: %q shows %d times", tb.name, probe, all)
				}
			}
		}
		// The name shows as text wherever it appears.
		authors := eval[[]string](a, `Array.from(document.querySelectorAll("#messages .message__author")).map((e) => e.textContent).filter((s) => s.includes("img"))`)
		if len(authors) == 0 || authors[0] != evilName {
			t.Errorf("the author shows as %q, want the name as text", authors)
		}
		if got := eval[string](m, `document.body.dataset.userName`); got != evilName {
			t.Errorf("mallory's page has the name %q", got)
		}
		if got := eval[string](a, fmt.Sprintf(`document.querySelector('#sidebar .room[data-room-id="%d"] .room__name').textContent`, direct.ID)); got != evilName {
			t.Errorf("the direct room shows as %q", got)
		}
		// Typing shows the name in the admin's typing indicator; the admin's
		// @ completion lists it.
		m.do("start typing", chromedp.SendKeys(chromedp.ID("composer-body"), "still typing"))
		a.waitFor("the typing indicator", fmt.Sprintf(`document.getElementById("typing").textContent === %s`, js(evilName+" is typing…")), 3*time.Second)
		a.do("mention", chromedp.SendKeys(chromedp.ID("composer-body"), "@<im"))
		a.waitFor("the mention list", fmt.Sprintf(`Array.from(document.querySelectorAll("#mention-list li")).some((li) => li.textContent === %s)`, js(evilName)), 3*time.Second)
		// Hover every message and click every link in the bodies: a
		// javascript: link would run here.
		for _, tb := range []*tab{a, m} {
			ids := eval[[]int64](tb, `Array.from(document.querySelectorAll("#messages article.message[data-message-id]")).map((m) => Number(m.dataset.messageId))`)
			for _, id := range ids {
				sel := fmt.Sprintf("#message_%d", id)
				tb.hoverClick(sel, sel+" .message__body")
				links := eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%s).length`, js(sel+" .message__body a")))
				for i := range links {
					tb.do("click a link", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelectorAll(%s)[%d].click()`, js(sel+" .message__body a"), i)))
				}
			}
			safe(tb, "the room")
		}

		// The other pages that show names and bodies.
		for _, p := range []string{
			"/search?q=xssprobe",
			fmt.Sprintf("/users/%d", mallory.user.ID),
			"/account",
			fmt.Sprintf("/rooms/%d", direct.ID),
			fmt.Sprintf("/rooms/%d/settings", room.ID),
			"/rooms/new",
		} {
			if st := a.open(s, p); st != http.StatusOK {
				t.Errorf("%s: status %d", p, st)
			}
			time.Sleep(100 * time.Millisecond) // let images fail and handlers (not) run
			safe(a, p)
		}
		if n := eval[int](a, `document.querySelectorAll(".choice").length`); n < 2 {
			t.Errorf("/rooms/new lists %d people", n)
		}
	})
}

// TestBrowserClosedRoom403 has a member open a closed room they are not
// in: the page is a 403 that tells nothing about the room.
func TestBrowserClosedRoom403(t *testing.T) {
	browserTest(t, func() {
		s := newLiveServer(t)
		admin := s.firstRun()
		bob := s.join(admin, "Bob", "bob@example.com")
		secret := admin.createRoom("Secret plans", chat.RoomClosed)
		msg := admin.post(secret.ID, "the secret is 42")

		b := newBrowser(t)
		tb := b.newTab("bob")
		tb.signIn(s, bob)
		if eval[bool](tb, `document.getElementById("sidebar").textContent.includes("Secret plans")`) {
			t.Errorf("bob's sidebar lists the closed room")
		}
		for _, p := range []string{
			fmt.Sprintf("/rooms/%d", secret.ID),
			fmt.Sprintf("/rooms/%d/@%d", secret.ID, msg.ID),
			fmt.Sprintf("/rooms/%d/settings", secret.ID),
			"/rooms/999999", // no such room: the same answer
		} {
			if st := tb.open(s, p); st != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", p, st)
			}
			text := eval[string](tb, `document.body.innerText`)
			if !strings.Contains(text, "Room not found or inaccessible") {
				t.Errorf("%s: page says %q", p, text)
			}
			if strings.Contains(text, "Secret plans") || strings.Contains(text, "42") {
				t.Errorf("%s: the page tells about the room: %q", p, text)
			}
			if st := eval[int](tb, fmt.Sprintf(`fetch(%s).then((r) => r.status)`, js(p))); st != http.StatusForbidden {
				t.Errorf("fetch %s: status %d, want 403", p, st)
			}
		}
		// Posting with the no-script form is refused too.
		st := eval[int](tb, fmt.Sprintf(`fetch("/rooms/%d/messages", { method: "POST", body: new URLSearchParams({ body: "let me in" }) }).then((r) => r.status)`, secret.ID))
		if st != http.StatusForbidden {
			t.Errorf("posting to the closed room: status %d, want 403", st)
		}
		if ms := admin.messages(secret.ID, ""); len(ms) != 1 {
			t.Errorf("the closed room has %d messages, want 1", len(ms))
		}
		// The error page leads back.
		tb.navigating("back to the rooms", chromedp.Click(chromedp.CSS(`.card a.button[href="/"]`)))
		if p := tb.path(); !strings.HasPrefix(p, "/rooms/") {
			t.Errorf("back to the rooms: at %s", p)
		}
	})
}

// TestBrowserReconnect restarts the server under an open page: the page
// reconnects by itself and shows, each exactly once, the messages posted
// while it was disconnected and while it was reconnecting.
func TestBrowserReconnect(t *testing.T) {
	browserTest(t, func() {
		s := newLiveServer(t)
		admin := s.firstRun()
		bob := s.join(admin, "Bob", "bob@example.com")
		room := admin.roomNamed(chat.FirstRoomName)
		b := newBrowser(t)
		a := b.newTab("admin")
		a.signIn(s, admin)
		a.openRoom(s, room.ID)
		bob.post(room.ID, "before the restart")
		expectOnce(t, "before the restart", time.Now(), liveWithin, a)
		// A reload would lose this mark: the page must catch up in place.
		eval[chromedp.Void](a, `window.__samePage = true`)

		// The server goes away; the page notices and retries with backoff.
		s.stop()
		a.waitFor("the page notices the server is gone", `!campfire.live.open()`, 5*time.Second)

		// While it is down, Bob posts through another server on the same
		// database file (another port, which the page does not know).
		other := &liveServer{t: t, dbPath: s.dbPath, logs: s.logs, hc: s.hc}
		t.Cleanup(func() { other.stop() }) // if the test stops early
		for {
			other.addr = "127.0.0.1:0"
			other.start()
			if other.addr != s.addr { // the kernel may hand out the port just freed
				break
			}
			other.stop()
		}
		bobElsewhere := &client{e: other.e, hc: other.hc, token: bob.token, user: bob.user}
		for i := range 2 {
			bobElsewhere.post(room.ID, fmt.Sprintf("while down %d", i+1))
		}
		other.stop()

		// The server comes back on the same port; Bob posts at once, most
		// likely before the page has reconnected.
		s.start()
		restarted := time.Now()
		for i := range 3 {
			bob.post(room.ID, fmt.Sprintf("while reconnecting %d", i+1))
		}
		took := a.waitFor("the page reconnects", `campfire.live.open()`, 15*time.Second)
		t.Logf("reconnected %v after the restart", took.Round(time.Millisecond))
		bodies := []string{"while down 1", "while down 2", "while reconnecting 1", "while reconnecting 2", "while reconnecting 3"}
		for _, body := range bodies {
			expectOnce(t, body, restarted, 20*time.Second, a)
		}
		if !eval[bool](a, `window.__samePage === true`) {
			t.Errorf("the page reloaded instead of catching up")
		}
		order := eval[[]string](a, `Array.from(document.querySelectorAll("#messages article.message")).map((m) => m.querySelector(".message__body").textContent.trim()).filter((s) => s.startsWith("while"))`)
		if strings.Join(order, "|") != strings.Join(bodies, "|") {
			t.Errorf("messages show as %q, want %q", order, bodies)
		}
		if all, _ := a.messageCount("before the restart"); all != 1 {
			t.Errorf("the message from before shows %d times", all)
		}

		// And the connection is live again.
		a.waitLive()
		start := time.Now()
		bob.post(room.ID, "after the reconnect")
		expectOnce(t, "after the reconnect", start, liveWithin, a)
	})
}
