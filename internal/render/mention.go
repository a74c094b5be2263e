package render

import (
	"html"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Member is someone who can be @mentioned in the room.
type Member struct {
	ID   int64
	Name string
}

// kindMention is the AST kind of an @mention.
var kindMention = ast.NewNodeKind("Mention")

// mentionNode is a resolved @mention. Its segment covers the "@Name" source
// so it can be turned back into text where a link is not allowed.
type mentionNode struct {
	ast.BaseInline
	Member  Member
	Segment text.Segment
}

func (n *mentionNode) Kind() ast.NodeKind { return kindMention }

func (n *mentionNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{
		"ID":   strconv.FormatInt(n.Member.ID, 10),
		"Name": n.Member.Name,
	}, nil)
}

// mentionParser turns "@Name" into a mentionNode. The room's members are
// per message, so they travel in the parser.Context under key, which keeps
// the parser itself stateless and the Renderer safe for concurrent use.
type mentionParser struct {
	key parser.ContextKey
}

func (p *mentionParser) Trigger() []byte { return []byte{'@'} }

func (p *mentionParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	members, _ := pc.Get(p.key).([]Member)
	if len(members) == 0 {
		return nil
	}
	// "bob@ann" is an address, not a mention.
	if isWordRune(block.PrecendingCharacter()) {
		return nil
	}
	line, seg := block.PeekLine()
	m, n, ok := matchMember(line[1:], members)
	if !ok {
		return nil
	}
	block.Advance(1 + n)
	return &mentionNode{Member: m, Segment: text.NewSegment(seg.Start, seg.Start+1+n)}
}

// matchMember finds the member whose name s starts with, ignoring case.
// The longest name wins so "@Ann Lee" beats "@Ann", and a name must not be
// followed by a letter or digit so "@Annabel" does not mention Ann. It
// returns the member and the number of bytes of s the name covers.
func matchMember(s []byte, members []Member) (Member, int, bool) {
	var best Member
	bestLen := 0
	for _, m := range members {
		n, ok := hasPrefixFold(s, m.Name)
		if !ok || n <= bestLen {
			continue
		}
		if r, _ := utf8.DecodeRune(s[n:]); n < len(s) && isWordRune(r) {
			continue
		}
		best, bestLen = m, n
	}
	return best, bestLen, bestLen > 0
}

// hasPrefixFold reports whether s starts with prefix under Unicode simple
// case folding, and how many bytes of s matched (which may differ from
// len(prefix) when cases have different UTF-8 lengths).
func hasPrefixFold(s []byte, prefix string) (int, bool) {
	if prefix == "" {
		return 0, false
	}
	i := 0
	for _, pr := range prefix {
		if i >= len(s) {
			return 0, false
		}
		sr, size := utf8.DecodeRune(s[i:])
		if !equalFoldRune(sr, pr) {
			return 0, false
		}
		i += size
	}
	return i, true
}

func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// mentionRenderer writes mentions as links to the member's profile.
type mentionRenderer struct{}

func (mentionRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindMention, renderMention)
}

func renderMention(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*mentionNode)
	id := strconv.FormatInt(n.Member.ID, 10)
	_, _ = w.WriteString(`<a class="mention" href="/users/` + id + `" data-user-id="` + id + `">@`)
	_, _ = w.WriteString(html.EscapeString(n.Member.Name))
	_, _ = w.WriteString(`</a>`)
	return ast.WalkSkipChildren, nil
}
