// Package baseline is the least possible WebSocket broadcast server, the
// yardstick for Campfire's live fan-out: no auth, no database, no JSON.
// POST /post sends its raw body to every client connected to GET /ws. Each
// client has a buffer of 256 frames and is disconnected when it is full,
// the same policy as internal/live.
package baseline

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// client is one connected WebSocket; done is closed when it is dropped.
type client struct {
	frames chan []byte
	done   chan struct{}
}

// Server broadcasts posted bodies to connected clients.
type Server struct {
	mu      sync.Mutex
	clients map[*client]struct{}
}

// Handler returns a new server's routes.
func Handler() http.Handler {
	s := &Server{clients: make(map[*client]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("POST /post", s.handlePost)
	return mux
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	cl := &client{frames: make(chan []byte, 256), done: make(chan struct{})}
	s.mu.Lock()
	s.clients[cl] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.clients, cl)
		s.mu.Unlock()
	}()
	ctx := c.CloseRead(r.Context()) // answers pings and notices the client leaving
	for {
		select {
		case f := <-cl.frames:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Write(wctx, websocket.MessageText, f)
			cancel()
			if err != nil {
				return
			}
		case <-cl.done:
			c.Close(websocket.StatusPolicyViolation, "too slow")
			return
		case <-ctx.Done():
			return
		}
	}
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for cl := range s.clients {
		select {
		case cl.frames <- body:
		default: // full: drop it, never wait
			delete(s.clients, cl)
			close(cl.done)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
