package web

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// Live events (docs/live-protocol.md). Every function here runs after the
// database call it reports has committed, and is the one place its event
// is built: each frame is encoded, and its HTML fragment rendered, once,
// and the same bytes go to every recipient. Publishing never fails the
// request that caused it: the change is committed, and a client that
// misses an event catches up over HTTP.

// userRef is how events name a person: never an email address.
type userRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type messageEvent struct {
	Type    string        `json:"type"`
	RoomID  int64         `json:"room_id"`
	Message *chat.Message `json:"message"`
	HTML    string        `json:"html"`
}

type messageDeletedEvent struct {
	Type      string `json:"type"`
	RoomID    int64  `json:"room_id"`
	MessageID int64  `json:"message_id"`
	ClientID  string `json:"client_id"`
}

type boostAddedEvent struct {
	Type      string      `json:"type"`
	RoomID    int64       `json:"room_id"`
	MessageID int64       `json:"message_id"`
	Boost     *chat.Boost `json:"boost"`
	HTML      string      `json:"html"`
}

type boostRemovedEvent struct {
	Type      string `json:"type"`
	RoomID    int64  `json:"room_id"`
	MessageID int64  `json:"message_id"`
	BoostID   int64  `json:"boost_id"`
}

type roomEvent struct {
	Type string     `json:"type"`
	Room *chat.Room `json:"room"`
}

// roomIDEvent is every event that names only a room: room_deleted,
// membership_removed, read, subscribed.
type roomIDEvent struct {
	Type   string `json:"type"`
	RoomID int64  `json:"room_id"`
}

type unreadEvent struct {
	Type      string `json:"type"`
	RoomID    int64  `json:"room_id"`
	MessageID int64  `json:"message_id"`
}

type typingEvent struct {
	Type   string  `json:"type"`
	RoomID int64   `json:"room_id"`
	Action string  `json:"action"`
	User   userRef `json:"user"`
}

type presenceEvent struct {
	Type    string  `json:"type"`
	RoomID  int64   `json:"room_id"`
	UserIDs []int64 `json:"user_ids"`
}

// frame encodes an event. Encoding our own structs cannot fail short of a
// bug, which is logged and the event skipped.
func (s *Server) frame(v any) ([]byte, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		s.Logger.Error("encode live event", "err", err)
		return nil, false
	}
	return b, true
}

// messageFrame renders the message fragment and encodes a message event.
func (s *Server) messageFrame(typ string, msg *chat.Message, names map[int64]string) ([]byte, bool) {
	view := newMessageView(msg, names)
	html, err := s.renderFragment("message", view)
	if err != nil {
		s.Logger.Error("render live message", "message_id", msg.ID, "err", err)
		return nil, false
	}
	return s.frame(messageEvent{Type: typ, RoomID: msg.RoomID, Message: view.Message, HTML: string(html)})
}

// boosterNames looks up the names of a message's boosters for its fragment.
func (s *Server) boosterNames(ctx context.Context, msg *chat.Message) map[int64]string {
	names := map[int64]string{}
	for _, b := range msg.Boosts {
		if _, ok := names[b.BoosterID]; ok {
			continue
		}
		if u, err := s.DB.FindUserByID(ctx, b.BoosterID); err == nil {
			names[b.BoosterID] = u.Name
		}
	}
	return names
}

// publishMessageCreated tells the room about a new message and every other
// member that the room has something unread.
func (s *Server) publishMessageCreated(ctx context.Context, msg *chat.Message, members []*chat.User) {
	if f, ok := s.messageFrame("message_created", msg, nil); ok {
		s.Hub.PublishRoom(msg.RoomID, f)
	}
	f, ok := s.frame(unreadEvent{Type: "unread", RoomID: msg.RoomID, MessageID: msg.ID})
	if !ok {
		return
	}
	for _, u := range members {
		if u.ID != msg.CreatorID {
			s.Hub.PublishUser(u.ID, f)
		}
	}
}

