package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/campfire-in-go/campfire/internal/chat"
)

func TestPostMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob Smith")
	room := admin.roomNamed(chat.FirstRoomName)
	path := fmt.Sprintf("/api/rooms/%d/messages", room.ID)

	before := time.Now().Add(-time.Minute)
	var m map[string]any
	r := bob.call(http.StatusCreated, "POST", path, map[string]string{"body": "Hello **world**"}, &m)
	for _, key := range []string{"id", "room_id", "creator", "body", "html", "created_at", "updated_at", "client_id", "mention_ids", "boosts"} {
		if _, ok := m[key]; !ok {
			t.Errorf("%s: no %q", r, key)
		}
	}
	var msg chat.Message
	r.decode(t, &msg)
	if msg.ID == 0 || msg.RoomID != room.ID || msg.CreatorID != bob.user.ID || msg.Body != "Hello **world**" ||
		msg.HTML != "<p>Hello <strong>world</strong></p>" || msg.Plain != "Hello world" || msg.ClientID == "" {
		t.Errorf("posted message = %+v", msg)
	}
	if msg.Creator == nil || msg.Creator.ID != bob.user.ID || msg.Creator.Name != "Bob Smith" {
		t.Errorf("creator = %+v", msg.Creator)
	}
	if msg.CreatedAt.Before(before) || msg.CreatedAt.After(time.Now().Add(time.Minute)) || msg.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at = %v, want now in UTC", msg.CreatedAt)
	}
	if msg.MentionIDs == nil || msg.Boosts == nil {
		t.Errorf("mention_ids %v and boosts %v should be empty lists, not null", msg.MentionIDs, msg.Boosts)
	}
	var got chat.Message
	admin.call(http.StatusOK, "GET", "/api/messages/"+itoa(msg.ID), nil, &got)
	if got.ID != msg.ID || got.HTML != msg.HTML {
		t.Errorf("GET message = %+v, want %+v", got, msg)
	}
	// The creator's email address is not shown to other members.
	if r := admin.call(http.StatusOK, "GET", "/api/messages/"+itoa(msg.ID), nil, nil); !strings.Contains(string(r.Body), bob.user.Email) {
		t.Errorf("%s: an administrator should see the email", r)
	}
	carol := e.join(admin, "Carol")
	for _, r := range []*response{
		carol.call(http.StatusOK, "GET", "/api/messages/"+itoa(msg.ID), nil, nil),
		carol.call(http.StatusOK, "GET", path, nil, nil),
		carol.call(http.StatusOK, "GET", "/api/search?q=hello", nil, nil),
	} {
		if strings.Contains(string(r.Body), bob.user.Email) || strings.Contains(string(r.Body), adminEmail) {
			t.Errorf("%s: shows someone else's email", r)
		}
	}

	// HTML that someone types is shown as the text they typed: inert,
	// and nothing they wrote is lost.
	xss := bob.post(room.ID, "<script>alert(1)</script>**hi**")
	if xss.HTML != "<p>&lt;script&gt;alert(1)&lt;/script&gt;**hi**</p>" {
		t.Errorf("html = %q, want the script shown as escaped text", xss.HTML)
	}
	if xss.Body != "<script>alert(1)</script>**hi**" {
		t.Errorf("body = %q, want it stored as typed", xss.Body)
	}
	inline := bob.post(room.ID, "x <script>alert(1)</script>**hi**")
	if inline.HTML != "<p>x &lt;script&gt;alert(1)&lt;/script&gt;<strong>hi</strong></p>" {
		t.Errorf("html = %q, want the script escaped and **hi** rendered", inline.HTML)
	}
	for _, body := range []string{
		`<img src=x onerror=alert(1)>`,
		`[click](javascript:alert(1))`,
		`<a href="javascript:alert(1)">x</a>`,
		"<iframe src=\"https://evil.example\"></iframe>",
		`<svg onload=alert(1)>`,
	} {
		m := bob.post(room.ID, "x "+body)
		if bad := activeMarkup(t, m.HTML); bad != "" {
			t.Errorf("body %q rendered as %q, which has %s", body, m.HTML, bad)
		}
	}

	// Sounds.
	if m := bob.post(room.ID, "/play tada"); m.Sound != "tada" {
		t.Errorf("/play tada: sound = %q", m.Sound)
	}
	if m := bob.post(room.ID, "/play nosuchsound"); m.Sound != "" {
		t.Errorf("/play nosuchsound: sound = %q", m.Sound)
	}

	// Mentions of room members.
	mention := admin.post(room.ID, "thanks @bob smith, and @Nobody")
	if !slices.Equal(mention.MentionIDs, []int64{bob.user.ID}) {
		t.Errorf("mention_ids = %v, want [%d]", mention.MentionIDs, bob.user.ID)
	}
	if !strings.Contains(mention.HTML, `class="mention"`) || !strings.Contains(mention.HTML, fmt.Sprintf(`data-user-id="%d"`, bob.user.ID)) ||
		!strings.Contains(mention.HTML, "@Bob Smith") {
		t.Errorf("mention html = %q", mention.HTML)
	}
	// Outside the room, a name is just text.
	closed := admin.createRoom("Admins", chat.RoomClosed)
	if m := admin.post(closed.ID, "don't tell @Bob Smith"); len(m.MentionIDs) != 0 || strings.Contains(m.HTML, "mention") {
		t.Errorf("mention of a non-member: %+v", m)
	}

	// Bad bodies.
	for _, in := range []any{
		map[string]string{"body": ""},
		map[string]string{"body": "  \n "},
		map[string]string{"body": strings.Repeat("x", chat.MaxMessageBytes+1)},
		map[string]string{"body": "nul\x00byte"},
		map[string]string{"body": "ok", "client_id": "has space"},
		map[string]string{"body": "ok", "client_id": strings.Repeat("c", 65)},
		map[string]any{"body": "ok", "room_id": 1},
		map[string]int{"body": 1},
	} {
		bob.call(http.StatusBadRequest, "POST", path, in, nil)
	}
	bob.call(http.StatusCreated, "POST", path, map[string]string{"body": strings.Repeat("x", chat.MaxMessageBytes)}, nil)
}

func TestPostMessageIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	room := admin.roomNamed(chat.FirstRoomName)
	path := fmt.Sprintf("/api/rooms/%d/messages", room.ID)
	in := map[string]string{"body": "only once", "client_id": "retry-123_abc"}

	var first, second chat.Message
	admin.call(http.StatusCreated, "POST", path, in, &first)
	admin.call(http.StatusOK, "POST", path, in, &second)
	if first.ID != second.ID || second.ClientID != "retry-123_abc" || second.Body != "only once" {
		t.Errorf("retry = %+v, want message %d", second, first.ID)
	}
	// A retry with a different body is still the first message.
	admin.call(http.StatusOK, "POST", path, map[string]string{"body": "changed", "client_id": "retry-123_abc"}, &second)
	if second.ID != first.ID || second.Body != "only once" {
		t.Errorf("retry with another body = %+v", second)
	}
	if got := admin.messages(room.ID, ""); len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("messages = %v, want only %d", ids(got), first.ID)
	}
	// Client ids belong to their author.
	bob := e.join(admin, "Bob")
	bob.call(http.StatusCreated, "POST", path, in, nil)
	// The same client id in another room is a conflict.
	other := admin.createRoom("Other", chat.RoomOpen)
	admin.call(http.StatusConflict, "POST", fmt.Sprintf("/api/rooms/%d/messages", other.ID), in, nil)
	// Without a client id, every post is new.
	admin.post(room.ID, "same")
	admin.post(room.ID, "same")
	if got := admin.messages(room.ID, ""); len(got) != 4 {
		t.Errorf("messages = %v, want 4", ids(got))
	}
}

func TestMessagePagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	room := admin.createRoom("Busy", chat.RoomOpen)
	var all []int64
	for i := range 95 {
		all = append(all, admin.post(room.ID, fmt.Sprintf("message %d", i)).ID)
	}
	if !slices.IsSorted(all) {
		t.Fatalf("ids are not increasing: %v", all)
	}
	for _, tt := range []struct {
		query string
		want  []int64
	}{
		{"", all[55:]},
		{"?limit=0", all[55:]},
		{"?limit=10", all[85:]},
		{"?limit=1000", all},
		{"?before=" + itoa(all[55]), all[15:55]},
		{"?before=" + itoa(all[15]), all[:15]},
		{"?before=" + itoa(all[0]), []int64{}},
		{"?before=" + itoa(all[50]) + "&limit=5", all[45:50]},
		{"?after=" + itoa(all[0]) + "&limit=5", all[1:6]},
		{"?after=" + itoa(all[50]), all[51:91]},
		{"?after=" + itoa(all[94]), []int64{}},
		{"?after=0&limit=3", all[92:]},
	} {
		got := ids(admin.messages(room.ID, tt.query))
		if !slices.Equal(got, tt.want) {
			t.Errorf("messages%s = %v, want %v", tt.query, got, tt.want)
		}
	}
	// Walking back from the newest page reaches every message once.
	var walked []int64
	page := admin.messages(room.ID, "?limit=30")
	for len(page) > 0 {
		walked = append(ids(page), walked...)
		page = admin.messages(room.ID, fmt.Sprintf("?limit=30&before=%d", page[0].ID))
	}
	if !slices.Equal(walked, all) {
		t.Errorf("walking back found %v, want %v", walked, all)
	}
	// Messages come back in order with their bodies.
	msgs := admin.messages(room.ID, "?limit=2")
	if msgs[0].Body != "message 93" || msgs[1].Body != "message 94" {
		t.Errorf("newest two = %q, %q", msgs[0].Body, msgs[1].Body)
	}
	// An empty room is an empty list.
	empty := admin.createRoom("Quiet", chat.RoomOpen)
	r := admin.call(http.StatusOK, "GET", fmt.Sprintf("/api/rooms/%d/messages", empty.ID), nil, nil)
	if strings.TrimSpace(string(r.Body)) != `{"messages":[]}` {
		t.Errorf("%s: want an empty list", r)
	}
}

func TestEditAndDeleteMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	room := admin.roomNamed(chat.FirstRoomName)
	msg := bob.post(room.ID, "first draft")
	path := "/api/messages/" + itoa(msg.ID)

	var got chat.Message
	bob.call(http.StatusOK, "PATCH", path, map[string]string{"body": "**second** draft, @carol"}, &got)
	if got.ID != msg.ID || got.Body != "**second** draft, @carol" || !strings.Contains(got.HTML, "<strong>second</strong>") ||
		!slices.Equal(got.MentionIDs, []int64{carol.user.ID}) || got.UpdatedAt.Before(msg.UpdatedAt) || !got.CreatedAt.Equal(msg.CreatedAt) {
		t.Errorf("edited message = %+v", got)
	}
	admin.call(http.StatusOK, "PATCH", path, map[string]string{"body": "moderated"}, &got)
	if got.Body != "moderated" || got.HTML != "<p>moderated</p>" || len(got.MentionIDs) != 0 || got.CreatorID != bob.user.ID {
		t.Errorf("message edited by admin = %+v", got)
	}
	carol.call(http.StatusForbidden, "PATCH", path, map[string]string{"body": "mine now"}, nil)
	bob.call(http.StatusBadRequest, "PATCH", path, map[string]string{"body": ""}, nil)
	bob.call(http.StatusBadRequest, "PATCH", path, map[string]string{"body": "x", "room_id": "2"}, nil)
	bob.call(http.StatusOK, "GET", path, nil, &got)
	if got.Body != "moderated" {
		t.Errorf("message after refused edits = %+v", got)
	}
	// Search follows edits.
	if res := bob.search("draft"); len(res) != 0 {
		t.Errorf("search finds the old text: %+v", res)
	}
	if res := bob.search("moderated"); len(res) != 1 {
		t.Errorf("search misses the new text: %+v", res)
	}

	carol.call(http.StatusForbidden, "DELETE", path, nil, nil)
	bob.call(http.StatusNoContent, "DELETE", path, nil, nil)
	bob.call(http.StatusNotFound, "GET", path, nil, nil)
	bob.call(http.StatusNotFound, "PATCH", path, map[string]string{"body": "back"}, nil)
	bob.call(http.StatusNotFound, "DELETE", path, nil, nil)
	if res := bob.search("moderated"); len(res) != 0 {
		t.Errorf("search finds a deleted message: %+v", res)
	}
	// Administrators delete anyone's message.
	msg = carol.post(room.ID, "oops")
	admin.call(http.StatusNoContent, "DELETE", "/api/messages/"+itoa(msg.ID), nil, nil)
	if got := admin.messages(room.ID, ""); len(got) != 0 {
		t.Errorf("messages left = %v", ids(got))
	}
}

func TestBoosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	carol := e.join(admin, "Carol")
	room := admin.roomNamed(chat.FirstRoomName)
	msg := admin.post(room.ID, "boost me")
	path := fmt.Sprintf("/api/messages/%d/boosts", msg.ID)

	var b chat.Boost
	bob.call(http.StatusCreated, "POST", path, map[string]string{"content": " 👍 "}, &b)
	if b.ID == 0 || b.MessageID != msg.ID || b.BoosterID != bob.user.ID || b.Content != "👍" {
		t.Errorf("boost = %+v", b)
	}
	carol.call(http.StatusCreated, "POST", path, map[string]string{"content": strings.Repeat("é", 16)}, nil)
	for _, content := range []string{strings.Repeat("a", 17), strings.Repeat("é", 17), "", "   ", "two\nlines"} {
		bob.call(http.StatusBadRequest, "POST", path, map[string]string{"content": content}, nil)
	}
	bob.call(http.StatusNotFound, "POST", "/api/messages/999999/boosts", map[string]string{"content": "x"}, nil)

	var got chat.Message
	admin.call(http.StatusOK, "GET", "/api/messages/"+itoa(msg.ID), nil, &got)
	if len(got.Boosts) != 2 || got.Boosts[0].ID != b.ID || got.Boosts[0].Content != "👍" {
		t.Errorf("boosts on message = %+v", got.Boosts)
	}
	if m := admin.messages(room.ID, ""); len(m) != 1 || len(m[0].Boosts) != 2 {
		t.Errorf("boosts in message list = %+v", m)
	}

	// Only the booster removes a boost, not even an administrator.
	carol.call(http.StatusForbidden, "DELETE", "/api/boosts/"+itoa(b.ID), nil, nil)
	admin.call(http.StatusForbidden, "DELETE", "/api/boosts/"+itoa(b.ID), nil, nil)
	bob.call(http.StatusNoContent, "DELETE", "/api/boosts/"+itoa(b.ID), nil, nil)
	bob.call(http.StatusNotFound, "DELETE", "/api/boosts/"+itoa(b.ID), nil, nil)
	admin.call(http.StatusOK, "GET", "/api/messages/"+itoa(msg.ID), nil, &got)
	if len(got.Boosts) != 1 || got.Boosts[0].BoosterID != carol.user.ID {
		t.Errorf("boosts after delete = %+v", got.Boosts)
	}
	// Deleting the message takes its boosts along.
	admin.call(http.StatusNoContent, "DELETE", "/api/messages/"+itoa(msg.ID), nil, nil)
	carol.call(http.StatusNotFound, "DELETE", "/api/boosts/"+itoa(got.Boosts[0].ID), nil, nil)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	room := admin.roomNamed(chat.FirstRoomName)
	deployed := admin.post(room.ID, "we deployed it")
	admin.post(room.ID, "lunch at noon")

	for _, q := range []string{"deploying", "DEPLOY", "deploys", "we deployed it", "  deployed  "} {
		if got := ids(admin.search(q)); !slices.Equal(got, []int64{deployed.ID}) {
			t.Errorf("search %q = %v, want [%d]", q, got, deployed.ID)
		}
	}
	if got := admin.search("dinner"); len(got) != 0 {
		t.Errorf("search dinner = %v", ids(got))
	}

	// Nothing a person types is a syntax error.
	for _, q := range []string{"AND", `"`, "*", "NEAR(", "OR OR", ")", "a:b", "'", "deploy*", `"deployed`, "NOT deployed",
		"plain:deployed", "^deployed", "-", "\\", "%", "_", "{", "", "   ", strings.Repeat("deployed ", 100), "déployé", "🙂"} {
		admin.search(q)
	}
	r := admin.call(http.StatusOK, "GET", "/api/search", nil, nil)
	if strings.TrimSpace(string(r.Body)) != `{"results":[]}` {
		t.Errorf("%s: want an empty list", r)
	}

	// Recent searches, newest first, then forgotten.
	admin.search("lunch")
	var recent struct {
		Searches []chat.SearchQuery `json:"searches"`
	}
	admin.call(http.StatusOK, "GET", "/api/searches", nil, &recent)
	if len(recent.Searches) == 0 || len(recent.Searches) > chat.MaxRecentSearches || recent.Searches[0].Query != "lunch" {
		t.Errorf("recent searches = %+v, want lunch first", recent.Searches)
	}
	// Each person has their own.
	bob := e.join(admin, "Bob")
	bob.call(http.StatusOK, "GET", "/api/searches", nil, &recent)
	if len(recent.Searches) != 0 {
		t.Errorf("Bob's recent searches = %+v, want none", recent.Searches)
	}
	admin.call(http.StatusNoContent, "DELETE", "/api/searches", nil, nil)
	r = admin.call(http.StatusOK, "GET", "/api/searches", nil, &recent)
	if len(recent.Searches) != 0 || !strings.Contains(string(r.Body), `"searches":[]`) {
		t.Errorf("%s: want no recent searches", r)
	}
}

