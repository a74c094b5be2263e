package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/render"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/web"
)

const testVersion = "test-version"

// Credentials of the administrator that env.firstRun creates.
const (
	adminName     = "Admin"
	adminEmail    = "admin@example.com"
	adminPassword = "admin password 1"
)

// renderer is shared by all tests, as by all requests of a process:
// render.New is not safe to call concurrently (goldmark's
// parser.NewContextKey increments a global counter without a lock).
var renderer = sync.OnceValue(render.New)

// env is one server on a real SQLite file, reached over real HTTP.
type env struct {
	t      *testing.T
	db     *sqldb.DB
	srv    *web.Server
	ts     *httptest.Server
	url    string
	dbPath string
	// dbGone is set by tests that remove or close the database, so that
	// the cleanup does not report the failing close.
	dbGone bool
}

// newEnv starts a server. configure runs before Handler, so it may set
// LoginLimit and friends. Logs are discarded.
func newEnv(t *testing.T, configure ...func(*web.Server)) *env {
	t.Helper()
	return newEnvWithLogger(t, slog.New(slog.DiscardHandler), configure...)
}

func newEnvWithLogger(t *testing.T, logger *slog.Logger, configure ...func(*web.Server)) *env {
	t.Helper()
	e := &env{t: t, dbPath: filepath.Join(t.TempDir(), "campfire.db")}
	e.db = sqldb.New(e.dbPath)
	e.db.Logger = slog.New(slog.DiscardHandler)
	if err := e.db.Open(context.Background()); err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() {
		if err := e.db.Close(); err != nil && !e.dbGone {
			t.Errorf("close database: %v", err)
		}
	})
	e.srv = web.NewServer(e.db, renderer(), logger, testVersion)
	e.srv.BcryptCost = bcrypt.MinCost
	e.srv.LoginLimit = 1000 // tests sign in often from one IP; the limit has its own test
	for _, c := range configure {
		c(e.srv)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.ts.Close) // runs before the database closes
	e.url = e.ts.URL
	return e
}

// client talks to the server as one signed-in person (or anonymously).
type client struct {
	e        *env
	hc       *http.Client
	token    string // sent as "Authorization: Bearer"; "" sends none
	user     *chat.User
	password string
}

// anon returns a client without credentials.
func (e *env) anon() *client {
	return &client{e: e, hc: e.ts.Client()}
}

// browser returns a client with a cookie jar and no bearer token. Like a
// test of a browser's view, it does not follow redirects: tests check them.
func (e *env) browser() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{e: e, hc: &http.Client{
		Transport:     e.ts.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// browserAs signs c's user in through the sign-in form and returns the
// browser holding the session cookie.
func (e *env) browserAs(c *client) *client {
	e.t.Helper()
	b := e.browser()
	r := b.form(http.StatusSeeOther, "/session", url.Values{"email": {c.user.Email}, "password": {c.password}})
	if loc := r.Header.Get("Location"); loc != "/" {
		e.t.Fatalf("%s: Location %q, want /", r, loc)
	}
	b.user, b.password = c.user, c.password
	return b
}

// form posts an HTML form, as a browser does.
func (c *client) form(want int, path string, v url.Values, hdr ...string) *response {
	c.e.t.Helper()
	return c.call(want, "POST", path, v.Encode(), nil, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

// page gets a page and, when it is one, checks that it is HTML.
func (c *client) page(want int, path string) *response {
	c.e.t.Helper()
	r := c.call(want, "GET", path, nil, nil)
	if want == http.StatusOK || want >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			c.e.t.Errorf("%s: Content-Type %q, want HTML", r, ct)
		}
	}
	return r
}

// redirect checks that r redirects (303) to location.
func (r *response) redirect(t *testing.T, location string) {
	t.Helper()
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != location {
		t.Errorf("%s: redirects to %q, want 303 to %q", r, r.Header.Get("Location"), location)
	}
}

// doc parses an HTML response.
func (r *response) doc(t *testing.T) *html.Node {
	t.Helper()
	n, err := html.Parse(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("%s: parse HTML: %v", r, err)
	}
	return n
}

// findAll returns the elements under n, n included, for which match is true.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// byID returns the element with id, or nil.
func byID(n *html.Node, id string) *html.Node {
	found := findAll(n, func(n *html.Node) bool { return attr(n, "id") == id })
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

// withClass matches elements of a tag ("" for any) that have class.
func withClass(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		return (tag == "" || n.Data == tag) && slices.Contains(strings.Fields(attr(n, "class")), class)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// hasAttr reports whether n has the attribute key, whatever its value.
func hasAttr(n *html.Node, key string) bool {
	return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == key })
}

// textOf is the text content of n.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// wsClient is one WebSocket connection of a test, with a goroutine that
// reads its frames into a channel until the connection ends.
type wsClient struct {
	t      *testing.T
	name   string
	conn   *websocket.Conn
	frames chan wsFrame
	done   chan struct{}
	err    error // why reading stopped, after done
}

// wsFrame is a frame the server sent: the raw bytes and the fields tests
// look at.
type wsFrame struct {
	Raw       []byte `json:"-"`
	Type      string `json:"type"`
	RoomID    int64  `json:"room_id"`
	MessageID int64  `json:"message_id"`
	ClientID  string `json:"client_id"`
	// Message is the "message" of message events; error frames have a
	// string there instead, which is Text.
	Message *chat.Message   `json:"-"`
	Text    string          `json:"-"`
	RawMsg  json.RawMessage `json:"message"`
	HTML    string          `json:"html"`
	Boost   *chat.Boost     `json:"boost"`
	BoostID int64           `json:"boost_id"`
	Room    *chat.Room      `json:"room"`
	Action  string          `json:"action"`
	User    json.RawMessage `json:"user"`
	UserIDs []int64         `json:"user_ids"`
	Code    string          `json:"code"`
}

// wsURL is the server's WebSocket endpoint.
func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.url, "http") + "/ws" }

