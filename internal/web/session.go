package web

import (
	"context"
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

// Sign-up, sign-in and sign-out, shared by the API and the pages.

// firstRun creates the administrator while no account exists.
func (s *Server) firstRun(ctx context.Context, name, email, password string) (*chat.User, error) {
	nu := chat.NewUser{Name: name, Email: email, Password: password, Role: chat.RoleAdministrator}
	nu.Normalize()
	if err := nu.Validate(); err != nil {
		return nil, err
	}
	if done, err := s.DB.HasAccount(ctx); err != nil {
		return nil, err
	} else if done {
		return nil, chat.Errorf(chat.ECONFLICT, "Campfire is already set up; sign in instead.")
	}
	hash, err := s.hashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	u, _, err := s.DB.FirstRun(ctx, nu, hash)
	return u, err
}

// signUp creates a member through the join link.
func (s *Server) signUp(ctx context.Context, code, name, email, password string) (*chat.User, error) {
	nu := chat.NewUser{Name: name, Email: email, Password: password, Role: chat.RoleMember}
	nu.Normalize()
	if err := nu.Validate(); err != nil {
		return nil, err
	}
	if err := s.DB.CheckJoinCode(ctx, code); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	return s.DB.SignUp(ctx, code, nu, hash)
}

// allowSignIn spends one of the client's sign-in attempts, or refuses
// with ERATELIMITED (and Retry-After) when they are used up.
func (s *Server) allowSignIn(w http.ResponseWriter, r *http.Request) error {
	if !s.logins.allow(clientIP(r), time.Now()) {
		w.Header().Set("Retry-After", "60")
		return chat.Errorf(chat.ERATELIMITED, "Too many sign-in attempts; wait a minute and try again.")
	}
	return nil
}

// checkCredentials returns the active user with email and password.
func (s *Server) checkCredentials(r *http.Request, email, password string) (*chat.User, error) {
	invalid := chat.Errorf(chat.EUNAUTHORIZED, "Email address or password is incorrect.")
	creds, err := s.DB.FindCredentials(r.Context(), email)
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		// Spend the same time as a real check so timing does not reveal
		// which email addresses have accounts.
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return nil, invalid
	} else if err != nil {
		return nil, err
	}
	// Bots have no password hash, so the comparison fails for them too.
	if bcrypt.CompareHashAndPassword([]byte(creds.PasswordHash), []byte(password)) != nil || !creds.User.IsActive() {
		return nil, invalid
	}
	return creds.User, nil
}

// signOut ends the session with hash and closes its live connections.
func (s *Server) signOut(ctx context.Context, hash string) error {
	if err := s.DB.DeleteSession(ctx, hash); err != nil {
		return err
	}
	s.sockets.closeSession(hash)
	return nil
}

// handleFirstRun creates the administrator while no account exists.
func (s *Server) handleFirstRun(w http.ResponseWriter, r *http.Request) error {
	var req credentialsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.firstRun(r.Context(), req.Name, req.Email, req.Password)
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
	if err := s.allowSignIn(w, r); err != nil {
		return err
	}
	var req credentialsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.checkCredentials(r, req.Email, req.Password)
	if err != nil {
		return err
	}
	return s.respondSignedIn(w, r, u)
}

func (s *Server) handleSessionDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.signOut(r.Context(), sessionHash(r.Context())); err != nil {
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
	u, err := s.signUp(r.Context(), r.PathValue("code"), req.Name, req.Email, req.Password)
	if err != nil {
		return err
	}
	return s.respondSignedIn(w, r, u)
}
