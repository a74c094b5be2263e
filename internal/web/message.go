package web

import (
	"context"
	"net/http"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/render"
)

// renderFor renders body with the room's members as mention candidates.
// It also checks, through FindRoomMembers, that the actor is in the room.
func (s *Server) renderFor(ctx context.Context, actorID, roomID int64, body string) (render.Output, error) {
	if err := chat.ValidateMessageBody(body); err != nil {
		return render.Output{}, err
	}
	users, err := s.DB.FindRoomMembers(ctx, actorID, roomID)
	if err != nil {
		return render.Output{}, err
	}
	members := make([]render.Member, len(users))
	for i, u := range users {
		members[i] = render.Member{ID: u.ID, Name: u.Name}
	}
	return s.Renderer.Render(body, members), nil
}

// postMessage renders and stores a message; pages and the API share it.
func (s *Server) postMessage(ctx context.Context, actor *chat.User, roomID int64, body, clientID string) (*chat.Message, bool, error) {
	if err := chat.ValidateClientID(clientID); err != nil {
		return nil, false, err
	}
	out, err := s.renderFor(ctx, actor.ID, roomID, body)
	if err != nil {
		return nil, false, err
	}
	msg, created, err := s.DB.CreateMessage(ctx, actor.ID, chat.Message{
		RoomID: roomID, ClientID: clientID, Body: body,
		HTML: out.HTML, Plain: out.Plain, Sound: out.Sound, MentionIDs: out.MentionIDs,
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		s.metrics.messagesPosted.Inc()
	}
	return msg, created, nil
}

// editMessage re-renders and stores a changed message body.
func (s *Server) editMessage(ctx context.Context, actor *chat.User, id int64, body string) (*chat.Message, error) {
	old, err := s.DB.FindMessage(ctx, actor.ID, id)
	if err != nil {
		return nil, err
	}
	if err := chat.CanEditMessage(actor, old); err != nil {
		return nil, err
	}
	out, err := s.renderFor(ctx, actor.ID, old.RoomID, body)
	if err != nil {
		return nil, err
	}
	return s.DB.UpdateMessage(ctx, actor.ID, chat.Message{
		ID: id, Body: body, HTML: out.HTML, Plain: out.Plain, Sound: out.Sound, MentionIDs: out.MentionIDs,
	})
}

func (s *Server) handleMessageIndex(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var page chat.Page
	if page.Before, err = queryInt(r, "before"); err != nil {
		return err
	}
	if page.After, err = queryInt(r, "after"); err != nil {
		return err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	page.Limit = int(min(limit, chat.MaxPageSize))
	me := currentUser(r.Context())
	msgs, err := s.DB.FindMessages(r.Context(), me.ID, id, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": presentMessages(me, msgs)})
	return nil
}

// handleMessageCreate posts a message: 201 when new, 200 when client_id
// repeats an earlier post (idempotent retry).
func (s *Server) handleMessageCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Body     string `json:"body"`
		ClientID string `json:"client_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	me := currentUser(r.Context())
	msg, created, err := s.postMessage(r.Context(), me, id, req.Body, req.ClientID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, presentMessage(me, msg))
	return nil
}

func (s *Server) handleMessageShow(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	me := currentUser(r.Context())
	msg, err := s.DB.FindMessage(r.Context(), me.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, presentMessage(me, msg))
	return nil
}

func (s *Server) handleMessageUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	me := currentUser(r.Context())
	msg, err := s.editMessage(r.Context(), me, id, req.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, presentMessage(me, msg))
	return nil
}

func (s *Server) handleMessageDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.DB.DeleteMessage(r.Context(), currentUser(r.Context()).ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleBoostCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Content string `json:"content"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	b, _, err := s.DB.CreateBoost(r.Context(), currentUser(r.Context()).ID, id, req.Content)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (s *Server) handleBoostDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, _, err := s.DB.DeleteBoost(r.Context(), currentUser(r.Context()).ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r.Context())
	msgs, err := s.DB.SearchMessages(r.Context(), me.ID, r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": presentMessages(me, msgs)})
	return nil
}

func (s *Server) handleRecentSearches(w http.ResponseWriter, r *http.Request) error {
	qs, err := s.DB.RecentSearches(r.Context(), currentUser(r.Context()).ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"searches": qs})
	return nil
}

func (s *Server) handleSearchesClear(w http.ResponseWriter, r *http.Request) error {
	if err := s.DB.ClearSearches(r.Context(), currentUser(r.Context()).ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
