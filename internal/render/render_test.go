package render

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

var (
	ann    = Member{ID: 1, Name: "Ann"}
	annLee = Member{ID: 2, Name: "Ann Lee"}
	bob    = Member{ID: 3, Name: "Bob"}
	room   = []Member{ann, annLee, bob}
)

func mentionHTML(id int64, name string) string {
	return fmt.Sprintf(`<a class="mention" href="/users/%d" data-user-id="%d">@%s</a>`, id, id, name)
}

const ext = ` rel="nofollow noreferrer noopener" target="_blank"`

func TestMarkdown(t *testing.T) {
	r := New()
	tests := []struct {
		name, body, want string
	}{
		{"text", "hello", "<p>hello</p>"},
		{"bold", "**hi**", "<p><strong>hi</strong></p>"},
		{"italic", "_hi_ *there*", "<p><em>hi</em> <em>there</em></p>"},
		{"strike", "~~gone~~", "<p><del>gone</del></p>"},
		{"code span", "use `a < b`", "<p>use <code>a &lt; b</code></p>"},
		{"code block", "```go\nx := 1\n```", "<pre><code class=\"language-go\">x := 1\n</code></pre>"},
		{"code block hostile info", "```go\" onclick=\"x\nx\n```", "<pre><code>x\n</code></pre>"},
		{"link", "[site](https://example.com)", `<p><a href="https://example.com"` + ext + `>site</a></p>`},
		{"relative link", "[room](/rooms/1)", `<p><a href="/rooms/1">room</a></p>`},
		{"mailto link", "[mail](mailto:a@example.com)", `<p><a href="mailto:a@example.com">mail</a></p>`},
		{"linkify", "see https://example.com/x", `<p>see <a href="https://example.com/x"` + ext + `>https://example.com/x</a></p>`},
		{"image becomes link", "![cat](https://example.com/cat.png)", `<p><a href="https://example.com/cat.png"` + ext + `>cat</a></p>`},
		{"image inside link", "[![cat](https://example.com/cat.png)](/rooms/1)", `<p><a href="/rooms/1">cat</a></p>`},
		{"list", "- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"},
		{"ordered list", "3. a\n4. b", "<ol start=\"3\">\n<li>a</li>\n<li>b</li>\n</ol>"},
		{"line break", "one\ntwo", "<p>one<br>\ntwo</p>"},
		{"paragraphs", "one\n\ntwo", "<p>one</p>\n<p>two</p>"},
		{"quote", "> hi", "<blockquote>\n<p>hi</p>\n</blockquote>"},
		{"heading", "# Title", "<h1>Title</h1>"},
		{"hashtag is not a heading", "#flawless", "<p>#flawless</p>"},
		{"table", "| a | b |\n|:--|--:|\n| 1 | 2 |", "<table>\n<thead>\n<tr>\n<th align=\"left\">a</th>\n<th align=\"right\">b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td align=\"left\">1</td>\n<td align=\"right\">2</td>\n</tr>\n</tbody>\n</table>"},
		{"entities", "AT&T &lt;3 &amp;", "<p>AT&amp;T &lt;3 &amp;</p>"},
		{"raw inline HTML shown as typed", "a <b>bold</b> move", "<p>a &lt;b&gt;bold&lt;/b&gt; move</p>"},
		{"raw script shown as text", "a <script>alert(1)</script> b", "<p>a &lt;script&gt;alert(1)&lt;/script&gt; b</p>"},
		{"raw HTML block shown as text", "<div>\nkept\n</div>", "<p>&lt;div&gt;<br>\nkept<br>\n&lt;/div&gt;</p>"},
		{"script line keeps the text after it", "<script>alert(1)</script>**hi**", "<p>&lt;script&gt;alert(1)&lt;/script&gt;**hi**</p>"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Render(tt.body, nil).HTML
			if got != tt.want {
				t.Errorf("Render(%q).HTML =\n%q\nwant\n%q", tt.body, got, tt.want)
			}
			if strings.Contains(got, "<!--") {
				t.Errorf("Render(%q).HTML contains a comment: %q", tt.body, got)
			}
		})
	}
}

