package web

import (
	"context"
	"net/http"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

type accountResponse struct {
	*chat.Account
	JoinPath string `json:"join_path"`
}

func (s *Server) handleAccountShow(w http.ResponseWriter, r *http.Request) error {
	acct, err := s.DB.FindAccount(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountResponse{Account: acct, JoinPath: "/join/" + acct.JoinCode})
	return nil
}

func (s *Server) handleAccountUpdate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name                 *string `json:"name"`
		RestrictRoomCreation *bool   `json:"restrict_room_creation"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	acct, err := s.DB.UpdateAccount(r.Context(), currentUser(r.Context()).ID,
		sqldb.AccountUpdate{Name: req.Name, RestrictRoomCreation: req.RestrictRoomCreation})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountResponse{Account: acct, JoinPath: "/join/" + acct.JoinCode})
	return nil
}

func (s *Server) handleJoinCodeRegenerate(w http.ResponseWriter, r *http.Request) error {
	code, err := s.DB.RegenerateJoinCode(r.Context(), currentUser(r.Context()).ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"join_code": code, "join_path": "/join/" + code})
	return nil
}

func (s *Server) handleMeShow(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r.Context())
	writeJSON(w, http.StatusOK, presentUser(me, me))
	return nil
}

func (s *Server) handleMeUpdate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name     *string `json:"name"`
		Email    *string `json:"email"`
		Password *string `json:"password"`
		Bio      *string `json:"bio"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	me := currentUser(r.Context())
	u, err := s.updateProfile(r.Context(), me, sessionHash(r.Context()),
		chat.UserUpdate{Name: req.Name, Email: req.Email, Password: req.Password, Bio: req.Bio})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, presentUser(u, u))
	return nil
}

// updateProfile changes actor's own profile. A new password signs out
// every other session (keepHash is the current one) and closes their live
// connections.
func (s *Server) updateProfile(ctx context.Context, actor *chat.User, keepHash string, upd chat.UserUpdate) (*chat.User, error) {
	upd.Normalize()
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var hash string
	if upd.Password != nil {
		var err error
		if hash, err = s.hashPassword(*upd.Password); err != nil {
			return nil, err
		}
	}
	u, err := s.DB.UpdateProfile(ctx, actor.ID, upd, hash, keepHash)
	if err != nil {
		return nil, err
	}
	if upd.Password != nil {
		s.sockets.closeUser(actor.ID, keepHash)
	}
	return u, nil
}

// deactivate deactivates a user (administrators only) and closes the
// user's live connections: their sessions are gone.
func (s *Server) deactivate(ctx context.Context, actor *chat.User, id int64) (*chat.User, error) {
	u, err := s.DB.Deactivate(ctx, actor.ID, id)
	if err != nil {
		return nil, err
	}
	s.sockets.closeUser(id, "")
	return u, nil
}

func (s *Server) handleUserIndex(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r.Context())
	q := r.URL.Query()
	users, err := s.DB.FindUsers(r.Context(), sqldb.UserFilter{
		Query:           q.Get("q"),
		IncludeBots:     q.Get("bots") == "true",
		IncludeInactive: me.IsAdmin() && q.Get("inactive") == "true",
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": presentUsers(me, users)})
	return nil
}

func (s *Server) handleUserShow(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.DB.FindUserByID(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, presentUser(currentUser(r.Context()), u))
	return nil
}

// handleUserUpdate changes another user's role (administrators only).
func (s *Server) handleUserUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Role chat.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	me := currentUser(r.Context())
	u, err := s.DB.SetRole(r.Context(), me.ID, id, req.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, presentUser(me, u))
	return nil
}

// handleUserDeactivate deactivates a user (administrators only).
func (s *Server) handleUserDeactivate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	me := currentUser(r.Context())
	u, err := s.deactivate(r.Context(), me, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, presentUser(me, u))
	return nil
}
