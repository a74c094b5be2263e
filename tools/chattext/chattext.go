// Package chattext generates chat-like message text for the load and
// benchmark tools: a fixed vocabulary drawn with a Zipf law, so common words
// match many messages and rare ones few, and a fixed seed, so two runs write
// the same messages.
package chattext

import (
	"math/rand/v2"
	"strings"
)

// words is the chat vocabulary in Zipf rank order: index 0 is the most
// frequent. Function words lead, as in real chat; "deploy" and "deployed"
// appear but "deploying" never does, so a search for it exercises stemming.
var words = strings.Fields(`
	the i to it a and is that we you on for this of in be can just so do
	have not but with what are was at if me my get now will think need
	one up all about it's there i'm out should like go know see then
	yeah ok build test let's looks good make time fix today back work
	thanks also check still new don't maybe more got ones when how from
	why would could them they as or by an our your its here sure let
	deploy branch review change code server issue merge pr bug release
	tomorrow morning lunch meeting call later soon week done doing try
	tried again last first next right wrong thing things people team
	going update updated push pushed pull main error logs log config
	running run ran works working broke broken deployed staging prod
	database query index slow fast cache memory cpu disk page pages
	user users login password email account settings feature flag
	tests failing failed passing green red ci pipeline job jobs queue
	worker workers retry timeout latency request requests response api
	endpoint client ticket sprint plan roadmap design doc docs draft
	notes agenda standup demo customer support incident postmortem
	alert alerts oncall pager dashboard graph metrics trace spans
	migration schema table column backup restore snapshot volume
	certificate domain dns proxy network firewall container image
	registry version tag changelog hotfix rollback patch script shell
	terminal editor laptop monitor keyboard coffee tea pizza weekend
	holiday vacation birthday cake office remote home train traffic
	weather rain sunny cold hot music podcast book movie game lol haha
	nice great awesome cool cheers sorry oops weird strange odd funny
	honestly basically actually probably definitely totally literally
	anyway whatever somehow meanwhile afterwards eventually finally
	benchmark profile allocation goroutine mutex channel deadlock race
	compiler linker module vendor toolchain refactor rename cleanup
	typo lint format approve approved merged conflict rebase
`)

// rareWords are topics that come up rarely; a message carries one now and
// then, drawn with its own Zipf law, so these match tens of messages or
// fewer in 100,000.
var rareWords = strings.Fields(`
	flamegraph zeppelin kubernetes quokka tiramisu mandolin bifrost
	heisenbug bagpipe lighthouse origami saxophone telescope
	marzipan aurora pangolin sourdough kayak walrus glacier meteor
	trebuchet harmonica lantern obelisk paprika quasar rhubarb sphinx
	tundra umbrella vortex wombat xylophone yodel zircon acorn banjo
	cobalt dolphin eclipse falcon gazebo hammock igloo jasmine koala
	lemur mango nebula octopus parsnip quiver raccoon sequoia tapir
`)

// Gen writes chat-like messages of MinWords to MaxWords words, with a
// capital and final punctuation, an @mention of a member in about one
// message in eight and a rare word in about one in forty.
type Gen struct {
	r        *rand.Rand
	common   *rand.Zipf
	rare     *rand.Zipf
	members  []string
	minWords int
	maxWords int
	sb       strings.Builder
}

// New returns a generator of messages of minWords to maxWords words that
// mention members; the same seed writes the same messages.
func New(seed uint64, members []string, minWords, maxWords int) *Gen {
	r := rand.New(rand.NewPCG(seed, 0x636d7066697265))
	return &Gen{
		r:        r,
		common:   rand.NewZipf(r, 1.1, 1, uint64(len(words)-1)),
		rare:     rand.NewZipf(r, 1.1, 1, uint64(len(rareWords)-1)),
		members:  members,
		minWords: max(minWords, 1),
		maxWords: max(maxWords, minWords, 1),
	}
}

// Next returns one message body.
func (g *Gen) Next() string {
	g.sb.Reset()
	if len(g.members) > 0 && g.r.IntN(8) == 0 {
		g.sb.WriteString("@" + g.members[g.r.IntN(len(g.members))] + " ")
	}
	n := g.minWords + g.r.IntN(g.maxWords-g.minWords+1)
	rareAt := -1
	if g.r.IntN(40) == 0 {
		rareAt = g.r.IntN(n)
	}
	for i := range n {
		w := words[g.common.Uint64()]
		if i == rareAt {
			w = rareWords[g.rare.Uint64()]
		}
		if i == 0 && g.sb.Len() == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			g.sb.WriteByte(' ')
		}
		g.sb.WriteString(w)
		if i == n/2 && g.r.IntN(3) == 0 {
			g.sb.WriteByte(',')
		}
	}
	g.sb.WriteString([]string{".", ".", "!", "?", " :)", ""}[g.r.IntN(6)])
	return g.sb.String()
}
