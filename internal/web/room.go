package web

import (
	"context"
	"net/http"

	"github.com/campfire-in-go/campfire/internal/chat"
)

func (s *Server) handleRoomIndex(w http.ResponseWriter, r *http.Request) error {
	rooms, err := s.DB.FindRooms(r.Context(), currentUser(r.Context()).ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rooms})
	return nil
}

func (s *Server) handleRoomCreate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string        `json:"name"`
		Type    chat.RoomType `json:"type"`
		UserIDs []int64       `json:"user_ids"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	room, err := s.createRoom(r.Context(), currentUser(r.Context()),
		chat.NewRoom{Name: req.Name, Type: req.Type, UserIDs: req.UserIDs})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, room)
	return nil
}

// handleDirectRoomCreate returns the one direct room for a set of users:
// 201 when it was created now, 200 when it existed.
func (s *Server) handleDirectRoomCreate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		UserIDs []int64 `json:"user_ids"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	room, created, err := s.directRoom(r.Context(), currentUser(r.Context()), req.UserIDs)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, room)
	return nil
}

func (s *Server) handleRoomShow(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	room, err := s.DB.FindRoom(r.Context(), currentUser(r.Context()).ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, room)
	return nil
}

func (s *Server) handleRoomUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Name    *string        `json:"name"`
		Type    *chat.RoomType `json:"type"`
		UserIDs *[]int64       `json:"user_ids"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	room, err := s.updateRoom(r.Context(), currentUser(r.Context()), id,
		chat.RoomUpdate{Name: req.Name, Type: req.Type, UserIDs: req.UserIDs})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, room)
	return nil
}

func (s *Server) handleRoomDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.deleteRoom(r.Context(), currentUser(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRoomMembers(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	me := currentUser(r.Context())
	users, err := s.DB.FindRoomMembers(r.Context(), me.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": presentUsers(me, users)})
	return nil
}

func (s *Server) handleInvolvementUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Involvement chat.Involvement `json:"involvement"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	m, err := s.DB.SetInvolvement(r.Context(), currentUser(r.Context()).ID, id, req.Involvement)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) handleRoomRead(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.markRead(r.Context(), currentUser(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Room changes shared by the API and the pages; each publishes its event
// after the change is stored.

// createRoom creates an open or closed room (type defaults to open).
func (s *Server) createRoom(ctx context.Context, actor *chat.User, nr chat.NewRoom) (*chat.Room, error) {
	if nr.Type == "" {
		nr.Type = chat.RoomOpen
	}
	if nr.Type == chat.RoomOpen && len(nr.UserIDs) > 0 {
		return nil, chat.Errorf(chat.EINVALID, "An open room includes everyone; user_ids is only for closed rooms.")
	}
	room, err := s.DB.CreateRoom(ctx, actor.ID, nr)
	if err != nil {
		return nil, err
	}
	s.publishRoom("room_created", room, chat.DirectUserSet(actor.ID, nr.UserIDs))
	return room, nil
}

// directRoom finds or creates the direct room of actor and userIDs.
func (s *Server) directRoom(ctx context.Context, actor *chat.User, userIDs []int64) (*chat.Room, bool, error) {
	if len(userIDs) == 0 {
		return nil, false, chat.Errorf(chat.EINVALID, "user_ids must name at least one user.")
	}
	room, created, err := s.DB.FindOrCreateDirectRoom(ctx, actor.ID, userIDs)
	if err != nil {
		return nil, false, err
	}
	if created {
		s.publishRoom("room_created", room, chat.DirectUserSet(actor.ID, userIDs))
	}
	return room, created, nil
}

// updateRoom renames, converts or re-members a room. Users who lose their
// membership stop receiving the room's events at once.
func (s *Server) updateRoom(ctx context.Context, actor *chat.User, id int64, upd chat.RoomUpdate) (*chat.Room, error) {
	before, err := s.DB.RoomMemberIDs(ctx, id)
	if err != nil {
		return nil, err
	}
	room, err := s.DB.UpdateRoom(ctx, actor.ID, id, upd)
	if err != nil {
		return nil, err
	}
	after, err := s.DB.RoomMemberIDs(ctx, id)
	if err != nil {
		// The update is committed; evict everyone who was in before
		// rather than let a removed member keep listening.
		s.Logger.ErrorContext(ctx, "list room members after update", "room_id", id, "err", err)
		after = nil
	}
	s.publishMembershipsRemoved(id, before, after)
	s.publishRoom("room_updated", room, after)
	return room, nil
}

// deleteRoom deletes a room and tells its former members.
func (s *Server) deleteRoom(ctx context.Context, actor *chat.User, id int64) error {
	members, err := s.DB.RoomMemberIDs(ctx, id)
	if err != nil {
		return err
	}
	room, err := s.DB.DeleteRoom(ctx, actor.ID, id)
	if err != nil {
		return err
	}
	s.publishRoomDeleted(room, members)
	return nil
}

// markRead clears actor's unread marker for a room and tells actor's
// other connections.
func (s *Server) markRead(ctx context.Context, actor *chat.User, id int64) error {
	if err := s.DB.MarkRead(ctx, actor.ID, id); err != nil {
		return err
	}
	s.publishRead(actor.ID, id)
	return nil
}