func (s *Server) publishMessageUpdated(ctx context.Context, msg *chat.Message) {
	if f, ok := s.messageFrame("message_updated", msg, s.boosterNames(ctx, msg)); ok {
		s.Hub.PublishRoom(msg.RoomID, f)
	}
}

func (s *Server) publishMessageDeleted(msg *chat.Message) {
	if f, ok := s.frame(messageDeletedEvent{Type: "message_deleted", RoomID: msg.RoomID, MessageID: msg.ID, ClientID: msg.ClientID}); ok {
		s.Hub.PublishRoom(msg.RoomID, f)
	}
}

func (s *Server) publishBoostAdded(roomID int64, b *chat.Boost, booster *chat.User) {
	html, err := s.renderFragment("boost", boostView{Boost: b, BoosterName: booster.Name})
	if err != nil {
		s.Logger.Error("render live boost", "boost_id", b.ID, "err", err)
		return
	}
	if f, ok := s.frame(boostAddedEvent{Type: "boost_added", RoomID: roomID, MessageID: b.MessageID, Boost: b, HTML: string(html)}); ok {
		s.Hub.PublishRoom(roomID, f)
	}
}

func (s *Server) publishBoostRemoved(roomID int64, b *chat.Boost) {
	if f, ok := s.frame(boostRemovedEvent{Type: "boost_removed", RoomID: roomID, MessageID: b.MessageID, BoostID: b.ID}); ok {
		s.Hub.PublishRoom(roomID, f)
	}
}

// publishRoom sends room_created or room_updated to everyone for an open
// room, and to each member otherwise. The room goes out without the
// actor's membership: it is not the recipients'.
func (s *Server) publishRoom(typ string, room *chat.Room, memberIDs []int64) {
	c := *room
	c.Membership = nil
	f, ok := s.frame(roomEvent{Type: typ, Room: &c})
	if !ok {
		return
	}
	if room.Type == chat.RoomOpen {
		s.Hub.PublishAll(f)
		return
	}
	for _, id := range memberIDs {
		s.Hub.PublishUser(id, f)
	}
}

// publishRoomDeleted tells the former members and ends their subscriptions.
func (s *Server) publishRoomDeleted(room *chat.Room, memberIDs []int64) {
	f, ok := s.frame(roomIDEvent{Type: "room_deleted", RoomID: room.ID})
	if !ok {
		return
	}
	for _, id := range memberIDs {
		s.Hub.Evict(room.ID, id)
	}
	if room.Type == chat.RoomOpen {
		s.Hub.PublishAll(f)
		return
	}
	for _, id := range memberIDs {
		s.Hub.PublishUser(id, f)
	}
}

// publishMembershipsRemoved stops the room's events for users who were in
// before and not after, at once, then tells them.
func (s *Server) publishMembershipsRemoved(roomID int64, before, after []int64) {
	var removed []int64
	for _, id := range before {
		if !slices.Contains(after, id) {
			removed = append(removed, id)
		}
	}
	if len(removed) == 0 {
		return
	}
	f, ok := s.frame(roomIDEvent{Type: "membership_removed", RoomID: roomID})
	for _, id := range removed {
		s.Hub.Evict(roomID, id)
		if ok {
			s.Hub.PublishUser(id, f)
		}
	}
}

// publishRead tells the reader's other connections that the room is read.
func (s *Server) publishRead(userID, roomID int64) {
	if f, ok := s.frame(roomIDEvent{Type: "read", RoomID: roomID}); ok {
		s.Hub.PublishUser(userID, f)
	}
}

func (s *Server) publishTyping(roomID int64, u *chat.User, action string) {
	if f, ok := s.frame(typingEvent{Type: "typing", RoomID: roomID, Action: action, User: userRef{ID: u.ID, Name: u.Name}}); ok {
		s.Hub.PublishRoom(roomID, f)
	}
}
