package web

import (
	"net/http"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// credentialsPage is the data of the first-run, sign-in and join forms.
type credentialsPage struct {
	Page
	Name     string
	Email    string
	ReturnTo string // sign-in only: where to go afterwards
	JoinCode string // join only
}

// signedInUser returns the user of a valid session on r, or nil.
func (s *Server) signedInUser(r *http.Request) *chat.User {
	tok, _ := requestToken(r)
	if tok == "" {
		return nil
	}
	u, _, err := s.DB.Authenticate(r.Context(), hashToken(tok))
	if err != nil {
		return nil
	}
	return u
}

func (s *Server) handleFirstRunPage(w http.ResponseWriter, r *http.Request) error {
	if done, err := s.DB.HasAccount(r.Context()); err != nil {
		return err
	} else if done {
		return seeOther(w, r, "/")
	}
	return s.renderPage(w, http.StatusOK, "first_run", credentialsPage{Page: s.anonPage(r.Context(), "Set up")})
}

func (s *Server) handleFirstRunForm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	data := credentialsPage{Page: s.anonPage(r.Context(), "Set up"), Name: r.PostFormValue("name"), Email: r.PostFormValue("email")}
	u, err := s.firstRun(r.Context(), data.Name, data.Email, r.PostFormValue("password"))
	if chat.ErrorCode(err) == chat.ECONFLICT {
		return seeOther(w, r, "/session/new") // set up meanwhile, by someone else
	}
	if err != nil {
		return s.formError(w, err, "first_run", &data, &data.Page)
	}
	if _, err := s.startSession(w, r, u); err != nil {
		return err
	}
	return seeOther(w, r, "/")
}

func (s *Server) handleSignInPage(w http.ResponseWriter, r *http.Request) error {
	if done, err := s.DB.HasAccount(r.Context()); err != nil {
		return err
	} else if !done {
		return seeOther(w, r, "/first_run")
	}
	q := r.URL.Query()
	data := credentialsPage{Page: s.anonPage(r.Context(), "Sign in"), Email: q.Get("email"), ReturnTo: q.Get("return_to")}
	return s.renderPage(w, http.StatusOK, "session_new", data)
}

// handleSignInForm signs in, rate limited like the API: both spend the
// same per-IP attempts.
func (s *Server) handleSignInForm(w http.ResponseWriter, r *http.Request) error {
	data := credentialsPage{Page: s.anonPage(r.Context(), "Sign in")}
	if err := s.allowSignIn(w, r); err != nil {
		return s.formError(w, err, "session_new", &data, &data.Page)
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	data.Email, data.ReturnTo = r.PostFormValue("email"), r.PostFormValue("return_to")
	u, err := s.checkCredentials(r, data.Email, r.PostFormValue("password"))
	if err != nil {
		return s.formError(w, err, "session_new", &data, &data.Page)
	}
	if _, err := s.startSession(w, r, u); err != nil {
		return err
	}
	return seeOther(w, r, localPath(data.ReturnTo))
}

func (s *Server) handleSignOutForm(w http.ResponseWriter, r *http.Request) error {
	if err := s.signOut(r.Context(), sessionHash(r.Context())); err != nil {
		return err
	}
	clearSessionCookie(w)
	return seeOther(w, r, "/session/new")
}

func (s *Server) handleJoinPage(w http.ResponseWriter, r *http.Request) error {
	if s.signedInUser(r) != nil {
		return seeOther(w, r, "/")
	}
	code := r.PathValue("code")
	if err := s.DB.CheckJoinCode(r.Context(), code); err != nil {
		return joinNotFound(err)
	}
	return s.renderPage(w, http.StatusOK, "join", credentialsPage{Page: s.anonPage(r.Context(), "Join"), JoinCode: code})
}

func (s *Server) handleJoinForm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	code := r.PathValue("code")
	data := credentialsPage{Page: s.anonPage(r.Context(), "Join"), JoinCode: code,
		Name: r.PostFormValue("name"), Email: r.PostFormValue("email")}
	u, err := s.signUp(r.Context(), code, data.Name, data.Email, r.PostFormValue("password"))
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return joinNotFound(err)
	}
	if err != nil {
		return s.formError(w, err, "join", &data, &data.Page)
	}
	if _, err := s.startSession(w, r, u); err != nil {
		return err
	}
	return seeOther(w, r, "/")
}

// joinNotFound explains a wrong or replaced join code.
func joinNotFound(err error) error {
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return chat.Errorf(chat.ENOTFOUND, "This join link is not valid. Ask for a new one.")
	}
	return err
}
