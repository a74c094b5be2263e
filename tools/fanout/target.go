package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// target is a server under test: how to connect a receiving client, how to
// post a message, and how to find the posted body in a received frame.
type target interface {
	base() string
	// dial opens a WebSocket that will receive posted messages.
	dial(ctx context.Context, subscribe bool) (*websocket.Conn, error)
	// post publishes body; clientID is an idempotency key.
	post(ctx context.Context, body, clientID string) error
	// body returns the posted text carried by frame, if it carries one,
	// usually as a slice of frame.
	body(frame []byte) ([]byte, bool)
}

func newTarget(kind, baseURL, token string, room int64) target {
	baseURL = strings.TrimRight(baseURL, "/")
	client := newHTTPClient()
	if kind == "campfire" {
		return &campfireTarget{url: baseURL, token: token, room: room, client: client}
	}
	return &baselineTarget{url: baseURL, client: client}
}

// newHTTPClient returns a keep-alive client that never uses a proxy, so
// traffic goes straight to loopback whatever the environment says.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// wsURL turns the base http:// URL into the ws:// URL of /ws.
func wsURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws"
}

// dialWS opens /ws and reports an HTTP refusal with its status, which is
// the usual failure (404 before the endpoint exists, 401 for a bad token).
func dialWS(ctx context.Context, client *http.Client, base string, header http.Header) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, wsURL(base), &websocket.DialOptions{HTTPClient: client, HTTPHeader: header})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %s: %w", wsURL(base), resp.Status, err)
		}
		return nil, fmt.Errorf("dial %s: %w", wsURL(base), err)
	}
	c.SetReadLimit(1 << 20)
	return c, nil
}

// baselineTarget is tools/wsbaseline.
type baselineTarget struct {
	url    string
	client *http.Client
}

func (t *baselineTarget) base() string { return t.url }

func (t *baselineTarget) dial(ctx context.Context, _ bool) (*websocket.Conn, error) {
	return dialWS(ctx, t.client, t.url, nil)
}

func (t *baselineTarget) post(ctx context.Context, body, _ string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", t.url+"/post", strings.NewReader(body))
	if err != nil {
		return err
	}
	return do(t.client, req, http.StatusNoContent)
}

func (t *baselineTarget) body(frame []byte) ([]byte, bool) { return frame, true }

// campfireTarget is the real server: a room, a member's token, JSON frames.
type campfireTarget struct {
	url    string
	token  string
	room   int64
	client *http.Client
}

func (t *campfireTarget) base() string { return t.url }

// dial connects with the token and, when asked, subscribes to the room and
// waits for the confirmation, so no later message can be missed.
func (t *campfireTarget) dial(ctx context.Context, subscribe bool) (*websocket.Conn, error) {
	c, err := dialWS(ctx, t.client, t.url, http.Header{"Authorization": {"Bearer " + t.token}})
	if err != nil || !subscribe {
		return c, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sub, _ := json.Marshal(map[string]any{"type": "subscribe", "room_id": t.room})
	if err := c.Write(ctx, websocket.MessageText, sub); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("subscribe: waiting for subscribed: %w", err)
		}
		var f struct {
			Type    string `json:"type"`
			RoomID  int64  `json:"room_id"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch {
		case f.Type == "subscribed" && f.RoomID == t.room:
			return c, nil
		case f.Type == "error":
			c.CloseNow()
			return nil, fmt.Errorf("subscribe to room %d: %s: %s", t.room, f.Code, f.Message)
		}
	}
}

func (t *campfireTarget) post(ctx context.Context, body, clientID string) error {
	b, _ := json.Marshal(map[string]string{"body": body, "client_id": clientID})
	req, err := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/api/rooms/%d/messages", t.url, t.room), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.token)
	return do(t.client, req, http.StatusCreated)
}

// body finds message.body in a message_created frame. Every client parses
// every frame, and in -self mode that CPU is taken from the server under
// test, so the common case skips the JSON decoder: the tool's own bodies
// contain no quote or backslash, so the field ends at the next quote.
func (t *campfireTarget) body(frame []byte) ([]byte, bool) {
	if !bytes.Contains(frame, []byte(`"type":"message_created"`)) {
		return nil, false
	}
	if _, rest, ok := bytes.Cut(frame, []byte(`"body":"`)); ok {
		if v, _, ok := bytes.Cut(rest, []byte(`"`)); ok && bytes.IndexByte(v, '\\') < 0 {
			return v, true
		}
	}
	var f struct {
		Message struct {
			Body string `json:"body"`
		} `json:"message"`
	}
	if json.Unmarshal(frame, &f) != nil {
		return nil, false
	}
	return []byte(f.Message.Body), true
}

// do sends req and wants status; the body is drained so the connection is
// reused.
func do(client *http.Client, req *http.Request, want int) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