func TestMentions(t *testing.T) {
	r := New()
	tests := []struct {
		name    string
		body    string
		members []Member
		ids     []int64
		html    string // the whole HTML when set
		plain   string
	}{
		{
			name: "found", body: "hi @Ann", members: room, ids: []int64{1},
			html: "<p>hi " + mentionHTML(1, "Ann") + "</p>", plain: "hi @Ann",
		},
		{
			name: "longest match wins", body: "@Ann Lee, and @Ann", members: room, ids: []int64{2, 1},
			html: "<p>" + mentionHTML(2, "Ann Lee") + ", and " + mentionHTML(1, "Ann") + "</p>", plain: "@Ann Lee, and @Ann",
		},
		{
			name: "longest match regardless of order", body: "@ann lee", members: []Member{annLee, ann}, ids: []int64{2},
			plain: "@Ann Lee",
		},
		{
			name: "case-insensitive", body: "@aNN!", members: room, ids: []int64{1},
			html: "<p>" + mentionHTML(1, "Ann") + "!</p>", plain: "@Ann!",
		},
		{
			name: "non-ASCII case folding", body: "@émile", members: []Member{{ID: 9, Name: "Émile"}}, ids: []int64{9},
			plain: "@Émile",
		},
		{
			name: "dedup in order of first appearance", body: "@Bob @Ann @bob @ANN", members: room, ids: []int64{3, 1},
			plain: "@Bob @Ann @Bob @Ann",
		},
		{
			name: "not followed by a letter", body: "@Annabel @Ann2 @Ann_x", members: room, ids: []int64{1},
			plain: "@Annabel @Ann2 @Ann_x",
		},
		{
			name: "not preceded by a letter", body: "bob@Ann", members: room, ids: nil,
			plain: "bob@Ann",
		},
		{
			name: "email", body: "mail ann@example.com", members: room, ids: nil,
			html: `<p>mail <a href="mailto:ann@example.com">ann@example.com</a></p>`,
		},
		{
			name: "not in code span", body: "`@Ann` @Bob", members: room, ids: []int64{3},
			html: "<p><code>@Ann</code> " + mentionHTML(3, "Bob") + "</p>",
		},
		{
			name: "not in code block", body: "```\n@Ann\n```", members: room, ids: nil,
			html: "<pre><code>@Ann\n</code></pre>",
		},
		{
			name: "not in a link", body: "[@Ann](https://example.com)", members: room, ids: nil,
			html: `<p><a href="https://example.com"` + ext + `>@Ann</a></p>`,
		},
		{
			name: "escaped", body: `\@Ann`, members: room, ids: nil,
			html: "<p>@Ann</p>",
		},
		{
			name: "unknown stays plain", body: "@Zed hi", members: room, ids: nil,
			html: "<p>@Zed hi</p>", plain: "@Zed hi",
		},
		{
			name: "no members", body: "@Ann", members: nil, ids: nil,
			html: "<p>@Ann</p>",
		},
		{
			name: "in emphasis", body: "**@Ann**", members: room, ids: []int64{1},
			html: "<p><strong>" + mentionHTML(1, "Ann") + "</strong></p>",
		},
		{
			name: "at end of line", body: "@Ann\nnext", members: room, ids: []int64{1},
			html: "<p>" + mentionHTML(1, "Ann") + "<br>\nnext</p>", plain: "@Ann next",
		},
		{
			name: "name with HTML is escaped", body: "@<b>x</b> hi", members: []Member{{ID: 7, Name: "<b>x</b>"}}, ids: []int64{7},
			html: "<p>" + mentionHTML(7, "&lt;b&gt;x&lt;/b&gt;") + " hi</p>", plain: "@<b>x</b> hi",
		},
		{
			name: "name with quotes is escaped", body: `@"Al" & co`, members: []Member{{ID: 8, Name: `"Al" & co`}}, ids: []int64{8},
			html: "<p>" + mentionHTML(8, "&#34;Al&#34; &amp; co") + "</p>", plain: `@"Al" & co`,
		},
		{
			name: "empty names never match", body: "@ hi", members: []Member{{ID: 4, Name: ""}}, ids: nil,
			html: "<p>@ hi</p>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := r.Render(tt.body, tt.members)
			if !slices.Equal(out.MentionIDs, tt.ids) {
				t.Errorf("MentionIDs = %v, want %v", out.MentionIDs, tt.ids)
			}
			if tt.html != "" && out.HTML != tt.html {
				t.Errorf("HTML =\n%q\nwant\n%q", out.HTML, tt.html)
			}
			if tt.plain != "" && out.Plain != tt.plain {
				t.Errorf("Plain = %q, want %q", out.Plain, tt.plain)
			}
		})
	}
}