// dial opens a WebSocket as c: with its bearer token, or with its cookies
// for a browser client.
func (c *client) dial() *wsClient {
	c.e.t.Helper()
	ws, resp, err := c.dialWith(nil)
	if err != nil {
		c.e.t.Fatalf("dial /ws: %v (response %v)", err, resp)
	}
	w := &wsClient{t: c.e.t, conn: ws, frames: make(chan wsFrame, 1000), done: make(chan struct{})}
	if c.user != nil {
		w.name = c.user.Name
	}
	go w.readLoop()
	c.e.t.Cleanup(func() { ws.CloseNow() })
	return w
}

// dialWith dials /ws with extra headers (name/value pairs) and returns the
// raw result, for tests of refusals.
func (c *client) dialWith(hdr http.Header) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	maps.Copy(h, hdr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, c.e.wsURL(), &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if ws != nil {
		ws.SetReadLimit(1 << 20)
	}
	return ws, resp, err
}

func (w *wsClient) readLoop() {
	defer close(w.done)
	for {
		_, b, err := w.conn.Read(context.Background())
		if err != nil {
			w.err = err
			return
		}
		f := wsFrame{Raw: b}
		err = json.Unmarshal(b, &f)
		if err == nil && len(f.RawMsg) > 0 {
			if f.RawMsg[0] == '{' {
				err = json.Unmarshal(f.RawMsg, &f.Message)
			} else {
				err = json.Unmarshal(f.RawMsg, &f.Text)
			}
		}
		if err != nil {
			w.t.Errorf("%s: frame %s: %v", w.name, b, err)
			continue
		}
		w.frames <- f
	}
}

// send writes one JSON frame.
func (w *wsClient) send(v any) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.conn.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("%s: write %s: %v", w.name, b, err)
	}
}

// until returns the frames received up to and including the first one
// that match accepts, failing after a few seconds.
func (w *wsClient) until(what string, match func(wsFrame) bool) []wsFrame {
	w.t.Helper()
	var got []wsFrame
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f := <-w.frames:
			got = append(got, f)
			if match(f) {
				return got
			}
		case <-timeout:
			w.t.Fatalf("%s: no %s within 5s; got %s", w.name, what, frameTypes(got))
			return nil
		}
	}
}

// expect returns the next frame of type typ, skipping presence frames
// and failing on any other frame in between.
func (w *wsClient) expect(typ string) wsFrame {
	w.t.Helper()
	got := w.until(typ, func(f wsFrame) bool { return f.Type == typ })
	for _, f := range got[:len(got)-1] {
		if f.Type != "presence" {
			w.t.Fatalf("%s: got %s before %s", w.name, f.Raw, typ)
		}
	}
	return got[len(got)-1]
}

