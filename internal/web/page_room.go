package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// lastRoomCookie remembers the room a browser showed last, for "/".
const lastRoomCookie = "last_room"

// errRoomInaccessible is what a page says about a room that does not
// exist or that the viewer is not in; it does not tell the two apart. (The
// API answers 404 for the same, as for anything a caller cannot see.)
var errRoomInaccessible = chat.Errorf(chat.EFORBIDDEN, "Room not found or inaccessible.")

// roomForPage loads the viewer and the room of a page path; a bad id, or a
// room the viewer does not belong to, is inaccessible.
func (s *Server) roomForPage(r *http.Request) (*chat.User, *chat.Room, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, nil, errRoomInaccessible
	}
	me := currentUser(r.Context())
	room, err := s.DB.FindRoom(r.Context(), me.ID, id)
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return nil, nil, errRoomInaccessible
	}
	return me, room, err
}

// roomPage is the data of the chat room page.
type roomPage struct {
	Page
	Sidebar  *sidebar
	Room     *roomView // nil: the viewer has no rooms yet
	Messages []messageView
	// HighlightID is the message a permalink points at.
	HighlightID int64
	// HasNewer is set when the page does not end with the newest message
	// (a permalink into the past): the script loads the rest on scroll.
	HasNewer bool
	// HasOlder is set when older messages may exist: scrolling up loads
	// them.
	HasOlder  bool
	CanManage bool // rename, members: the room's creator or an administrator
}

// handleHome sends the viewer to the last room they showed, or their
// first room; with no rooms it shows the empty state.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r.Context())
	sb, err := s.loadSidebar(r.Context(), me, 0)
	if err != nil {
		return err
	}
	if c, err := r.Cookie(lastRoomCookie); err == nil {
		if id, err := strconv.ParseInt(c.Value, 10, 64); err == nil {
			if _, ok := sb.find(id); ok {
				return seeOther(w, r, roomPath(id))
			}
		}
	}
	// The oldest shared room is the account's first ("All Talk").
	var first int64
	for _, list := range [][]roomView{sb.Rooms, sb.Directs} {
		for _, v := range list {
			if first == 0 || v.ID < first {
				first = v.ID
			}
		}
		if first != 0 {
			break
		}
	}
	if first != 0 {
		return seeOther(w, r, roomPath(first))
	}
	p, err := s.pageFor(r.Context(), me, "No rooms yet")
	if err != nil {
		return err
	}
	return s.renderPage(w, http.StatusOK, "room", roomPage{Page: p, Sidebar: sb})
}

func roomPath(id int64) string { return "/rooms/" + strconv.FormatInt(id, 10) }

// handleRoomPage shows a room: its last messages and the composer.
func (s *Server) handleRoomPage(w http.ResponseWriter, r *http.Request) error {
	me, room, err := s.roomForPage(r)
	if err != nil {
		return err
	}
	id := room.ID
	msgs, err := s.DB.FindMessages(r.Context(), me.ID, id, chat.Page{Limit: chat.DefaultPageSize})
	if err != nil {
		return err
	}
	return s.renderRoom(w, r, room, msgs, 0, len(msgs) == chat.DefaultPageSize, false)
}

// handleRoomSubpage serves /rooms/{id}/@{message_id}: the ServeMux's
// wildcards are whole segments, so the "@" is checked here.
func (s *Server) handleRoomSubpage(w http.ResponseWriter, r *http.Request) error {
	rest, ok := strings.CutPrefix(r.PathValue("sub"), "@")
	msgID, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || msgID <= 0 {
		return chat.Errorf(chat.ENOTFOUND, "Page not found.")
	}
	me, room, err := s.roomForPage(r)
	if err != nil {
		return err
	}
	id := room.ID
	target, err := s.DB.FindMessage(r.Context(), me.ID, msgID)
	if chat.ErrorCode(err) == chat.ENOTFOUND || (err == nil && target.RoomID != id) {
		return chat.Errorf(chat.ENOTFOUND, "Message not found; it may have been deleted.")
	} else if err != nil {
		return err
	}
	// The page before it, the message itself, and the page after it.
	before, err := s.DB.FindMessages(r.Context(), me.ID, id, chat.Page{Before: msgID + 1, Limit: chat.DefaultPageSize + 1})
	if err != nil {
		return err
	}
	after, err := s.DB.FindMessages(r.Context(), me.ID, id, chat.Page{After: msgID, Limit: chat.DefaultPageSize})
	if err != nil {
		return err
	}
	return s.renderRoom(w, r, room, append(before, after...), msgID,
		len(before) == chat.DefaultPageSize+1, len(after) == chat.DefaultPageSize)
}