func TestPlain(t *testing.T) {
	r := New()
	tests := []struct {
		body, want string
	}{
		{"**Hello** @ann, see <script>x</script>", "Hello @Ann, see <script>x</script>"},
		{"  lots   of\n\n\nspace\t here  ", "lots of space here"},
		{"one\ntwo", "one two"},
		{"# Title\n\npara", "Title para"},
		{"- a\n- b", "a b"},
		{"AT&amp;T &lt;tag&gt; &quot;q&quot; &#169;", `AT&T <tag> "q" ©`},
		{"`a < b`", "a < b"},
		{"[site](https://example.com)", "site"},
		{"**bo**ld", "bold"},
		{"x <!-- comment --> y", "x <!-- comment --> y"},
		{"<style>p{}</style>", "<style>p{}</style>"},
		{"> quoted\n\nreply", "quoted reply"},
		{"| a | b |\n|---|---|\n| 1 | 2 |", "a b 1 2"},
		{"😀", "😀"},
	}
	for _, tt := range tests {
		if got := r.Render(tt.body, room).Plain; got != tt.want {
			t.Errorf("Render(%q).Plain = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestSound(t *testing.T) {
	r := New()
	tests := []struct {
		body, want string
	}{
		{"/play tada", "tada"},
		{"  /play 56k\n", "56k"},
		{"**/play tada**", "tada"}, // the plain text is what counts
		{"/play nope", ""},
		{"/play tada now", ""},
		{"please /play tada", ""},
		{"`/play tada` is how", ""},
		{"/play", ""},
	}
	for _, tt := range tests {
		if got := r.Render(tt.body, room).Sound; got != tt.want {
			t.Errorf("Render(%q).Sound = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// xssCorpus holds hostile message bodies. Each is rendered with hostileRoom
// too, so mention names are attacker-controlled as well.
var xssCorpus = []string{
	`<script>alert(1)</script>`,
	`<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
	"hi <script>\nalert(1)\n</script> there",
	`<img src=x onerror=alert(1)>`,
	"<img src=\"x\"\nonerror=alert(1)>",
	`<svg onload=alert(1)>`,
	`<svg><script>alert(1)</script></svg>`,
	`<svg><animate onbegin=alert(1) attributeName=x dur=1s>`,
	`<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<math href="javascript:alert(1)">x</math>`,
	`[x](javascript:alert(1))`,
	`[x](jaVasCript:alert(1))`,
	`[x](JAVASCRIPT:alert(1))`,
	`[x](java&#x09;script:alert(1))`,
	`[x](&#106;avascript:alert(1))`,
	`[x](javascript&colon;alert(1))`,
	`[x](<javascript:alert(1)>)`,
	`[x](<java script:alert(1)>)`,
	"[x](java\x00script:alert(1))",
	"[x](javascript\u200b:alert(1))",
	"\u202e[x](javascript:alert(1))",
	`[x](vbscript:msgbox(1))`,
	`[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
	`[x](file:///etc/passwd)`,
	`![x](javascript:alert(1))`,
	`![x](data:text/html;base64,PHNjcmlwdD4=)`,
	`![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)`,
	`![x](data:image/png;base64,iVBORw0KGgo=)`,
	`<javascript:alert(1)>`,
	`<JaVaScRiPt:alert(1)>`,
	`<data:text/html,<script>alert(1)</script>>`,
	`[x][r]` + "\n\n" + `[r]: javascript:alert(1)`,
	`<iframe src="javascript:alert(1)"></iframe>`,
	`<iframe srcdoc="<script>alert(1)</script>"></iframe>`,
	`<object data="javascript:alert(1)"></object>`,
	`<embed src="javascript:alert(1)">`,
	`<style>body{background:url(javascript:alert(1))}</style>`,
	`<a href="https://ok.example" onclick="alert(1)">x</a>`,
	`<a href="javas&#99;ript:alert(1)">x</a>`,
	`<a href="&#x6A;avascript:alert(1)">x</a>`,
	`<form action="javascript:alert(1)"><input type=submit></form>`,
	`<button formaction="javascript:alert(1)">x</button>`,
	`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	`<base href="javascript:alert(1)//">`,
	`<link rel=stylesheet href="javascript:alert(1)">`,
	`"><script>alert(1)</script>`,
	`'><img src=x onerror=alert(1)>`,
	`[x](https://ok.example "\"><script>alert(1)</script>")`,
	`[x](https://ok.example "t\" onmouseover=\"alert(1)")`,
	`<details open ontoggle=alert(1)>`,
	`<video><source onerror=alert(1)></video>`,
	`<audio src=x onerror=alert(1)>`,
	`<body onload=alert(1)>`,
	`<div style="background:url(javascript:alert(1))">x</div>`,
	`<p style="color:red" onmouseover="alert(1)">hi</p>`,
	`<x onclick=alert(1)>click`,
	`<table background="javascript:alert(1)"><tr><td>x</td></tr></table>`,
	"| a |\n|---|\n| <img src=x onerror=alert(1)> |",
	"```\"><script>alert(1)</script>\nx\n```",
	"```javascript:alert(1)\nx\n```",
	"`<script>alert(1)</script>`",
	`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
	`<!--><img src=x onerror=alert(1)>-->`,
	`<![CDATA[<script>alert(1)</script>]]>`,
	`<?xml version="1.0"?><script>alert(1)</script>`,
	`<scr<script>ipt>alert(1)</script>`,
	`www.example.com/"><script>alert(1)</script>`,
	`https://example.com/"onmouseover="alert(1)`,
	`https://example.com/<img src=x onerror=alert(1)>`,
	"@\"><img src=x onerror=alert(1)>",
	"@<script>alert(1)</script> hi",
	"@Ann<img src=x onerror=alert(1)>",
	"<a href=\"java\u0000script:alert(1)\">x</a>",
	"[x](\x01javascript:alert(1))",
	"[x]( javascript:alert(1) )",
	"[x](%6Aavascript:alert(1))",
	"**<img src=x onerror=alert(1)>**",
}

var hostileRoom = []Member{
	ann,
	{ID: 66, Name: `"><img src=x onerror=alert(1)>`},
	{ID: 67, Name: `<script>alert(1)</script>`},
	{ID: 68, Name: `javascript:alert(1)`},
}

// allowed lists the elements and attributes the output may use.
var allowed = map[string]map[string]bool{
	"a":    {"href": true, "class": true, "data-user-id": true, "rel": true, "target": true, "title": true},
	"abbr": {"title": true}, "b": {}, "blockquote": {}, "br": {}, "cite": {},
	"code": {"class": true}, "del": {}, "em": {},
	"h1": {}, "h2": {}, "h3": {}, "h4": {}, "h5": {}, "h6": {},
	"hr": {}, "i": {}, "ins": {}, "kbd": {}, "li": {}, "ol": {"start": true},
	"p": {}, "pre": {}, "s": {}, "small": {}, "span": {"class": true}, "strong": {},
	"sub": {}, "sup": {}, "ul": {},
	"table": {}, "thead": {}, "tbody": {}, "tr": {},
	"th": {"align": true}, "td": {"align": true},
}

func TestXSS(t *testing.T) {
	if len(xssCorpus) < 30 {
		t.Fatalf("corpus has %d payloads, want at least 30", len(xssCorpus))
	}
	seen := map[string]bool{}
	r := New()
	for _, payload := range xssCorpus {
		if seen[payload] {
			t.Errorf("duplicate payload %q", payload)
		}
		seen[payload] = true
		for _, members := range [][]Member{nil, hostileRoom} {
			out := r.Render(payload, members)
			for _, problem := range unsafeParts(out.HTML) {
				t.Errorf("Render(%q).HTML = %q: %s", payload, out.HTML, problem)
			}
			// Sanitizing again must change nothing, or a browser's parse
			// could differ from the sanitizer's (mutation XSS).
			if again := r.policy.Sanitize(out.HTML); again != out.HTML {
				t.Errorf("Render(%q).HTML is not stable under sanitizing:\n%q\n%q", payload, out.HTML, again)
			}
		}
	}
}

// unsafeParts parses fragment the way a browser would inside <body> and
// describes everything in it outside the allow-list.
func unsafeParts(fragment string) []string {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(fragment), body)
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	var problems []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.CommentNode:
			problems = append(problems, "comment")
		case html.ElementNode:
			attrs, ok := allowed[n.Data]
			if !ok || n.Namespace != "" {
				problems = append(problems, "element "+n.Namespace+" "+n.Data)
			}
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				switch {
				case strings.HasPrefix(key, "on"):
					problems = append(problems, "event handler "+a.Key)
				case key == "style":
					problems = append(problems, "style attribute")
				case a.Namespace != "" || !attrs[key]:
					problems = append(problems, "attribute "+a.Namespace+" "+a.Key+" on "+n.Data)
				}
				switch key {
				case "href", "src", "action", "formaction", "srcset", "data", "poster", "background", "xlink:href":
					if !safeURL(a.Val) {
						problems = append(problems, "url "+a.Key+"="+a.Val)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return problems
}

// safeURL reports whether u, read as leniently as a browser would (case
// and embedded whitespace or control characters ignored), is relative or
// uses http, https or mailto.
func safeURL(u string) bool {
	u = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return unicode.ToLower(r)
	}, u)
	i := strings.IndexAny(u, ":/?#")
	if i < 0 || u[i] != ':' {
		return true
	}
	switch u[:i] {
	case "http", "https", "mailto":
		return true
	}
	return false
}

func TestUnsafePartsCatchesPayloads(t *testing.T) {
	// Guard against a checker that finds nothing: raw payloads must fail it.
	for _, raw := range []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<a href=" JaVa&#x09;Script:alert(1)">x</a>`,
		`<a href="data:text/html,x">x</a>`,
		`<p style="x">x</p>`,
		`<svg><a>x</a></svg>`,
		`<!-- x -->`,
		`<a data-x="1">x</a>`,
	} {
		if len(unsafeParts(raw)) == 0 {
			t.Errorf("unsafeParts(%q) found nothing", raw)
		}
	}
	if p := unsafeParts(`<p><a href="/rooms/1">x</a> <a href="https://x.example" rel="nofollow">y</a></p>`); len(p) != 0 {
		t.Errorf("unsafeParts flags safe HTML: %v", p)
	}
}

func TestConcurrentRender(t *testing.T) {
	r := New()
	bodies := []string{
		"**Hello** @Ann, see https://example.com",
		"@Ann Lee @bob `@Ann`\n- item\n- item",
		"/play tada",
		"<script>alert(1)</script> [x](javascript:alert(1))",
	}
	want := make([]Output, len(bodies))
	for i, b := range bodies {
		want[i] = r.Render(b, room)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(bodies))
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 50; n++ {
				i := (g + n) % len(bodies)
				got := r.Render(bodies[i], room)
				if got.HTML != want[i].HTML || got.Plain != want[i].Plain ||
					got.Sound != want[i].Sound || !slices.Equal(got.MentionIDs, want[i].MentionIDs) {
					errs <- fmt.Sprintf("Render(%q) = %+v, want %+v", bodies[i], got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func BenchmarkRender(b *testing.B) {
	r := New()
	members := make([]Member, 0, 50)
	for i := range 50 {
		members = append(members, Member{ID: int64(i + 1), Name: fmt.Sprintf("Member %d", i+1)})
	}
	members = append(members, ann)
	body := "Morning @Ann! I pushed the **new build** to staging, see https://example.com/builds/42 " +
		"for the notes. Could you check the `login` flow and the _search_ page before lunch? Thanks, ping me if stuck!"
	b.ReportAllocs()
	for b.Loop() {
		r.Render(body, members)
	}
}
