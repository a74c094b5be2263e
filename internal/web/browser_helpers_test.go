package web_test

// Helpers of the browser tests (browser_test.go): a real server on a real
// port, and headless Chromium driven through chromedp, with one browser
// context (own cookies) per person.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/web"
)

// stepTimeout bounds one browser step (a navigation, a click, a query).
const stepTimeout = 15 * time.Second

// chromium returns the path of the Chromium binary, or skips the test (fails
// under CAMPFIRE_TEST_REQUIRE_ALL=1, the project rule for missing parts).
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped in -short mode")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "browser tests need Chromium: apt-get install chromium"
	if os.Getenv("CAMPFIRE_TEST_REQUIRE_ALL") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// liveServer is a server on a real SQLite file, listening with
// web.Server.Open on a loopback port that it keeps across restarts.
type liveServer struct {
	t      *testing.T
	dbPath string
	addr   string // host:port, fixed after the first start
	url    string
	logs   *lockedBuffer
	hc     *http.Client

	db  *sqldb.DB
	srv *web.Server
	// e lets the API helpers of helpers_test.go (client.call, post,
	// createRoom, ...) talk to this server. It has no httptest server, so
	// env methods that need one (anon, browser, firstRun, join) must not
	// be called on it; liveServer has its own.
	e *env
}

func newLiveServer(t *testing.T) *liveServer {
	t.Helper()
	s := &liveServer{
		t:      t,
		dbPath: filepath.Join(t.TempDir(), "campfire.db"),
		addr:   "127.0.0.1:0",
		logs:   &lockedBuffer{},
		hc:     &http.Client{Timeout: 10 * time.Second},
	}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			logs := s.logs.String()
			if len(logs) > 8000 {
				logs = "…" + logs[len(logs)-8000:]
			}
			t.Logf("server log (tail):\n%s", logs)
		}
	})
	return s
}

// start opens the database and serves it on s.addr.
func (s *liveServer) start() {
	s.t.Helper()
	db := sqldb.New(s.dbPath)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(context.Background()); err != nil {
		s.t.Fatalf("open database: %v", err)
	}
	srv := web.NewServer(db, renderer(), slog.New(slog.NewTextHandler(s.logs, nil)), testVersion)
	srv.BcryptCost = bcrypt.MinCost
	srv.LoginLimit = 1000 // the tests sign in often from one address
	srv.ShutdownTimeout = 5 * time.Second
	var err error
	// The port of a restart was just freed; give the kernel a moment if it
	// is not yet.
	for deadline := time.Now().Add(3 * time.Second); ; {
		if err = srv.Open(s.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		db.Close()
		s.t.Fatalf("start server: %v", err)
	}
	s.db, s.srv = db, srv
	s.addr = srv.Addr().String()
	s.url = srv.URL()
	s.e = &env{t: s.t, db: db, srv: srv, url: s.url, dbPath: s.dbPath}
}

// stop closes the server (pages' sockets get 1001, going away) and then
// its database.
func (s *liveServer) stop() {
	s.t.Helper()
	if s.srv == nil {
		return
	}
	if err := s.srv.Close(); err != nil {
		s.t.Errorf("close server: %v", err)
	}
	if err := s.db.Close(); err != nil {
		s.t.Errorf("close database: %v", err)
	}
	s.srv, s.db = nil, nil
}

// anon is an API client without credentials.
func (s *liveServer) anon() *client { return &client{e: s.e, hc: s.hc} }

// firstRun sets the server up through the API and returns its
// administrator (adminName, adminEmail, adminPassword).
func (s *liveServer) firstRun() *client {
	s.t.Helper()
	var si signedIn
	s.anon().call(http.StatusCreated, "POST", "/api/first_run",
		map[string]string{"name": adminName, "email": adminEmail, "password": adminPassword}, &si)
	return &client{e: s.e, hc: s.hc, token: si.Token, user: si.User, password: adminPassword}
}

// join signs a member up through the API with inviter's join code.
func (s *liveServer) join(inviter *client, name, email string) *client {
	s.t.Helper()
	password := "password of " + email
	var si signedIn
	s.anon().call(http.StatusCreated, "POST", "/api/join/"+inviter.joinCode(),
		map[string]string{"name": name, "email": email, "password": password}, &si)
	return &client{e: s.e, hc: s.hc, token: si.Token, user: si.User, password: password}
}

// browser is one headless Chromium process. Each person gets a tab in a
// browser context of their own (like an incognito window: separate
// cookies), so two people chat from one process.
type browser struct {
	t    *testing.T
	ctx  context.Context
	out  *lockedBuffer // the browser's stdout and stderr
	tabs []*tab
	dir  string // where failure artifacts go, made on first need
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	out := &lockedBuffer{} // the browser's stdout and stderr
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(out),
	)
	// stop ends the browser; the first Run must not have a deadline (it
	// would end the browser with it), so a watchdog bounds the start.
	parent, stop := context.WithCancel(context.Background())
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	watchdog := time.AfterFunc(30*time.Second, stop)
	err := chromedp.Do(ctx)
	if !watchdog.Stop() {
		err = fmt.Errorf("no answer within 30s (%v)", err)
	}
	if err != nil {
		stop()
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v\n%s", path, err, out)
	}
	b := &browser{t: t, ctx: ctx, out: out}
	t.Cleanup(func() {
		b.finish()
		for _, tb := range b.tabs {
			tb.close()
		}
		stop()
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("browser output (tail):\n%s", b.output())
		}
	})
	return b
}