// subscribe joins a room and waits for the confirmation.
func (w *wsClient) subscribe(roomID int64) {
	w.t.Helper()
	w.send(map[string]any{"type": "subscribe", "room_id": roomID})
	if f := w.expect("subscribed"); f.RoomID != roomID {
		w.t.Fatalf("%s: subscribed to %d, want %d", w.name, f.RoomID, roomID)
	}
}

// sync returns every frame (presence aside) published to this connection
// before now. It marks a room the user is in as read: the server
// publishes the "read" event through the hub, behind everything queued
// before it, so it is a barrier for room and personal events alike.
func (w *wsClient) sync(roomID int64) []wsFrame {
	w.t.Helper()
	w.send(map[string]any{"type": "read", "room_id": roomID})
	got := w.until("read barrier", func(f wsFrame) bool { return f.Type == "read" && f.RoomID == roomID })
	var out []wsFrame
	for _, f := range got[:len(got)-1] {
		if f.Type != "presence" {
			out = append(out, f)
		}
	}
	return out
}

// closed waits for the connection to end and returns its close status.
func (w *wsClient) closed() websocket.StatusCode {
	w.t.Helper()
	select {
	case <-w.done:
		return websocket.CloseStatus(w.err)
	case <-time.After(5 * time.Second):
		w.t.Fatalf("%s: connection still open after 5s", w.name)
		return 0
	}
}

func frameTypes(fs []wsFrame) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Write(f.Raw)
	}
	return "[" + b.String() + "]"
}

// response is a fully read HTTP response.
type response struct {
	req    string // "METHOD /path", for messages
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) String() string {
	return fmt.Sprintf("%s → %d %s", r.req, r.Status, bytes.TrimSpace(r.Body))
}

