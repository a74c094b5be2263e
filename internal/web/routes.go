package web

import "net/http"

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
}
