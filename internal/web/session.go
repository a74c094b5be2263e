package web

import (
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/chat"
)

var errNoRoute = chat.Errorf(chat.ENOTFOUND, "No such API endpoint.")

type credentialsRequest struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

type signedIn struct {
	User  *chat.User `json:"user"`
	Token string     `json:"token"`
}

// handleFirstRun creates the administrator while no account exists.
func (s *Server) handleFirstRun(w http.ResponseWriter, r *http.Request) error {
	var req credentialsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	nu := chat.NewUser{Name: req.Name, Email: req.Email, Password: req.Password, Role: chat.RoleAdministrator}
	nu.Normalize()
	if err := nu.Validate(); err != nil {
		return err
	}
	if done, err := s.DB.HasAccount(r.Context()); err != nil {
		return err
	} else if done {
		return chat.Errorf(chat.ECONFLICT, "Campfire is already set up; sign in instead.")
	}
	hash, err := s.hashPassword(nu.Password)
	if err != nil {
		return err
	}
	u, _, err := s.DB.FirstRun(r.Context(), nu, hash)
	if err != nil {
		return err
	}
	return s.respondSignedIn(w, r, u)
}

func (s *Server) respondSignedIn(w http.ResponseWriter, r *http.Request, u *chat.User) error {
	tok, err := s.startSession(w, r, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, signedIn{User: presentUser(u, u), Token: tok})
	return nil
}

// handleSessionCreate signs in with email and password, rate limited per IP.
func (s *Server) handleSessionCreate(w http.ResponseWriter, r *http.Request) error {
	if !s.logins.allow(clientIP(r), time.Now()) {
		w.Header().Set("Retry-After", "60")
		return chat.Errorf(chat.ERATELIMITED, "Too many sign-in attempts; wait a minute and try again.")
	}
	var req credentialsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	invalid := chat.Errorf(chat.EUNAUTHORIZED, "Email address or password is incorrect.")
	creds, err := s.DB.FindCredentials(r.Context(), req.Email)
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		// Spend the same time as a real check so timing does not reveal
		// which email addresses have accounts.
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(req.Password))
		return invalid
	} else if err != nil {
		return err
	}
	// Bots have no password hash, so the comparison fails for them too.
	if bcrypt.CompareHashAndPassword([]byte(creds.PasswordHash), []byte(req.Password)) != nil || !creds.User.IsActive() {
		return invalid
	}
	return s.respondSignedIn(w, r, creds.User)
}

func (s *Server) handleSessionDelete(w http.ResponseWriter, r *http.Request) error {
	hash, _ := r.Context().Value(tokenHashKey).(string)
	if err := s.DB.DeleteSession(r.Context(), hash); err != nil {
		return err
	}
	clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleJoinShow tells a join page whether its code is valid.
func (s *Server) handleJoinShow(w http.ResponseWriter, r *http.Request) error {
	if err := s.DB.CheckJoinCode(r.Context(), r.PathValue("code")); err != nil {
		return err
	}
	acct, err := s.DB.FindAccount(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"account_name": acct.Name})
	return nil
}

// handleJoinCreate signs up a member through the join link.
func (s *Server) handleJoinCreate(w http.ResponseWriter, r *http.Request) error {
	var req credentialsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	nu := chat.NewUser{Name: req.Name, Email: req.Email, Password: req.Password, Role: chat.RoleMember}
	nu.Normalize()
	if err := nu.Validate(); err != nil {
		return err
	}
	if err := s.DB.CheckJoinCode(r.Context(), r.PathValue("code")); err != nil {
		return err
	}
	hash, err := s.hashPassword(nu.Password)
	if err != nil {
		return err
	}
	u, err := s.DB.SignUp(r.Context(), r.PathValue("code"), nu, hash)
	if err != nil {
		return err
	}
	return s.respondSignedIn(w, r, u)
}