// TestStoredXSSInName checks that a hostile name stays data: escaped in
// JSON and as text in the mention that renders it.
func TestStoredXSSInName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	const evil = `<img src=x onerror=alert(1)>`
	mallory := e.join(admin, evil)
	if mallory.user.Name != evil {
		t.Fatalf("name = %q, want it stored as typed", mallory.user.Name)
	}
	r := admin.call(http.StatusOK, "GET", "/api/users", nil, nil)
	if strings.Contains(string(r.Body), "<img") {
		t.Errorf("%s: raw markup in JSON", r)
	}
	if got := admin.userList("")[mallory.user.ID]["name"]; got != evil {
		t.Errorf("decoded name = %q, want %q", got, evil)
	}

	room := admin.roomNamed(chat.FirstRoomName)
	m := admin.post(room.ID, "hello @"+evil+" and welcome")
	if !slices.Equal(m.MentionIDs, []int64{mallory.user.ID}) {
		t.Errorf("mention_ids = %v, want [%d]", m.MentionIDs, mallory.user.ID)
	}
	if strings.Contains(strings.ToLower(m.HTML), "<img") || !strings.Contains(m.HTML, `class="mention"`) || !strings.Contains(m.HTML, "&lt;img") {
		t.Errorf("html = %q, want the name as escaped text in a mention", m.HTML)
	}
	// The creator name in messages is escaped too.
	mallory.post(room.ID, "hi all")
	r = admin.call(http.StatusOK, "GET", fmt.Sprintf("/api/rooms/%d/messages", room.ID), nil, nil)
	if strings.Contains(string(r.Body), "<img") {
		t.Errorf("%s: raw markup in JSON", r)
	}
}

// TestConcurrentPosts posts from several clients at once, retries included.
func TestConcurrentPosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.firstRun()
	bob := e.join(admin, "Bob")
	room := admin.roomNamed(chat.FirstRoomName)
	path := fmt.Sprintf("/api/rooms/%d/messages", room.ID)

	const workers, posts = 8, 6
	type result struct {
		r   *response
		err error
	}
	results := make(chan result, workers*(posts+1))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		c := admin
		if w%2 == 1 {
			c = bob
		}
		wg.Go(func() {
			<-start
			for i := range posts {
				r, err := c.send("POST", path, map[string]string{"body": fmt.Sprintf("worker %d post %d", w, i)})
				results <- result{r, err}
				// Readers run alongside the writers.
				if _, err := c.send("GET", path+"?limit=5", nil); err != nil {
					results <- result{nil, err}
				}
			}
			// Everyone retries the same post at once.
			r, err := admin.send("POST", path, map[string]string{"body": "once", "client_id": "shared-retry"})
			results <- result{r, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)

	created, retried := 0, 0
	var retryID int64
	for res := range results {
		if res.err != nil {
			t.Fatal(res.err)
		}
		checkResponse(t, res.r)
		var m chat.Message
		switch res.r.Status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
			retried++
		default:
			t.Fatalf("%s: want 201 or 200", res.r)
		}
		res.r.decode(t, &m)
		if m.ClientID == "shared-retry" {
			if retryID != 0 && m.ID != retryID {
				t.Errorf("retries got messages %d and %d", retryID, m.ID)
			}
			retryID = m.ID
		}
	}
	if created != workers*posts+1 || retried != workers-1 {
		t.Errorf("created %d, retried %d; want %d and %d", created, retried, workers*posts+1, workers-1)
	}
	if got := admin.messages(room.ID, "?limit=200"); len(got) != workers*posts+1 {
		t.Errorf("room has %d messages, want %d", len(got), workers*posts+1)
	}
	r := admin.call(http.StatusOK, "GET", "/metrics", nil, nil)
	if want := fmt.Sprintf("\ncampfire_messages_posted_total %d\n", workers*posts+1); !strings.Contains(string(r.Body), want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

// activeMarkup parses fragment as a browser would and describes the first
// thing in it that could run script: an element other than plain text
// formatting, an event handler attribute, or a javascript: or data: URL.
func activeMarkup(t *testing.T, fragment string) string {
	t.Helper()
	nodes, err := html.ParseFragment(strings.NewReader(fragment), &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"})
	if err != nil {
		t.Fatal(err)
	}
	inert := map[string]bool{"p": true, "a": true, "strong": true, "em": true, "br": true, "code": true}
	var walk func(n *html.Node) string
	walk = func(n *html.Node) string {
		if n.Type == html.ElementNode {
			if !inert[n.Data] {
				return "element <" + n.Data + ">"
			}
			for _, a := range n.Attr {
				v := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
				if strings.HasPrefix(a.Key, "on") || strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") {
					return "attribute " + a.Key + "=" + a.Val
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if bad := walk(c); bad != "" {
				return bad
			}
		}
		return ""
	}
	for _, n := range nodes {
		if bad := walk(n); bad != "" {
			return bad
		}
	}
	return ""
}
