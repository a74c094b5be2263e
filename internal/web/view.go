package web

import (
	"context"
	"html/template"
	"slices"
	"strings"
	"unicode"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// Views are what templates see: records plus the few derived values a
// template may not compute itself (no queries or permission checks happen
// in templates).

// Page is the part of every page that the layout needs.
type Page struct {
	Title   string
	Me      *chat.User // nil when signed out
	Account string     // the account's name
	Notice  string     // a success message
	Error   string     // a failure message, shown above the form
}

// messageView is the data of the "message" partial. It is user-agnostic:
// the same bytes go to every viewer, in pages and in live events.
type messageView struct {
	*chat.Message
	Boosts    []boostView // shadows Message.Boosts
	SoundText string      // what a /play message shows besides its name
}

// SafeHTML is the message's rendered body for the template. It is the
// one place this package marks a string as safe HTML: Message.HTML comes
// from internal/render, which sanitizes it with bluemonday's allow-list
// before it is stored. Everything else reaches the page through
// html/template's escaping.
func (v messageView) SafeHTML() template.HTML { return template.HTML(v.Message.HTML) }

// AuthorName is the author's name ("" if the record came without it).
func (v messageView) AuthorName() string {
	if v.Creator == nil {
		return ""
	}
	return v.Creator.Name
}

// boostView is the data of the "boost" partial.
type boostView struct {
	*chat.Boost
	BoosterName string
}

// roomView is one room as a viewer sees it: direct rooms are named after
// the people in them.
type roomView struct {
	ID          int64
	Name        string
	Type        chat.RoomType
	Unread      bool
	Current     bool
	Involvement chat.Involvement
}

// sidebar is the data of the "sidebar" partial.
type sidebar struct {
	Account        string     // the account's name
	Rooms          []roomView // open and closed rooms, by name
	Directs        []roomView // direct rooms, most recently active first
	CurrentID      int64
	CanCreateRooms bool
}

// find returns the room with id among the sidebar's rooms.
func (sb *sidebar) find(id int64) (roomView, bool) {
	for _, list := range [][]roomView{sb.Rooms, sb.Directs} {
		for _, r := range list {
			if r.ID == id {
				return r, true
			}
		}
	}
	return roomView{}, false
}

// pageFor fills the layout's part of a page for the signed-in user.
func (s *Server) pageFor(ctx context.Context, me *chat.User, title string) (Page, error) {
	acct, err := s.DB.FindAccount(ctx)
	if err != nil {
		return Page{}, err
	}
	return Page{Title: title, Me: me, Account: acct.Name}, nil
}

// anonPage fills the layout's part of a page for someone signed out.
func (s *Server) anonPage(ctx context.Context, title string) Page {
	p := Page{Title: title, Account: chat.DefaultAccountName}
	if acct, err := s.DB.FindAccount(ctx); err == nil {
		p.Account = acct.Name
	}
	return p
}

// loadSidebar lists the viewer's rooms. Invisible rooms stay out unless
// they are the current one.
func (s *Server) loadSidebar(ctx context.Context, me *chat.User, currentID int64) (*sidebar, error) {
	rooms, err := s.DB.FindRooms(ctx, me.ID)
	if err != nil {
		return nil, err
	}
	directs, err := s.DB.FindDirectRoomMembers(ctx, me.ID)
	if err != nil {
		return nil, err
	}
	acct, err := s.DB.FindAccount(ctx)
	if err != nil {
		return nil, err
	}
	sb := &sidebar{Account: acct.Name, CurrentID: currentID, CanCreateRooms: chat.CanCreateRoom(me, acct) == nil}
	for _, r := range rooms {
		v := roomView{ID: r.ID, Name: r.Name, Type: r.Type, Current: r.ID == currentID}
		if m := r.Membership; m != nil {
			v.Unread = m.Unread() && !v.Current
			v.Involvement = m.Involvement
		}
		if v.Involvement == chat.InvolvedInvisible && !v.Current {
			continue
		}
		if r.Type == chat.RoomDirect {
			v.Name = directName(me, directs[r.ID])
			sb.Directs = append(sb.Directs, v)
		} else {
			sb.Rooms = append(sb.Rooms, v)
		}
	}
	slices.SortStableFunc(sb.Rooms, func(a, b roomView) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return sb, nil
}

// directName names a direct room after the other people in it, as a
// sentence ("Bob, Carol and Dan"), or after the viewer when alone.
func directName(me *chat.User, members []*chat.User) string {
	var names []string
	for _, u := range members {
		if u.ID != me.ID {
			names = append(names, u.Name)
		}
	}
	switch len(names) {
	case 0:
		return me.Name
	case 1:
		return names[0]
	default:
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
}

// messageViews prepares messages for the "message" partial, looking up
// the names of boosters who are not among the authors.
func (s *Server) messageViews(ctx context.Context, msgs []*chat.Message) ([]messageView, error) {
	names := map[int64]string{}
	for _, m := range msgs {
		if m.Creator != nil {
			names[m.CreatorID] = m.Creator.Name
		}
	}
	out := make([]messageView, len(msgs))
	for i, m := range msgs {
		for _, b := range m.Boosts {
			if _, ok := names[b.BoosterID]; !ok {
				u, err := s.DB.FindUserByID(ctx, b.BoosterID)
				if err != nil {
					return nil, err
				}
				names[b.BoosterID] = u.Name
			}
		}
		out[i] = newMessageView(m, names)
	}
	return out, nil
}

// newMessageView builds the view of one message; names holds the names of
// its boosters.
func newMessageView(m *chat.Message, names map[int64]string) messageView {
	v := messageView{Message: presentMessage(nil, m), Boosts: make([]boostView, len(m.Boosts))}
	for i, b := range m.Boosts {
		v.Boosts[i] = boostView{Boost: b, BoosterName: names[b.BoosterID]}
	}
	if m.Sound != "" {
		if snd, ok := chat.SoundByName(m.Sound); ok {
			v.SoundText = snd.Text
		}
	}
	return v
}

// initials returns up to two initials of a name, for an avatar.
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			out = append(out, unicode.ToUpper(r))
			break
		}
		if len(out) == 2 {
			break
		}
	}
	return string(out)
}

// avatarColors is how many avatar background classes the stylesheet has.
const avatarColors = 8

// hue picks a person's avatar color class, stable per user.
func hue(id int64) int64 { return id % avatarColors }
