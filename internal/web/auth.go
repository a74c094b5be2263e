package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// sessionCookie holds the session token for browsers; API clients send
// the same token as "Authorization: Bearer <token>".
const sessionCookie = "campfire_session"

// sessionLifetime is how long a browser keeps the cookie.
const sessionLifetime = 365 * 24 * time.Hour

type ctxKey int

const (
	userKey ctxKey = iota
	tokenHashKey
)

// currentUser returns the signed-in user of an authenticated request.
func currentUser(ctx context.Context) *chat.User {
	u, _ := ctx.Value(userKey).(*chat.User)
	return u
}

// newToken returns a random session token and the hash that is stored.
func newToken() (token, hash string) {
	token = rand.Text() + rand.Text() // 256 bits
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// requestToken finds the session token in the Authorization header (API
// clients) or the session cookie (browsers), and says which.
func requestToken(r *http.Request) (token string, viaCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(tok), false
		}
		return "", false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value, true
	}
	return "", false
}

// requestedWith is the X-Requested-With value our pages' scripts send.
const requestedWith = "campfire"

// errCookieWithoutHeader refuses a cookie-authenticated state change that
// neither our script nor one of our forms sent (docs/decisions/0003-csrf.md).
var errCookieWithoutHeader = chat.Errorf(chat.EFORBIDDEN,
	"Request refused: requests signed in with the session cookie must come from the app's pages (X-Requested-With: campfire).")

// fromOurPages reports whether a cookie-authenticated request may change
// state: safe methods always; otherwise our scripts' fetch calls, which
// send X-Requested-With (a header no cross-site page can add without a
// CORS preflight we never grant), or our HTML forms, which post form
// encodings. Cross-origin form posts were already refused by
// http.CrossOriginProtection, and SameSite=Lax keeps the cookie off them.
func fromOurPages(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	if r.Header.Get("X-Requested-With") == requestedWith {
		return true
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// authenticate returns r's context carrying the signed-in, active user and
// the session's token hash.
func (s *Server) authenticate(r *http.Request) (context.Context, error) {
	tok, viaCookie := requestToken(r)
	if tok == "" {
		return nil, chat.Errorf(chat.EUNAUTHORIZED, "Sign in to continue.")
	}
	hash := hashToken(tok)
	u, _, err := s.DB.Authenticate(r.Context(), hash)
	if err != nil {
		return nil, err
	}
	if viaCookie && !fromOurPages(r) {
		return nil, errCookieWithoutHeader
	}
	ctx := context.WithValue(r.Context(), userKey, u)
	return context.WithValue(ctx, tokenHashKey, hash), nil
}

// authenticated wraps fn so it runs only for a signed-in, active user.
func (s *Server) authenticated(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, err := s.authenticate(r)
		if err != nil {
			return err
		}
		return fn(w, r.WithContext(ctx))
	}
}

// sessionHash returns the token hash of an authenticated request's session.
func sessionHash(ctx context.Context) string {
	h, _ := ctx.Value(tokenHashKey).(string)
	return h
}

// startSession creates a session for u, sets the cookie and returns the
// token for API clients.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *chat.User) (string, error) {
	tok, hash := newToken()
	if _, err := s.DB.CreateSession(r.Context(), u.ID, hash, clientIP(r), r.UserAgent()); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    tok,
		Path:     "/",
		MaxAge:   int(sessionLifetime.Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	return tok, nil
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// hashPassword hashes a validated password.
func (s *Server) hashPassword(p string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), s.BcryptCost)
	return string(h), err
}

// clientIP is the address the request came from. X-Forwarded-For is not
// trusted: anyone could send it to dodge the sign-in rate limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
