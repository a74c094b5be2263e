package web

import (
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
	if req.Type == "" {
		req.Type = chat.RoomOpen
	}
	if req.Type == chat.RoomOpen && len(req.UserIDs) > 0 {
		return chat.Errorf(chat.EINVALID, "An open room includes everyone; user_ids is only for closed rooms.")
	}
	room, err := s.DB.CreateRoom(r.Context(), currentUser(r.Context()).ID,
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
	if len(req.UserIDs) == 0 {
		return chat.Errorf(chat.EINVALID, "user_ids must name at least one user.")
	}
	room, created, err := s.DB.FindOrCreateDirectRoom(r.Context(), currentUser(r.Context()).ID, req.UserIDs)
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
	room, err := s.DB.UpdateRoom(r.Context(), currentUser(r.Context()).ID, id,
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
	if _, err := s.DB.DeleteRoom(r.Context(), currentUser(r.Context()).ID, id); err != nil {
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
	if err := s.DB.MarkRead(r.Context(), currentUser(r.Context()).ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
