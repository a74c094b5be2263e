package web

import (
	"net/http"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// routes registers every endpoint. Patterns double as metric labels.
func (s *Server) routes(mux *http.ServeMux) {
	// Operations.
	mux.Handle("GET /health", s.serve(s.handleHealth))
	mux.Handle("GET /health/live", s.serve(s.handleLive))
	mux.Handle("GET /health/ready", s.serve(s.handleReady))
	mux.Handle("GET /health/detailed", s.serve(s.handleHealthDetailed))
	mux.Handle("GET /metrics", s.metrics.handler())

	// Setup and sessions.
	mux.Handle("POST /api/first_run", s.serve(s.handleFirstRun))
	mux.Handle("POST /api/session", s.serve(s.handleSessionCreate))
	mux.Handle("DELETE /api/session", s.serve(s.authenticated(s.handleSessionDelete)))
	mux.Handle("GET /api/join/{code}", s.serve(s.handleJoinShow))
	mux.Handle("POST /api/join/{code}", s.serve(s.handleJoinCreate))

	// Account and users.
	mux.Handle("GET /api/account", s.serve(s.authenticated(s.handleAccountShow)))
	mux.Handle("PATCH /api/account", s.serve(s.authenticated(s.handleAccountUpdate)))
	mux.Handle("POST /api/account/join_code", s.serve(s.authenticated(s.handleJoinCodeRegenerate)))
	mux.Handle("GET /api/me", s.serve(s.authenticated(s.handleMeShow)))
	mux.Handle("PATCH /api/me", s.serve(s.authenticated(s.handleMeUpdate)))
	mux.Handle("GET /api/users", s.serve(s.authenticated(s.handleUserIndex)))
	mux.Handle("GET /api/users/{id}", s.serve(s.authenticated(s.handleUserShow)))
	mux.Handle("PATCH /api/users/{id}", s.serve(s.authenticated(s.handleUserUpdate)))
	mux.Handle("DELETE /api/users/{id}", s.serve(s.authenticated(s.handleUserDeactivate)))

	// Rooms.
	mux.Handle("GET /api/rooms", s.serve(s.authenticated(s.handleRoomIndex)))
	mux.Handle("POST /api/rooms", s.serve(s.authenticated(s.handleRoomCreate)))
	mux.Handle("POST /api/rooms/direct", s.serve(s.authenticated(s.handleDirectRoomCreate)))
	mux.Handle("GET /api/rooms/{id}", s.serve(s.authenticated(s.handleRoomShow)))
	mux.Handle("PATCH /api/rooms/{id}", s.serve(s.authenticated(s.handleRoomUpdate)))
	mux.Handle("DELETE /api/rooms/{id}", s.serve(s.authenticated(s.handleRoomDelete)))
	mux.Handle("GET /api/rooms/{id}/members", s.serve(s.authenticated(s.handleRoomMembers)))
	mux.Handle("PUT /api/rooms/{id}/involvement", s.serve(s.authenticated(s.handleInvolvementUpdate)))
	mux.Handle("POST /api/rooms/{id}/read", s.serve(s.authenticated(s.handleRoomRead)))

	// Messages and boosts.
	mux.Handle("GET /api/rooms/{id}/messages", s.serve(s.authenticated(s.handleMessageIndex)))
	mux.Handle("POST /api/rooms/{id}/messages", s.serve(s.authenticated(s.handleMessageCreate)))
	mux.Handle("GET /api/messages/{id}", s.serve(s.authenticated(s.handleMessageShow)))
	mux.Handle("PATCH /api/messages/{id}", s.serve(s.authenticated(s.handleMessageUpdate)))
	mux.Handle("DELETE /api/messages/{id}", s.serve(s.authenticated(s.handleMessageDelete)))
	mux.Handle("POST /api/messages/{id}/boosts", s.serve(s.authenticated(s.handleBoostCreate)))
	mux.Handle("DELETE /api/boosts/{id}", s.serve(s.authenticated(s.handleBoostDelete)))

	// Search.
	mux.Handle("GET /api/search", s.serve(s.authenticated(s.handleSearch)))
	mux.Handle("GET /api/searches", s.serve(s.authenticated(s.handleRecentSearches)))
	mux.Handle("DELETE /api/searches", s.serve(s.authenticated(s.handleSearchesClear)))

	mux.Handle("/api/", s.serve(func(w http.ResponseWriter, r *http.Request) error { return errNoRoute }))

	// Live updates.
	mux.Handle("GET /ws", s.serve(s.handleSocket))

	// Pages: HTML for people, signed in with the session cookie.
	mux.HandleFunc("GET /static/{file}", s.handleStatic)
	mux.Handle("GET /first_run", s.page(s.handleFirstRunPage))
	mux.Handle("POST /first_run", s.page(s.handleFirstRunForm))
	mux.Handle("GET /session/new", s.page(s.handleSignInPage))
	mux.Handle("POST /session", s.page(s.handleSignInForm))
	mux.Handle("POST /session/delete", s.page(s.authenticated(s.handleSignOutForm)))
	mux.Handle("GET /join/{code}", s.page(s.handleJoinPage))
	mux.Handle("POST /join/{code}", s.page(s.handleJoinForm))

	mux.Handle("GET /{$}", s.page(s.authenticated(s.handleHome)))
	mux.Handle("GET /sidebar", s.page(s.authenticated(s.handleSidebarFragment)))
	mux.Handle("GET /rooms/new", s.page(s.authenticated(s.handleRoomNewPage)))
	mux.Handle("POST /rooms", s.page(s.authenticated(s.handleRoomCreateForm)))
	mux.Handle("GET /rooms/direct/new", s.page(s.authenticated(s.handleDirectNewPage)))
	mux.Handle("POST /rooms/direct", s.page(s.authenticated(s.handleDirectCreateForm)))
	mux.Handle("GET /rooms/{id}", s.page(s.authenticated(s.handleRoomPage)))
	mux.Handle("GET /rooms/{id}/{sub}", s.page(s.authenticated(s.handleRoomSubpage))) // /rooms/{id}/@{message_id}
	mux.Handle("POST /rooms/{id}/messages", s.page(s.authenticated(s.handleMessageForm)))
	mux.Handle("GET /rooms/{id}/settings", s.page(s.authenticated(s.handleRoomSettingsPage)))
	mux.Handle("POST /rooms/{id}/settings", s.page(s.authenticated(s.handleRoomSettingsForm)))
	mux.Handle("GET /search", s.page(s.authenticated(s.handleSearchPage)))
	mux.Handle("POST /search/clear", s.page(s.authenticated(s.handleSearchClearForm)))
	mux.Handle("GET /users/{id}", s.page(s.authenticated(s.handleUserPage)))
	mux.Handle("GET /profile", s.page(s.authenticated(s.handleProfilePage)))
	mux.Handle("POST /profile", s.page(s.authenticated(s.handleProfileForm)))
	mux.Handle("GET /account", s.page(s.authenticated(s.handleAccountPage)))
	mux.Handle("POST /account", s.page(s.authenticated(s.handleAccountForm)))
	mux.Handle("POST /account/join_code", s.page(s.authenticated(s.handleJoinCodeForm)))
	mux.Handle("POST /account/users/{id}/role", s.page(s.authenticated(s.handleUserRoleForm)))
	mux.Handle("POST /account/users/{id}/deactivate", s.page(s.authenticated(s.handleUserDeactivateForm)))
	mux.Handle("GET /account/backups", s.page(s.authenticated(s.handleBackupsPage)))
	mux.Handle("POST /account/backups", s.page(s.authenticated(s.handleBackupNowForm)))
}

// pageNotFound answers GET requests that no route matches with an HTML
// 404 page; everything else (the API, wrong methods: 405) is the mux's.
// A catch-all "GET /" pattern would conflict with "/api/".
func (s *Server) pageNotFound(mux *http.ServeMux) http.Handler {
	notFound := s.page(func(w http.ResponseWriter, r *http.Request) error {
		return chat.Errorf(chat.ENOTFOUND, "Page not found.")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isAPI(r) {
			if _, pattern := mux.Handler(r); pattern == "" {
				notFound.ServeHTTP(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}