// output is the tail of the browser's stdout and stderr, without the
// complaints about the missing D-Bus.
func (b *browser) output() string {
	var lines []string
	for l := range strings.Lines(b.out.String()) {
		if !strings.Contains(l, "dbus") {
			lines = append(lines, l)
		}
	}
	o := strings.Join(lines, "")
	if len(o) > 6000 {
		o = "…" + o[len(o)-6000:]
	}
	return o
}

// chromiumCrash is the panic with which the helpers stop a test whose
// browser process died (Chromium crashed; the page cannot do that), so
// that browserTest can run the test again.
type chromiumCrash struct{ err error }

// fail stops the test after a failed browser step: with a chromiumCrash
// if the browser process died, else with t.Fatalf.
func (b *browser) fail(err error, format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	var exit *exec.ExitError
	if errors.As(err, &exit) || b.ctx.Err() != nil { // only a dead browser ends b.ctx before the cleanup
		panic(chromiumCrash{fmt.Errorf("%s: %w\nbrowser output (tail):\n%s", msg, err, b.output())})
	}
	b.t.Fatalf("%s: %v", msg, err)
}

// browserTest runs the body of a browser test. Chromium itself crashes
// now and then (here once in some hundreds of tests: a segmentation fault
// of the browser process, under load); when it does before the test
// failed otherwise, the body runs once more, with a new browser and
// server. A second crash fails the test.
func browserTest(t *testing.T, body func()) {
	t.Helper()
	chromium(t) // skip early
	for attempt := 1; ; attempt++ {
		crash := catchCrash(body)
		if crash == nil {
			return
		}
		if t.Failed() || attempt == 2 {
			t.Fatalf("Chromium crashed: %v", crash.err)
		}
		t.Logf("Chromium crashed: %v\n(not a failure of the page; running the test again with a new browser and server)", crash.err)
	}
}

func catchCrash(body func()) (crash *chromiumCrash) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(chromiumCrash)
			if !ok {
				panic(r)
			}
			crash = &c
		}
	}()
	body()
	return nil
}

// tab is one person's page, in a browser context of its own.
type tab struct {
	b     *browser
	t     *testing.T
	name  string
	ctx   context.Context
	close func() // closes the tab and its browser context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	dialogs []string // "type: message" of every JavaScript dialog
	checked int      // console messages already reported
}

