package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// Pages are for people in browsers: they authenticate with the session
// cookie, post HTML forms (application/x-www-form-urlencoded) and get
// HTML back, errors included. After a successful form post they redirect
// (303) so that reloading does not post again; a failed one re-renders the
// form with the message and a 4xx status.

// isAPI reports whether r is for the JSON API (or the WebSocket, whose
// refusals are JSON too) rather than a page.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/ws"
}

// page adapts a browser handler: its error becomes an HTML error page.
func (s *Server) page(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writePageError(w, r, err)
		}
	})
}

// errorPage is the data of the error page.
type errorPage struct {
	Page
	Status  int
	Message string
}

// writePageError renders err as an HTML page with the status of its code.
// Internal errors are logged here, once, and shown without details.
func (s *Server) writePageError(w http.ResponseWriter, r *http.Request, err error) {
	code := chat.ErrorCode(err)
	if r.Context().Err() != nil && code == chat.EINTERNAL {
		return // the client went away; nobody reads this response
	}
	if code == chat.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	if code == chat.EUNAUTHORIZED {
		s.redirectToSignIn(w, r)
		return
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	data := errorPage{Page: s.anonPage(r.Context(), http.StatusText(status)), Status: status, Message: chat.ErrorMessage(err)}
	// Handlers see the user in their own request's context; the error
	// comes back to this adapter's request, so look again.
	if data.Me = currentUser(r.Context()); data.Me == nil {
		data.Me = s.signedInUser(r)
	}
	if code == chat.ERATELIMITED {
		w.Header().Set("Retry-After", "60")
	}
	if rerr := s.renderPage(w, status, "error", data); rerr != nil {
		s.Logger.ErrorContext(r.Context(), "render error page", "err", rerr)
		http.Error(w, data.Message, status)
	}
}

// redirectToSignIn sends a signed-out visitor to the sign-in page, with
// the page they wanted to come back to, or to first run while no account
// exists.
func (s *Server) redirectToSignIn(w http.ResponseWriter, r *http.Request) {
	if has, err := s.DB.HasAccount(r.Context()); err == nil && !has {
		http.Redirect(w, r, "/first_run", http.StatusSeeOther)
		return
	}
	target := "/session/new"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?return_to=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath returns p if it is a path on this site, else "/": a return_to
// parameter must not send anyone elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

// seeOther redirects after a successful form post.
func seeOther(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// formError re-renders a form page with err's message and status, or
// returns err for the error page when it is not the user's mistake.
func (s *Server) formError(w http.ResponseWriter, err error, name string, data any, p *Page) error {
	code := chat.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok || code == chat.EINTERNAL || code == chat.EUNAVAILABLE {
		return err
	}
	if code == chat.ERATELIMITED {
		w.Header().Set("Retry-After", "60")
	}
	p.Error = chat.ErrorMessage(err)
	return s.renderPage(w, status, name, data)
}

// parseForm reads a form body, bounded like JSON bodies.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return chat.Errorf(chat.EINVALID, "The form could not be read: %v", err)
	}
	return nil
}

// formIDs parses the repeated numeric form field name (checkboxes).
func formIDs(r *http.Request, name string) ([]int64, error) {
	var ids []int64
	for _, v := range r.PostForm[name] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, chat.Errorf(chat.EINVALID, "%s must be user ids.", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