func (s *Server) renderRoom(w http.ResponseWriter, r *http.Request, room *chat.Room, msgs []*chat.Message, highlight int64, hasOlder, hasNewer bool) error {
	ctx := r.Context()
	me := currentUser(ctx)
	sb, err := s.loadSidebar(ctx, me, room.ID)
	if err != nil {
		return err
	}
	views, err := s.messageViews(ctx, msgs)
	if err != nil {
		return err
	}
	rv, ok := sb.find(room.ID)
	if !ok {
		rv = roomView{ID: room.ID, Name: room.Name, Type: room.Type, Current: true}
	}
	p, err := s.pageFor(ctx, me, rv.Name)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: lastRoomCookie, Value: strconv.FormatInt(room.ID, 10), Path: "/",
		MaxAge: int(sessionLifetime.Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	return s.renderPage(w, http.StatusOK, "room", roomPage{
		Page: p, Sidebar: sb, Room: &rv, Messages: views,
		HighlightID: highlight, HasOlder: hasOlder, HasNewer: hasNewer,
		CanManage: chat.CanUpdateRoom(me, room) == nil,
	})
}

// handleSidebarFragment renders the sidebar alone: the page's script
// reloads it when rooms come and go and after reconnecting.
func (s *Server) handleSidebarFragment(w http.ResponseWriter, r *http.Request) error {
	current, _ := strconv.ParseInt(r.URL.Query().Get("room"), 10, 64)
	sb, err := s.loadSidebar(r.Context(), currentUser(r.Context()), current)
	if err != nil {
		return err
	}
	b, err := s.renderFragment("sidebar", sb)
	if err != nil {
		return err
	}
	writeHTML(w, http.StatusOK, b)
	return nil
}

// handleMessageForm posts a message from the composer when the page's
// script does not run; the script posts through the API instead.
func (s *Server) handleMessageForm(w http.ResponseWriter, r *http.Request) error {
	me, room, err := s.roomForPage(r)
	if err != nil {
		return err
	}
	id := room.ID
	if err := parseForm(w, r); err != nil {
		return err
	}
	if _, _, err := s.postMessage(r.Context(), me, id, r.PostFormValue("body"), r.PostFormValue("client_id")); err != nil {
		return err
	}
	return seeOther(w, r, roomPath(id))
}

// userChoice is one person in a list of checkboxes.
type userChoice struct {
	*chat.User
	Checked bool
	Locked  bool // always a member (a closed room's creator)
}

// roomFormPage is the data of the new room form.
type roomFormPage struct {
	Page
	Name    string
	Type    chat.RoomType
	Users   []userChoice
	Sidebar *sidebar
}

// choices lists the active people with the chosen ones checked.
func (s *Server) choices(ctx context.Context, me *chat.User, chosen []int64, locked int64, withMe bool) ([]userChoice, error) {
	users, err := s.DB.FindUsers(ctx, sqldb.UserFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]userChoice, 0, len(users))
	for _, u := range users {
		if u.ID == me.ID && !withMe {
			continue
		}
		out = append(out, userChoice{User: presentUser(me, u), Checked: slices.Contains(chosen, u.ID) || u.ID == locked, Locked: u.ID == locked})
	}
	return out, nil
}

func (s *Server) handleRoomNewPage(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r.Context())
	acct, err := s.DB.FindAccount(r.Context())
	if err != nil {
		return err
	}
	if err := chat.CanCreateRoom(me, acct); err != nil {
		return err
	}
	data, err := s.roomForm(r.Context(), me, "New room", chat.RoomOpen, nil)
	if err != nil {
		return err
	}
	data.Name = "New room"
	return s.renderPage(w, http.StatusOK, "room_new", data)
}

func (s *Server) roomForm(ctx context.Context, me *chat.User, name string, typ chat.RoomType, chosen []int64) (roomFormPage, error) {
	p, err := s.pageFor(ctx, me, "New room")
	if err != nil {
		return roomFormPage{}, err
	}
	users, err := s.choices(ctx, me, chosen, me.ID, true)
	if err != nil {
		return roomFormPage{}, err
	}
	sb, err := s.loadSidebar(ctx, me, 0)
	if err != nil {
		return roomFormPage{}, err
	}
	return roomFormPage{Page: p, Name: name, Type: typ, Users: users, Sidebar: sb}, nil
}

func (s *Server) handleRoomCreateForm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	me := currentUser(r.Context())
	ids, err := formIDs(r, "user_ids")
	if err != nil {
		return err
	}
	typ := chat.RoomType(r.PostFormValue("type"))
	nr := chat.NewRoom{Name: r.PostFormValue("name"), Type: typ}
	if typ == chat.RoomClosed {
		nr.UserIDs = ids
	}
	room, err := s.createRoom(r.Context(), me, nr)
	if err != nil {
		data, ferr := s.roomForm(r.Context(), me, nr.Name, typ, ids)
		if ferr != nil {
			return ferr
		}
		return s.formError(w, err, "room_new", &data, &data.Page)
	}
	return seeOther(w, r, roomPath(room.ID))
}

// roomSettingsPage is the data of a room's settings page.
type roomSettingsPage struct {
	Page
	Room        *chat.Room
	Name        string // the room's name as the viewer sees it
	Members     []*chat.User
	Users       []userChoice // a closed room's member checkboxes
	Involvement chat.Involvement
	CanManage   bool
	CanDelete   bool
	Sidebar     *sidebar
}

