package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// handlerFunc is an HTTP handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	chat.ECONFLICT:     http.StatusConflict,
	chat.EFORBIDDEN:    http.StatusForbidden,
	chat.EINTERNAL:     http.StatusInternalServerError,
	chat.EINVALID:      http.StatusBadRequest,
	chat.ENOTFOUND:     http.StatusNotFound,
	chat.ERATELIMITED:  http.StatusTooManyRequests,
	chat.EUNAUTHORIZED: http.StatusUnauthorized,
	chat.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// serve adapts fn to http.Handler, rendering its error once.
func (s *Server) serve(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError logs internal errors (once, here) and writes the JSON error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := chat.ErrorCode(err)
	if r.Context().Err() != nil && code == chat.EINTERNAL {
		return // the client went away; nobody reads this response
	}
	if code == chat.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, errorBodyOf(code, chat.ErrorMessage(err)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// maxBodyBytes bounds every JSON request body.
const maxBodyBytes = 1 << 20

// decodeJSON reads a JSON request body into v, refusing unknown fields so a
// typo is an error rather than a silent no-op.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return chat.Errorf(chat.EINVALID, "Send the request body as application/json.")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return chat.Errorf(chat.EINVALID, "Request body is larger than %d bytes.", maxBodyBytes)
		case errors.Is(err, io.EOF):
			return chat.Errorf(chat.EINVALID, "Request body is empty; send a JSON object.")
		default:
			return chat.Errorf(chat.EINVALID, "Request body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return chat.Errorf(chat.EINVALID, "Request body must be a single JSON object.")
	}
	return nil
}

// pathID parses a numeric path wildcard.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, chat.Errorf(chat.ENOTFOUND, "Not found.")
	}
	return id, nil
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, chat.Errorf(chat.EINVALID, "%s must be a non-negative integer.", name)
	}
	return n, nil
}