// apiError is the error body of the JSON API.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// send makes one request and never fails the test, so goroutines may use
// it. in is sent as JSON unless it is a string or []byte (sent as-is with
// a JSON content type); hdr holds extra header name/value pairs.
func (c *client) send(method, path string, in any, hdr ...string) (*response, error) {
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case string:
		body = strings.NewReader(v)
	case []byte:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.url+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{req: method + " " + path, Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// call makes a request, checks the status, the X-Version header and, for
// API errors, the error body, and decodes a successful body into out.
func (c *client) call(want int, method, path string, in, out any, hdr ...string) *response {
	c.e.t.Helper()
	r, err := c.send(method, path, in, hdr...)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	checkResponse(c.e.t, r)
	if r.Status != want {
		c.e.t.Fatalf("%s: want status %d", r, want)
	}
	if out != nil {
		r.decode(c.e.t, out)
	}
	return r
}

// checkResponse checks what every response must have: the X-Version
// header, and for API errors a JSON error body whose code matches the
// status.
func checkResponse(t *testing.T, r *response) {
	t.Helper()
	if got := r.Header.Get("X-Version"); got != testVersion {
		t.Errorf("%s: X-Version = %q, want %q", r, got, testVersion)
	}
	path := strings.SplitN(r.req, " ", 2)[1]
	if r.Status < 400 || !strings.HasPrefix(path, "/api/") {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: error Content-Type = %q, want application/json", r, ct)
		return
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Errorf("%s: error body is not {\"error\":{code,message}}: %v", r, err)
		return
	}
	wantCode := map[int]string{
		400: chat.EINVALID, 401: chat.EUNAUTHORIZED, 403: chat.EFORBIDDEN, 404: chat.ENOTFOUND,
		409: chat.ECONFLICT, 429: chat.ERATELIMITED, 500: chat.EINTERNAL, 503: chat.EUNAVAILABLE,
	}[r.Status]
	if e.Error.Code != wantCode || e.Error.Message == "" {
		t.Errorf("%s: error code %q message %q, want code %q and a message", r, e.Error.Code, e.Error.Message, wantCode)
	}
}

func (r *response) decode(t *testing.T, out any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, out); err != nil {
		t.Fatalf("%s: decode body: %v", r, err)
	}
}

// errorMessage returns the message of an API error response.
func (r *response) errorMessage(t *testing.T) string {
	t.Helper()
	var e apiError
	r.decode(t, &e)
	return e.Error.Message
}

// signedIn is the body of first run, sign-in and sign-up.
type signedIn struct {
	User  *chat.User `json:"user"`
	Token string     `json:"token"`
}

// firstRun sets the server up and returns its administrator.
func (e *env) firstRun() *client {
	e.t.Helper()
	var s signedIn
	e.anon().call(http.StatusCreated, "POST", "/api/first_run",
		map[string]string{"name": adminName, "email": adminEmail, "password": adminPassword}, &s)
	return &client{e: e, hc: e.ts.Client(), token: s.Token, user: s.User, password: adminPassword}
}

type account struct {
	chat.Account
	JoinPath string `json:"join_path"`
}

// joinCode returns the current join code, read by c.
func (c *client) joinCode() string {
	c.e.t.Helper()
	var a account
	c.call(http.StatusOK, "GET", "/api/account", nil, &a)
	return strings.TrimPrefix(a.JoinPath, "/join/")
}

// emailOf is the email address join gives a user named name.
func emailOf(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String() + "@example.com"
}

// join signs a member up through the join link that inviter can see.
func (e *env) join(inviter *client, name string) *client {
	e.t.Helper()
	password := "password of " + name
	var s signedIn
	e.anon().call(http.StatusCreated, "POST", "/api/join/"+inviter.joinCode(),
		map[string]string{"name": name, "email": emailOf(name), "password": password}, &s)
	return &client{e: e, hc: e.ts.Client(), token: s.Token, user: s.User, password: password}
}

// signIn starts a new session for c's user and returns a client using it.
func (c *client) signIn() *client {
	c.e.t.Helper()
	var s signedIn
	c.e.anon().call(http.StatusCreated, "POST", "/api/session",
		map[string]string{"email": c.user.Email, "password": c.password}, &s)
	return &client{e: c.e, hc: c.e.ts.Client(), token: s.Token, user: s.User, password: c.password}
}

// createRoom creates an open or closed room.
func (c *client) createRoom(name string, typ chat.RoomType, userIDs ...int64) *chat.Room {
	c.e.t.Helper()
	in := map[string]any{"name": name, "type": typ}
	if len(userIDs) > 0 {
		in["user_ids"] = userIDs
	}
	var room chat.Room
	c.call(http.StatusCreated, "POST", "/api/rooms", in, &room)
	return &room
}

// rooms lists the rooms c belongs to.
func (c *client) rooms() []*chat.Room {
	c.e.t.Helper()
	var out struct {
		Rooms []*chat.Room `json:"rooms"`
	}
	c.call(http.StatusOK, "GET", "/api/rooms", nil, &out)
	return out.Rooms
}

// roomNamed finds c's room by name.
func (c *client) roomNamed(name string) *chat.Room {
	c.e.t.Helper()
	for _, r := range c.rooms() {
		if r.Name == name {
			return r
		}
	}
	c.e.t.Fatalf("%s has no room named %q", c.user.Name, name)
	return nil
}

// post posts body in room and returns the message.
func (c *client) post(roomID int64, body string) *chat.Message {
	c.e.t.Helper()
	var m chat.Message
	c.call(http.StatusCreated, "POST", fmt.Sprintf("/api/rooms/%d/messages", roomID), map[string]string{"body": body}, &m)
	return &m
}

// messages lists a page of a room's messages; query is "" or "?before=…".
func (c *client) messages(roomID int64, query string) []*chat.Message {
	c.e.t.Helper()
	var out struct {
		Messages []*chat.Message `json:"messages"`
	}
	r := c.call(http.StatusOK, "GET", fmt.Sprintf("/api/rooms/%d/messages%s", roomID, query), nil, &out)
	if out.Messages == nil {
		c.e.t.Fatalf("%s: messages is not a list", r)
	}
	return out.Messages
}

// search runs a search and returns the results.
func (c *client) search(q string) []*chat.Message {
	c.e.t.Helper()
	var out struct {
		Results []*chat.Message `json:"results"`
	}
	r := c.call(http.StatusOK, "GET", "/api/search?q="+url.QueryEscape(q), nil, &out)
	if out.Results == nil {
		c.e.t.Fatalf("%s: results is not a list", r)
	}
	return out.Results
}

func ids(ms []*chat.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// lockedBuffer is an io.Writer safe for the server's concurrent logging.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signInAs signs in with email and password and returns the new session's client.
func (c *client) signInAs(email, password string) *client {
	c.e.t.Helper()
	var s signedIn
	c.call(http.StatusCreated, "POST", "/api/session", map[string]string{"email": email, "password": password}, &s)
	return &client{e: c.e, hc: c.e.ts.Client(), token: s.Token, user: s.User, password: password}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