func (s *Server) roomSettings(ctx context.Context, me *chat.User, room *chat.Room) (roomSettingsPage, error) {
	p, err := s.pageFor(ctx, me, "Room settings")
	if err != nil {
		return roomSettingsPage{}, err
	}
	members, err := s.DB.FindRoomMembers(ctx, me.ID, room.ID)
	if err != nil {
		return roomSettingsPage{}, err
	}
	sb, err := s.loadSidebar(ctx, me, room.ID)
	if err != nil {
		return roomSettingsPage{}, err
	}
	data := roomSettingsPage{
		Page: p, Room: room, Name: room.Name, Members: presentUsers(me, members), Sidebar: sb,
		CanManage: chat.CanUpdateRoom(me, room) == nil,
		CanDelete: chat.CanDeleteRoom(me, room, true) == nil,
	}
	if v, ok := sb.find(room.ID); ok {
		data.Name = v.Name
	}
	if room.Membership != nil {
		data.Involvement = room.Membership.Involvement
	}
	if data.CanManage {
		ids := make([]int64, len(members))
		for i, u := range members {
			ids[i] = u.ID
		}
		if data.Users, err = s.choices(ctx, me, ids, room.CreatorID, true); err != nil {
			return roomSettingsPage{}, err
		}
	}
	return data, nil
}

func (s *Server) handleRoomSettingsPage(w http.ResponseWriter, r *http.Request) error {
	me, room, err := s.roomForPage(r)
	if err != nil {
		return err
	}
	data, err := s.roomSettings(r.Context(), me, room)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("saved") == "1" {
		data.Notice = "Saved."
	}
	return s.renderPage(w, http.StatusOK, "room_settings", data)
}

// handleRoomSettingsForm applies one of the settings page's forms, named
// by its "action" field: update (name, type, members), involvement, delete.
func (s *Server) handleRoomSettingsForm(w http.ResponseWriter, r *http.Request) error {
	me, room, err := s.roomForPage(r)
	if err != nil {
		return err
	}
	id := room.ID
	if err := parseForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "update":
		var upd chat.RoomUpdate
		if name, ok := r.PostForm["name"]; ok {
			upd.Name = &name[0]
		}
		if t := chat.RoomType(r.PostFormValue("type")); t != "" && t != room.Type {
			upd.Type = &t
		}
		typ := room.Type
		if upd.Type != nil {
			typ = *upd.Type
		}
		// The member checkboxes count only for a room that is (or
		// becomes) closed; "members" marks that the form showed them.
		if typ == chat.RoomClosed && r.PostFormValue("members") == "1" {
			ids, err := formIDs(r, "user_ids")
			if err != nil {
				return err
			}
			upd.UserIDs = &ids
		}
		updated, err := s.updateRoom(ctx, me, id, upd)
		if err != nil {
			data, derr := s.roomSettings(ctx, me, room)
			if derr != nil {
				return derr
			}
			return s.formError(w, err, "room_settings", &data, &data.Page)
		}
		if updated.Membership == nil {
			return seeOther(w, r, "/") // they took themselves out
		}
	case "involvement":
		if _, err := s.DB.SetInvolvement(ctx, me.ID, id, chat.Involvement(r.PostFormValue("involvement"))); err != nil {
			data, derr := s.roomSettings(ctx, me, room)
			if derr != nil {
				return derr
			}
			return s.formError(w, err, "room_settings", &data, &data.Page)
		}
	case "delete":
		if err := s.deleteRoom(ctx, me, id); err != nil {
			return err
		}
		return seeOther(w, r, "/")
	default:
		return chat.Errorf(chat.EINVALID, "Unknown settings action.")
	}
	return seeOther(w, r, roomPath(id)+"/settings?saved=1")
}

// directFormPage is the data of the page that starts a direct room.
type directFormPage struct {
	Page
	Users   []userChoice
	Sidebar *sidebar
}

func (s *Server) directForm(ctx context.Context, me *chat.User, chosen []int64) (directFormPage, error) {
	p, err := s.pageFor(ctx, me, "New direct message")
	if err != nil {
		return directFormPage{}, err
	}
	users, err := s.choices(ctx, me, chosen, 0, false)
	if err != nil {
		return directFormPage{}, err
	}
	sb, err := s.loadSidebar(ctx, me, 0)
	if err != nil {
		return directFormPage{}, err
	}
	return directFormPage{Page: p, Users: users, Sidebar: sb}, nil
}

func (s *Server) handleDirectNewPage(w http.ResponseWriter, r *http.Request) error {
	data, err := s.directForm(r.Context(), currentUser(r.Context()), nil)
	if err != nil {
		return err
	}
	return s.renderPage(w, http.StatusOK, "direct_new", data)
}

func (s *Server) handleDirectCreateForm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	me := currentUser(r.Context())
	ids, err := formIDs(r, "user_ids")
	if err == nil {
		var room *chat.Room
		if room, _, err = s.directRoom(r.Context(), me, ids); err == nil {
			return seeOther(w, r, roomPath(room.ID))
		}
	}
	data, derr := s.directForm(r.Context(), me, ids)
	if derr != nil {
		return derr
	}
	return s.formError(w, err, "direct_new", &data, &data.Page)
}
