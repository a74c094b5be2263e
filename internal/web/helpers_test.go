package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

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

// browser returns a client with a cookie jar and no bearer token.
func (e *env) browser() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{e: e, hc: &http.Client{Transport: e.ts.Client().Transport, Jar: jar}}
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
