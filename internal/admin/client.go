package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
)

// Client talks to a running server over its admin socket.
type Client struct {
	path string
	hc   *http.Client
	// Status is what the server said about itself when Dial connected.
	Status Status
	// Notice, when set, receives the server's notices during an operation.
	Notice func(string)
}

// Dial connects to the admin socket at path and asks the server who it is.
// An error means no server answers there (no socket, a stale one, or
// something else listening).
func Dial(ctx context.Context, path string) (*Client, error) {
	c := &Client{path: path}
	c.hc = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://campfire/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin socket %s answered %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&c.Status); err != nil || c.Status.PID == 0 {
		return nil, fmt.Errorf("admin socket %s: not a campfire server (%v)", path, err)
	}
	return c, nil
}

// Backup asks the server for a backup. With a failed verification both
// the result and the error are returned.
func (c *Client) Backup(ctx context.Context, req BackupRequest, progress ProgressFunc) (*backup.Result, error) {
	var res *backup.Result
	err := c.call(ctx, "/v1/backup", req, &res, progress)
	return res, err
}

// Verify asks the server to verify an artifact.
func (c *Client) Verify(ctx context.Context, req VerifyRequest, progress ProgressFunc) (*backup.Report, error) {
	var rep *backup.Report
	err := c.call(ctx, "/v1/verify", req, &rep, progress)
	return rep, err
}

// Drill asks the server for a restore drill.
func (c *Client) Drill(ctx context.Context, req DrillRequest) (*backup.DrillReport, error) {
	var rep *backup.DrillReport
	err := c.call(ctx, "/v1/drill", req, &rep, nil)
	return rep, err
}

// Prune asks the server to apply the retention policy.
func (c *Client) Prune(ctx context.Context, req PruneRequest) (*backup.PrunePlan, error) {
	var plan *backup.PrunePlan
	err := c.call(ctx, "/v1/prune", req, &plan, nil)
	return plan, err
}

// Restore asks the server to restore a backup over its database (or, with
// DryRun, to report what it would do).
func (c *Client) Restore(ctx context.Context, req RestoreRequest, progress ProgressFunc) (*RestoreOutcome, error) {
	var out *RestoreOutcome
	err := c.call(ctx, "/v1/restore", req, &out, progress)
	return out, err
}

// call posts req and reads the streamed answer into out.
func (c *Client) call(ctx context.Context, path string, req, out any, progress ProgressFunc) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://campfire"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return fmt.Errorf("campfire serve (pid %d) did not answer on %s: %w", c.Status.PID, c.path, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l rawLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("campfire serve (pid %d) sent an unreadable answer: %w", c.Status.PID, err)
		}
		switch {
		case l.Progress != nil:
			if progress != nil {
				progress(*l.Progress)
			}
			continue
		case l.Notice != "":
			if c.Notice != nil {
				c.Notice(l.Notice)
			}
			continue
		}
		if len(l.Result) > 0 {
			if err := json.Unmarshal(l.Result, out); err != nil {
				return fmt.Errorf("campfire serve (pid %d) sent an unreadable result: %w", c.Status.PID, err)
			}
		}
		if l.Error != nil {
			return &RemoteError{Code: l.Error.Code, Message: l.Error.Message}
		}
		return nil
	}
	err = sc.Err()
	if err == nil {
		err = errors.New("the connection closed")
	}
	return fmt.Errorf("campfire serve (pid %d) stopped answering before the operation finished (%v); see its log", c.Status.PID, err)
}

// RemoteError is an operation's failure as the server reported it. Its
// message is for people; chat.ErrorCode finds its code.
type RemoteError struct {
	Code    string
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap makes chat.ErrorCode see the code.
func (e *RemoteError) Unwrap() error { return &chat.Error{Code: e.Code, Message: e.Message} }
