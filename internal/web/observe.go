package web

import (
	"net/http"
	"time"
)

// observe stamps every response with X-Version, then records metrics and
// logs one line per request. It logs the route pattern, never the raw path
// or query (join codes and search terms live there).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Version", s.Version)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Logger.ErrorContext(r.Context(), "handler panicked", "route", r.Pattern, "panic", p)
				if !sw.wrote {
					writeJSON(sw, http.StatusInternalServerError, errorBodyOf("internal", "Internal error."))
				}
			}
			route := r.Pattern // set by the mux on this same request
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(route, r.Method, sw.status, d)
			s.Logger.InfoContext(r.Context(), "request", "method", r.Method, "route", route,
				"status", sw.status, "duration_ms", float64(d.Microseconds())/1000, "bytes", sw.bytes)
		}()
		next.ServeHTTP(sw, r)
	})
}

func errorBodyOf(code, message string) errorBody {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	return b
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
