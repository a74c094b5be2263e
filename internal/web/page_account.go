package web

import (
	"context"
	"net/http"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// profilePage is the data of the viewer's own settings page.
type profilePage struct {
	Page
	Name    string
	Email   string
	Bio     string
	Sidebar *sidebar
}

func (s *Server) profile(ctx context.Context, me *chat.User) (profilePage, error) {
	p, err := s.pageFor(ctx, me, "Profile")
	if err != nil {
		return profilePage{}, err
	}
	sb, err := s.loadSidebar(ctx, me, 0)
	if err != nil {
		return profilePage{}, err
	}
	return profilePage{Page: p, Name: me.Name, Email: me.Email, Bio: me.Bio, Sidebar: sb}, nil
}

func (s *Server) handleProfilePage(w http.ResponseWriter, r *http.Request) error {
	data, err := s.profile(r.Context(), currentUser(r.Context()))
	if err != nil {
		return err
	}
	if r.URL.Query().Get("saved") == "1" {
		data.Notice = "Saved."
	}
	return s.renderPage(w, http.StatusOK, "profile", data)
}

// handleProfileForm saves the profile; a blank password keeps the old one.
func (s *Server) handleProfileForm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	me := currentUser(ctx)
	name, email, bio := r.PostFormValue("name"), r.PostFormValue("email"), r.PostFormValue("bio")
	upd := chat.UserUpdate{Name: &name, Email: &email, Bio: &bio}
	if pw := r.PostFormValue("password"); pw != "" {
		upd.Password = &pw
	}
	if _, err := s.updateProfile(ctx, me, sessionHash(ctx), upd); err != nil {
		data, perr := s.profile(ctx, me)
		if perr != nil {
			return perr
		}
		data.Name, data.Email, data.Bio = name, email, bio
		return s.formError(w, err, "profile", &data, &data.Page)
	}
	return seeOther(w, r, "/profile?saved=1")
}

// accountPage is the data of the account page: everyone sees the join
// link and the people; administrators also manage them.
type accountPage struct {
	Page
	Settings *chat.Account
	JoinURL  string
	Users    []*chat.User
	IsAdmin  bool
	Sidebar  *sidebar
}

func (s *Server) account(ctx context.Context, r *http.Request, me *chat.User) (accountPage, error) {
	p, err := s.pageFor(ctx, me, "Account")
	if err != nil {
		return accountPage{}, err
	}
	acct, err := s.DB.FindAccount(ctx)
	if err != nil {
		return accountPage{}, err
	}
	users, err := s.DB.FindUsers(ctx, sqldb.UserFilter{})
	if err != nil {
		return accountPage{}, err
	}
	sb, err := s.loadSidebar(ctx, me, 0)
	if err != nil {
		return accountPage{}, err
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https" // only shown, never trusted
	}
	return accountPage{
		Page: p, Settings: acct, JoinURL: scheme + "://" + r.Host + "/join/" + acct.JoinCode,
		Users: presentUsers(me, users), IsAdmin: me.IsAdmin(), Sidebar: sb,
	}, nil
}

func (s *Server) handleAccountPage(w http.ResponseWriter, r *http.Request) error {
	data, err := s.account(r.Context(), r, currentUser(r.Context()))
	if err != nil {
		return err
	}
	if r.URL.Query().Get("saved") == "1" {
		data.Notice = "Saved."
	}
	return s.renderPage(w, http.StatusOK, "account", data)
}

// accountFormError re-renders the account page with err.
func (s *Server) accountFormError(w http.ResponseWriter, r *http.Request, err error) error {
	data, aerr := s.account(r.Context(), r, currentUser(r.Context()))
	if aerr != nil {
		return aerr
	}
	return s.formError(w, err, "account", &data, &data.Page)
}

func (s *Server) handleAccountForm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	name := r.PostFormValue("name")
	restrict := r.PostFormValue("restrict_room_creation") == "1"
	_, err := s.DB.UpdateAccount(r.Context(), currentUser(r.Context()).ID,
		sqldb.AccountUpdate{Name: &name, RestrictRoomCreation: &restrict})
	if err != nil {
		return s.accountFormError(w, r, err)
	}
	return seeOther(w, r, "/account?saved=1")
}

func (s *Server) handleJoinCodeForm(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.DB.RegenerateJoinCode(r.Context(), currentUser(r.Context()).ID); err != nil {
		return s.accountFormError(w, r, err)
	}
	return seeOther(w, r, "/account?saved=1")
}

func (s *Server) handleUserRoleForm(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	if _, err := s.DB.SetRole(r.Context(), currentUser(r.Context()).ID, id, chat.Role(r.PostFormValue("role"))); err != nil {
		return s.accountFormError(w, r, err)
	}
	return seeOther(w, r, "/account?saved=1")
}

func (s *Server) handleUserDeactivateForm(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.deactivate(r.Context(), currentUser(r.Context()), id); err != nil {
		return s.accountFormError(w, r, err)
	}
	return seeOther(w, r, "/account?saved=1")
}

// userPage is the data of another person's profile card.
type userPage struct {
	Page
	User    *chat.User
	Sidebar *sidebar
}

// handleUserPage shows a person: name, bio (email for administrators), and
// a button to message them directly. Mentions link here.
func (s *Server) handleUserPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	me := currentUser(ctx)
	u, err := s.DB.FindUserByID(ctx, id)
	if err != nil {
		return err
	}
	p, err := s.pageFor(ctx, me, u.Name)
	if err != nil {
		return err
	}
	sb, err := s.loadSidebar(ctx, me, 0)
	if err != nil {
		return err
	}
	return s.renderPage(w, http.StatusOK, "user", userPage{Page: p, User: presentUser(me, u), Sidebar: sb})
}
