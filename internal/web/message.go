package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/render"
)

// renderFor renders body with the room's members as mention candidates
// and returns the members too. Through FindRoomMembers it also checks that
// the actor is in the room.
func (s *Server) renderFor(ctx context.Context, actorID, roomID int64, body string) (render.Output, []*chat.User, error) {
	if err := chat.ValidateMessageBody(body); err != nil {
		return render.Output{}, nil, err
	}
	users, err := s.DB.FindRoomMembers(ctx, actorID, roomID)
	if err != nil {
		return render.Output{}, nil, err
	}
	members := make([]render.Member, len(users))
	for i, u := range users {
		members[i] = render.Member{ID: u.ID, Name: u.Name}
	}
	return s.Renderer.Render(body, members), users, nil
}

// postMessage renders and stores a message, then publishes it; pages and
// the API share it. A repeated client_id returns the first message and
// publishes nothing.
func (s *Server) postMessage(ctx context.Context, actor *chat.User, roomID int64, body, clientID string) (*chat.Message, bool, error) {
	if err := chat.ValidateClientID(clientID); err != nil {
		return nil, false, err
	}
	out, members, err := s.renderFor(ctx, actor.ID, roomID, body)
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
		s.publishMessageCreated(ctx, msg, members)
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
	out, _, err := s.renderFor(ctx, actor.ID, old.RoomID, body)
	if err != nil {
		return nil, err
	}
	msg, err := s.DB.UpdateMessage(ctx, actor.ID, chat.Message{
		ID: id, Body: body, HTML: out.HTML, Plain: out.Plain, Sound: out.Sound, MentionIDs: out.MentionIDs,
	})
	if err != nil {
		return nil, err
	}
	s.publishMessageUpdated(ctx, msg)
	return msg, nil
}

// deleteMessage deletes a message (author or administrator).
func (s *Server) deleteMessage(ctx context.Context, actor *chat.User, id int64) error {
	msg, err := s.DB.DeleteMessage(ctx, actor.ID, id)
	if err != nil {
		return err
	}
	s.publishMessageDeleted(msg)
	return nil
}

// boostMessage adds actor's boost to a message.
func (s *Server) boostMessage(ctx context.Context, actor *chat.User, messageID int64, content string) (*chat.Boost, error) {
	b, roomID, err := s.DB.CreateBoost(ctx, actor.ID, messageID, content)
	if err != nil {
		return nil, err
	}
	s.publishBoostAdded(roomID, b, actor)
	return b, nil
}

// unboost removes actor's own boost.
func (s *Server) unboost(ctx context.Context, actor *chat.User, boostID int64) error {
	b, roomID, err := s.DB.DeleteBoost(ctx, actor.ID, boostID)
	if err != nil {
		return err
	}
	s.publishBoostRemoved(roomID, b)
	return nil
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
	out := messageList{Messages: presentMessages(me, msgs)}
	if r.URL.Query().Get("html") == "1" {
		// The page's script asks for the rendered fragments too, so the
		// messages it loads (scrolling up, catching up) are the very
		// markup the page and the live events use.
		html, err := s.renderMessages(r.Context(), msgs)
		if err != nil {
			return err
		}
		out.HTML = &html
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// messageList is the body of GET /api/rooms/{id}/messages.
type messageList struct {
	Messages []*chat.Message `json:"messages"`
	// HTML is the "message" fragments of Messages, in order, with ?html=1.
	HTML *string `json:"html,omitempty"`
}

// renderMessages renders the "message" fragments of msgs, concatenated.
func (s *Server) renderMessages(ctx context.Context, msgs []*chat.Message) (string, error) {
	views, err := s.messageViews(ctx, msgs)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, v := range views {
		f, err := s.renderFragment("message", v)
		if err != nil {
			return "", err
		}
		b.Write(f)
	}
	return b.String(), nil
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
	if err := s.deleteMessage(r.Context(), currentUser(r.Context()), id); err != nil {
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
	b, err := s.boostMessage(r.Context(), currentUser(r.Context()), id, req.Content)
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
	if err := s.unboost(r.Context(), currentUser(r.Context()), id); err != nil {
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