// newTab opens a tab in a new browser context; name labels its messages.
func (b *browser) newTab(name string) *tab {
	b.t.Helper()
	parent, stop := context.WithCancel(b.ctx)
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	watchdog := time.AfterFunc(20*time.Second, stop)
	err := chromedp.Do(ctx) // creates the target; no deadline, as for the browser
	if !watchdog.Stop() {
		err = fmt.Errorf("no answer within 20s (%v)", err)
	}
	if err != nil {
		cancel()
		stop()
		b.fail(err, "%s: open a tab", name)
	}
	tb := &tab{b: b, t: b.t, name: name, ctx: ctx, close: func() { cancel(); stop() }}
	// Every console message and uncaught exception of the page.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	// confirm() (delete a message) is answered yes; an alert() is how
	// the page reports a failed action, so it is recorded and fails the
	// test in finish.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			chromedp.Call(cctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			cancel()
		}
	}()
	b.tabs = append(b.tabs, tb)
	return tb
}

// finish reports the pages' console errors and fails the test on any
// uncaught JavaScript exception or alert; if the test failed, it saves a
// screenshot, the HTML and the console log of each tab.
func (b *browser) finish() {
	b.t.Helper()
	if b.ctx.Err() != nil {
		return // crashed: browserTest has reported it
	}
	for _, tb := range b.tabs {
		tb.checkConsole()
		tb.mu.Lock()
		for _, d := range tb.dialogs {
			if strings.HasPrefix(d, "alert") {
				b.t.Errorf("%s: the page showed an alert: %s", tb.name, d)
			}
		}
		tb.mu.Unlock()
	}
	if b.t.Failed() {
		for _, tb := range b.tabs {
			tb.saveArtifacts()
		}
	}
}

// sentinel is logged by checkConsole to know the console stream caught up.
const sentinel = "campfire-browser-test-sentinel"

// checkConsole logs the console errors and warnings that came since the
// last check, and fails the test on an uncaught exception or a violation
// of the Content Security Policy.
func (tb *tab) checkConsole() {
	tb.t.Helper()
	// The messages arrive through a queue: log a marker and wait for it,
	// so that everything the page said before now is in tb.console.
	mark := fmt.Sprintf("%s-%d", sentinel, time.Now().UnixNano())
	if _, err := tryEval[chromedp.Void](tb, fmt.Sprintf("console.debug(%q)", mark), 2*time.Second); err == nil {
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			tb.mu.Lock()
			seen := slices.ContainsFunc(tb.console[tb.checked:], func(m chromedp.ConsoleMessage) bool { return m.Text == mark })
			tb.mu.Unlock()
			if seen {
				break
			}
		}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, m := range tb.console[tb.checked:] {
		switch {
		case strings.HasPrefix(m.Text, sentinel):
		case m.IsException():
			tb.t.Errorf("%s: uncaught JavaScript exception: %s (%s:%d:%d)", tb.name, m.Text, m.URL, m.Line+1, m.Column+1)
		case strings.Contains(m.Text, "Content Security Policy"):
			// The policy stopped a script or handler that made it into
			// the page: markup went where text belongs.
			tb.t.Errorf("%s: %s (%s:%d)", tb.name, m.Text, m.URL, m.Line+1)
		case m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning:
			tb.t.Logf("%s: console %s", tb.name, m.Text)
		}
	}
	tb.checked = len(tb.console)
}

// saveArtifacts writes the tab's screenshot, HTML and console log next to
// the other failure artifacts and logs where they are. They go to
// $CAMPFIRE_TEST_ARTIFACTS or a new directory under the system's temporary
// one (not t.TempDir, which is deleted when the test ends).
func (tb *tab) saveArtifacts() {
	b := tb.b
	if b.dir == "" {
		name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(b.t.Name(), "_")
		var err error
		if root := os.Getenv("CAMPFIRE_TEST_ARTIFACTS"); root != "" {
			b.dir = filepath.Join(root, name)
			err = os.MkdirAll(b.dir, 0o755)
		} else {
			b.dir, err = os.MkdirTemp("", "campfire-"+name+"-")
		}
		if err != nil {
			b.t.Logf("no directory for failure artifacts: %v", err)
			return
		}
	}
	base := filepath.Join(b.dir, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(tb.name, "_"))
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		os.WriteFile(base+".png", png, 0o644)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		os.WriteFile(base+".html", []byte("<!-- "+loc+" -->\n"+html), 0o644)
	}
	var log strings.Builder
	tb.mu.Lock()
	for _, m := range tb.console {
		fmt.Fprintf(&log, "%s %s (%s:%d)\n", m.Time.Format("15:04:05.000"), m, m.URL, m.Line+1)
	}
	for _, d := range tb.dialogs {
		fmt.Fprintf(&log, "dialog %s\n", d)
	}
	tb.mu.Unlock()
	os.WriteFile(base+".console.txt", []byte(log.String()), 0o644)
	b.t.Logf("%s: at %s; screenshot, HTML and console log in %s.*", tb.name, loc, base)
}

