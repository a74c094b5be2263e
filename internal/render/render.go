// Package render turns chat message bodies written in Markdown into
// sanitized HTML and plain text, resolving @mentions and /play sounds.
package render

import (
	"bytes"
	"regexp"
	"slices"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	"golang.org/x/net/html"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// Output is a rendered message.
type Output struct {
	HTML       string  // sanitized HTML fragment, safe to insert into a page as-is
	Plain      string  // plain text for search, notifications, webhooks: no markup, mentions as "@Name", collapsed whitespace, trimmed
	MentionIDs []int64 // ids of mentioned members, deduplicated, in order of first appearance
	Sound      string  // name of the sound when the whole message is "/play <known name>", else ""
}

// Renderer is safe for concurrent use; build one at start-up.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// membersKey carries the room's members to the mention parser. Goldmark
// allocates context keys from an unguarded counter, so this happens once,
// at package initialization, never concurrently.
var membersKey = parser.NewContextKey()

// New returns a Renderer. Building the Markdown pipeline and the sanitizer
// policy is comparatively costly, hence one Renderer per process.
func New() *Renderer {
	md := goldmark.New(
		goldmark.WithExtensions(
			// ftp: links are not worth a scheme the sanitizer would drop anyway.
			extension.NewLinkify(extension.WithLinkifyAllowedProtocols([]string{"http:", "https:"})),
			extension.Strikethrough,
			// The default alignment method writes style attributes, which the policy forbids.
			extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
		),
		goldmark.WithParserOptions(
			parser.WithInlineParsers(util.Prioritized(&mentionParser{key: membersKey}, 500)),
		),
		goldmark.WithRendererOptions(
			// Shift+Enter in the composer means a line break, not a soft wrap.
			gmhtml.WithHardWraps(),
			// Lower priority values win over goldmark's own renderers (1000).
			renderer.WithNodeRenderers(
				util.Prioritized(mentionRenderer{}, 100),
				util.Prioritized(safeRenderer{}, 100),
			),
		),
	)
	return &Renderer{md: md, policy: newPolicy()}
}

// Render renders body for a room with the given members.
func (r *Renderer) Render(body string, members []Member) Output {
	src := []byte(body)
	pc := parser.NewContext()
	pc.Set(membersKey, members)
	doc := r.md.Parser().Parse(text.NewReader(src), parser.WithContext(pc))
	ids := collectMentions(doc, false, nil)

	var buf bytes.Buffer
	if err := r.md.Renderer().Render(&buf, src, doc); err != nil {
		// Only a failing writer makes Render fail and bytes.Buffer never
		// does; still, never return half-rendered markup.
		buf.Reset()
		buf.WriteString("<p>" + html.EscapeString(body) + "</p>")
	}
	out := Output{
		HTML:       strings.TrimSpace(r.policy.Sanitize(buf.String())),
		MentionIDs: ids,
	}
	out.Plain = plainText(out.HTML)
	if s, ok := chat.ParsePlay(out.Plain); ok {
		out.Sound = s.Name
	}
	return out
}

// newPolicy mirrors Campfire's SanitizeTags allow-list (minus its Trix and
// Action Text elements, plus tables). Goldmark already refuses raw HTML;
// the policy is the second line of defence and the one that decides.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(
		"abbr", "b", "blockquote", "br", "cite", "code", "del", "em",
		"h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol",
		"p", "pre", "s", "small", "span", "strong", "sub", "sup", "ul",
		"table", "thead", "tbody", "tr", "th", "td",
	)
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("title").OnElements("a", "abbr")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(true)
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnFullyQualifiedLinks(true)
	p.RequireNoReferrerOnFullyQualifiedLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^(mention|language-[a-zA-Z0-9_+-]+)$`)).OnElements("span", "a", "code")
	p.AllowAttrs("data-user-id").Matching(regexp.MustCompile(`^[0-9]+$`)).OnElements("a")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|center|right)$`)).OnElements("th", "td")
	return p
}

// collectMentions returns ids with the mentioned members appended, and
// turns mentions inside links and images back into text because a link
// cannot hold a link.
func collectMentions(parent ast.Node, inLink bool, ids []int64) []int64 {
	for c := parent.FirstChild(); c != nil; {
		next := c.NextSibling()
		switch n := c.(type) {
		case *mentionNode:
			if inLink {
				parent.ReplaceChild(parent, n, ast.NewTextSegment(n.Segment))
			} else if !slices.Contains(ids, n.Member.ID) {
				ids = append(ids, n.Member.ID)
			}
		case *ast.Link, *ast.Image, *ast.AutoLink:
			ids = collectMentions(n, true, ids)
		default:
			ids = collectMentions(n, inLink, ids)
		}
		c = next
	}
	return ids
}

// safeRenderer replaces goldmark's renderers for raw HTML, which would
// drop it behind "<!-- raw HTML omitted -->" markers, and for images, which
// the policy does not allow. HTML someone types is shown as the text they
// typed, as chat apps do, so nothing they wrote is lost; an image becomes
// a link to it, or just its alt text inside another link.
type safeRenderer struct{}

func (safeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, renderRawInline)
	reg.Register(ast.KindHTMLBlock, renderRawBlock)
	reg.Register(ast.KindImage, renderImage)
}

func renderRawInline(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		segs := node.(*ast.RawHTML).Segments
		for i := 0; i < segs.Len(); i++ {
			seg := segs.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(src)))
		}
	}
	return ast.WalkSkipChildren, nil
}

// renderRawBlock shows an HTML block as a paragraph of its literal lines.
func renderRawBlock(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.HTMLBlock)
	var lines [][]byte
	for i := 0; i < n.Lines().Len(); i++ {
		seg := n.Lines().At(i)
		lines = append(lines, bytes.TrimRight(seg.Value(src), "\r\n"))
	}
	if n.HasClosure() {
		lines = append(lines, bytes.TrimRight(n.ClosureLine.Value(src), "\r\n"))
	}
	_, _ = w.WriteString("<p>")
	for i, l := range lines {
		if i > 0 {
			_, _ = w.WriteString("<br>\n")
		}
		_, _ = w.Write(util.EscapeHTML(l))
	}
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

func renderImage(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Image)
	dest := util.URLEscape(n.Destination, true)
	link := len(dest) > 0 && !gmhtml.IsDangerousURL(dest) && !insideLink(n)
	switch {
	case entering && link:
		_, _ = w.WriteString(`<a href="`)
		_, _ = w.Write(util.EscapeHTML(dest))
		_, _ = w.WriteString(`">`)
		if n.FirstChild() == nil {
			_, _ = w.Write(util.EscapeHTML(dest))
		}
	case !entering && link:
		_, _ = w.WriteString(`</a>`)
	}
	return ast.WalkContinue, nil
}

func insideLink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Kind() == ast.KindLink || p.Kind() == ast.KindAutoLink {
			return true
		}
	}
	return false
}

// blockTags separate words in plain text: "<p>a</p><p>b</p>" is "a b".
var blockTags = map[string]bool{
	"blockquote": true, "br": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"h5": true, "h6": true, "hr": true, "li": true, "ol": true, "p": true, "pre": true,
	"table": true, "tbody": true, "td": true, "th": true, "thead": true, "tr": true, "ul": true,
}

// plainText is the text a reader sees in the sanitized fragment, with
// entities decoded and whitespace collapsed.
func plainText(fragment string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(fragment))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			if name, _ := z.TagName(); blockTags[string(name)] {
				b.WriteByte(' ')
			}
		}
	}
}
