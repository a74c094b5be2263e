package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestErrorResponses checks the shape of errors: JSON bodies with the
// matching status, and X-Version on everything (checked by call).
func TestErrorResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	anon := e.anon()

	// Unknown API paths are JSON 404s, whatever the method.
	for _, method := range []string{"GET", "POST", "PUT", "DELETE"} {
		r := anon.call(http.StatusNotFound, method, "/api/no/such/thing", nil, nil)
		if msg := r.errorMessage(t); !strings.Contains(msg, "No such API endpoint") {
			t.Errorf("%s: message %q", r, msg)
		}
	}
	anon.call(http.StatusNotFound, "PUT", "/api/rooms", nil, nil) // known path, unknown method

	// Outside the API the mux answers, still with X-Version.
	anon.call(http.StatusNotFound, "GET", "/no-such-page", nil, nil)
	anon.call(http.StatusMethodNotAllowed, "DELETE", "/health", nil, nil)

	// Authentication comes before anything else.
	anon.call(http.StatusUnauthorized, "GET", "/api/rooms", nil, nil)
	anon.call(http.StatusUnauthorized, "GET", "/api/rooms", nil, nil, "Authorization", "Bearer not-a-token")
	anon.call(http.StatusUnauthorized, "GET", "/api/rooms", nil, nil, "Authorization", "Basic YWRtaW46YWRtaW4=")
	anon.call(http.StatusUnauthorized, "DELETE", "/api/session", nil, nil)

	valid := `{"name":"Admin","email":"admin@example.com","password":"admin password 1"}`
	bad := []struct {
		name, body, contentType, message string
	}{
		{"malformed JSON", `{"name":`, "application/json", "not valid JSON"},
		{"not an object", `[1,2]`, "application/json", "not valid JSON"},
		{"unknown field", `{"name":"Admin","email":"admin@example.com","password":"admin password 1","role":"administrator"}`, "application/json", "unknown field"},
		{"two objects", valid + valid, "application/json", "single JSON object"},
		{"trailing garbage", valid + "x", "application/json", ""},
		{"empty body", ``, "application/json", "empty"},
		{"text content type", valid, "text/plain", "application/json"},
		{"form content type", "name=Admin", "application/x-www-form-urlencoded", "application/json"},
		{"bad content type", valid, "application/", "application/json"},
		{"wrong field type", `{"name":1,"email":"admin@example.com","password":"admin password 1"}`, "application/json", "not valid JSON"},
	}
	for _, tt := range bad {
		r := anon.call(http.StatusBadRequest, "POST", "/api/first_run", tt.body, nil, "Content-Type", tt.contentType)
		if msg := r.errorMessage(t); !strings.Contains(msg, tt.message) {
			t.Errorf("%s: %s: message %q does not contain %q", tt.name, r, msg, tt.message)
		}
	}
	// A body over 1 MiB is refused.
	big := `{"name":"` + strings.Repeat("a", 1<<20) + `","email":"admin@example.com","password":"admin password 1"}`
	r := anon.call(http.StatusBadRequest, "POST", "/api/first_run", big, nil)
	if msg := r.errorMessage(t); !strings.Contains(msg, "larger than") {
		t.Errorf("%s: message %q", r, msg)
	}

	// None of the refused requests set anything up; a charset parameter
	// is fine.
	anon.call(http.StatusCreated, "POST", "/api/first_run", valid, nil, "Content-Type", "application/json; charset=utf-8")

	// Bad path ids are 404s, bad query numbers 400s.
	admin := e.anon().signInAs(adminEmail, adminPassword)
	admin.call(http.StatusNotFound, "GET", "/api/rooms/abc", nil, nil)
	admin.call(http.StatusNotFound, "GET", "/api/rooms/0", nil, nil)
	admin.call(http.StatusNotFound, "GET", "/api/rooms/-1", nil, nil)
	admin.call(http.StatusNotFound, "GET", "/api/rooms/99999999999999999999", nil, nil)
	room := admin.roomNamed("All Talk")
	for _, q := range []string{"?limit=-1", "?before=abc", "?after=1.5", "?before=1&after=2"} {
		admin.call(http.StatusBadRequest, "GET", "/api/rooms/"+itoa(room.ID)+"/messages"+q, nil, nil)
	}

	// Successful JSON responses are JSON and never cached.
	r = admin.call(http.StatusOK, "GET", "/api/me", nil, nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", r, ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", r, cc)
	}
}