// do runs browser actions within stepTimeout and fails the test on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.b.fail(err, "%s: %s", tb.name, what)
	}
}

// tryEval evaluates a JavaScript expression (awaiting a promise) within
// timeout.
func tryEval[T any](tb *tab, expr string, timeout time.Duration) (T, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// eval evaluates a JavaScript expression and fails the test on error.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := tryEval[T](tb, expr, stepTimeout)
	if err != nil {
		tb.b.fail(err, "%s: evaluate %s", tb.name, expr)
	}
	return v
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// open navigates to path (on srv) and returns the status of the document,
// after redirects.
func (tb *tab) open(s *liveServer, path string) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(s.url+path))
	if err != nil {
		tb.b.fail(err, "%s: open %s", tb.name, path)
	}
	if resp == nil {
		tb.t.Fatalf("%s: open %s: no response", tb.name, path)
	}
	return resp.Status
}

// navigating runs actions that load a new page (a click on a link, a form
// submission) and returns the status of the new document.
func (tb *tab) navigating(what string, actions ...chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		tb.b.fail(err, "%s: %s", tb.name, what)
	}
	if resp == nil {
		tb.t.Fatalf("%s: %s: no response", tb.name, what)
	}
	return resp.Status
}

// path is the page's location.pathname plus its query.
func (tb *tab) path() string {
	tb.t.Helper()
	return eval[string](tb, `location.pathname + location.search`)
}

// waitFor polls a JavaScript condition until it is true, failing the test
// after timeout. Errors (a page still loading) count as false.
func (tb *tab) waitFor(what, cond string, timeout time.Duration) time.Duration {
	tb.t.Helper()
	start := time.Now()
	var lastErr error
	for {
		ok, err := tryEval[bool](tb, cond, time.Second)
		if err == nil && ok {
			return time.Since(start)
		}
		if err != nil {
			lastErr = err
			if tb.b.ctx.Err() != nil {
				tb.b.fail(err, "%s: %s", tb.name, what)
			}
		}
		if time.Since(start) > timeout {
			tb.t.Fatalf("%s: not within %v: %s (last error: %v)", tb.name, timeout, what, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signIn signs in through the sign-in form and lands on "/" (a room).
func (tb *tab) signIn(s *liveServer, c *client) {
	tb.t.Helper()
	if st := tb.open(s, "/session/new"); st != http.StatusOK {
		tb.t.Fatalf("%s: sign-in page: status %d", tb.name, st)
	}
	tb.do("fill in the sign-in form",
		chromedp.SendKeys(chromedp.ID("email"), c.user.Email),
		chromedp.SendKeys(chromedp.ID("password"), c.password),
	)
	if st := tb.navigating("sign in", chromedp.Click(chromedp.CSS(`#sign-in button[type=submit]`))); st != http.StatusOK {
		tb.t.Fatalf("%s: sign in: status %d at %s", tb.name, st, tb.path())
	}
	if p := tb.path(); !strings.HasPrefix(p, "/rooms/") {
		tb.t.Fatalf("%s: signed in at %s, want a room", tb.name, p)
	}
}

// openRoom shows a room and waits until its live connection has
// subscribed to the room and to every room of the sidebar.
func (tb *tab) openRoom(s *liveServer, roomID int64) {
	tb.t.Helper()
	if st := tb.open(s, fmt.Sprintf("/rooms/%d", roomID)); st != http.StatusOK {
		tb.t.Fatalf("%s: room %d: status %d", tb.name, roomID, st)
	}
	tb.waitLive()
}

// waitLive waits until the room page's WebSocket is open and the server
// has handled its subscriptions: it subscribes to the room once more and
// waits for the answer, which comes after the answers to the page's own
// subscribe frames (a connection's frames are handled in order).
func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.waitFor("the live connection opens", `Boolean(window.campfire && campfire.room && campfire.live.open())`, 10*time.Second)
	ok, err := tryEval[bool](tb, `new Promise((resolve) => {
		const live = campfire.live, id = campfire.room.id, prev = live.handlers.subscribed;
		live.handlers.subscribed = (f) => {
			if (prev) prev(f);
			if (f.room_id === id) {
				live.handlers.subscribed = prev;
				resolve(true);
			}
		};
		live.send({ type: "subscribe", room_id: id });
	})`, 10*time.Second)
	if err != nil {
		tb.b.fail(err, "%s: no subscription to the room", tb.name)
	}
	if !ok {
		tb.t.Fatalf("%s: no subscription to the room", tb.name)
	}
}

// messageCount counts the messages in the page whose body contains text:
// all of them, and those that are the server's (not a pending bubble).
func (tb *tab) messageCount(text string) (all, confirmed int) {
	tb.t.Helper()
	v, err := tryEval[[]int](tb, messageCountJS(text), 2*time.Second)
	if err != nil {
		tb.b.fail(err, "%s: count messages %q", tb.name, text)
	}
	return v[0], v[1]
}

func messageCountJS(text string) string {
	return fmt.Sprintf(`(() => {
		const ms = Array.from(document.querySelectorAll("#messages article.message"))
			.filter((m) => (m.querySelector(".message__body") || m).textContent.includes(%s));
		return [ms.length, ms.filter((m) => m.dataset.messageId && !m.classList.contains("message--pending")).length];
	})()`, js(text))
}

// messageID returns the id of the one message containing text.
func (tb *tab) messageID(text string) int64 {
	tb.t.Helper()
	id := eval[int64](tb, fmt.Sprintf(`(() => {
		const ms = Array.from(document.querySelectorAll("#messages article.message[data-message-id]"))
			.filter((m) => m.querySelector(".message__body").textContent.includes(%s));
		return ms.length === 1 ? Number(ms[0].dataset.messageId) : -ms.length;
	})()`, js(text)))
	if id <= 0 {
		tb.t.Fatalf("%s: %d messages contain %q, want 1", tb.name, -id, text)
	}
	return id
}

// hoverClick moves the mouse over an element (as a person does before
// using a message's action buttons, which show on hover), then clicks
// the element sel inside it.
func (tb *tab) hoverClick(hover, sel string) {
	tb.t.Helper()
	center := func(sel string) (float64, float64) {
		tb.t.Helper()
		p := eval[[]float64](tb, fmt.Sprintf(`(() => {
			const el = document.querySelector(%s);
			if (!el) return [];
			el.scrollIntoView({ block: "nearest" });
			const r = el.getBoundingClientRect();
			return [r.left + r.width / 2, r.top + r.height / 2, r.width * r.height];
		})()`, js(sel)))
		if len(p) != 3 {
			tb.t.Fatalf("%s: no element %s", tb.name, sel)
		}
		if p[2] == 0 {
			tb.t.Fatalf("%s: element %s is not shown", tb.name, sel)
		}
		return p[0], p[1]
	}
	x, y := center(hover)
	tb.do("hover "+hover, chromedp.MouseEvent(chromedp.MouseMoved, x, y))
	x, y = center(sel)
	tb.do("click "+sel,
		chromedp.MouseEvent(chromedp.MouseMoved, x, y),
		chromedp.MouseClickXY(x, y),
	)
}

// pressEnter sends the Enter key to the focused element.
func (tb *tab) pressEnter(sel string) {
	tb.t.Helper()
	tb.do("press Enter in "+sel, chromedp.SendKeys(chromedp.CSS(sel), "\n"))
}
