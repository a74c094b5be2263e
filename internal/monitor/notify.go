package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event kinds an Update reports.
const (
	Fired    = "fired"    // the alert started
	Repeated = "repeated" // still active after the repeat interval
	Resolved = "resolved" // the condition cleared
)

// Event is one notification an Update made.
type Event struct {
	Kind  string `json:"kind"`
	Alert Active `json:"alert"`
	// Delivered is true when the webhook accepted it (false without a
	// webhook: the log line is the notification).
	Delivered bool `json:"delivered"`
}

// Notifier turns successive checks into notifications. Use one per
// process; it is safe for concurrent use.
type Notifier struct {
	// WebhookURL is a Slack-compatible incoming webhook; "" logs only. It
	// is a secret: never logged, never in an error.
	WebhookURL string
	// Host names the server in messages.
	Host string
	// Repeat is how often an alert that stays active is repeated;
	// 0 means 24h.
	Repeat time.Duration
	// Client posts to the webhook; nil means a client with a 10 s timeout.
	Client *http.Client
	// Attempts per notification (0 means 3) and the wait before the
	// second (0 means 1 s), doubled each time.
	Attempts int
	Backoff  time.Duration
	Logger   *slog.Logger
	// Store keeps the state; nil means memory.
	Store Store

	mu sync.Mutex
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Logger
}

// Update compares the alerts of a check at now with what was active
// before, notifies what changed (and repeats what is due), saves the
// state and returns the notifications made. Webhook failures are logged,
// not returned: a failed notification is tried again at the next Update.
// The error is the state store's.
func (n *Notifier) Update(ctx context.Context, now time.Time, alerts []Alert) ([]Event, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.Store == nil {
		n.Store = &MemoryStore{}
	}
	st, err := n.Store.Load()
	if err != nil {
		// A damaged state file costs at most a repeated notification.
		n.logger().Warn("monitor state unreadable; starting afresh", "err", err)
		st = State{}
	}
	if st.Alerts == nil {
		st.Alerts = map[string]Active{}
	}
	repeat := n.Repeat
	if repeat <= 0 {
		repeat = 24 * time.Hour
	}

	var events []Event
	current := map[string]bool{}
	for _, a := range alerts {
		current[a.Key] = true
		act, known := st.Alerts[a.Key]
		kind := ""
		switch {
		case !known:
			act = Active{Key: a.Key, Since: now}
			kind = Fired
			n.logger().ErrorContext(ctx, "backup alert", "alert", a.Key, "summary", a.Summary)
		case act.NotifiedAt.IsZero():
			kind = Fired // not delivered yet: try again
		case now.Sub(act.NotifiedAt) >= repeat:
			kind = Repeated
			n.logger().ErrorContext(ctx, "backup alert still active", "alert", a.Key, "since", act.Since, "summary", a.Summary)
		}
		act.Summary = a.Summary
		if kind != "" {
			ev := Event{Kind: kind, Alert: act}
			ev.Delivered = n.deliver(ctx, n.message(kind, act, now))
			if ev.Delivered || n.WebhookURL == "" {
				act.NotifiedAt = now
				act.Notifications++
			}
			ev.Alert = act
			events = append(events, ev)
		}
		st.Alerts[a.Key] = act
	}
	var gone []string
	for key := range st.Alerts {
		if !current[key] {
			gone = append(gone, key)
		}
	}
	sort.Strings(gone)
	for _, key := range gone {
		act := st.Alerts[key]
		delete(st.Alerts, key)
		n.logger().InfoContext(ctx, "backup alert resolved", "alert", key, "since", act.Since, "active_for", now.Sub(act.Since).Round(time.Second))
		ev := Event{Kind: Resolved, Alert: act}
		// Nobody heard of an alert the webhook never accepted.
		if !act.NotifiedAt.IsZero() {
			ev.Delivered = n.deliver(ctx, n.message(Resolved, act, now))
		}
		events = append(events, ev)
	}
	if err := n.Store.Save(st); err != nil {
		return events, err
	}
	return events, nil
}

// Active returns the alerts the notifier knows to be active, by key.
func (n *Notifier) Active() ([]Active, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.Store == nil {
		return nil, nil
	}
	st, err := n.Store.Load()
	if err != nil {
		return nil, err
	}
	out := make([]Active, 0, len(st.Alerts))
	for _, a := range st.Alerts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (n *Notifier) message(kind string, a Active, now time.Time) string {
	host := n.Host
	if host == "" {
		host = "campfire"
	}
	switch kind {
	case Repeated:
		return fmt.Sprintf(":rotating_light: Campfire backup alert on %s, still active since %s: %s (%s)",
			host, a.Since.UTC().Format(time.RFC3339), a.Summary, a.Key)
	case Resolved:
		return fmt.Sprintf(":white_check_mark: Campfire backup alert resolved on %s after %s: %s (was: %s)",
			host, now.Sub(a.Since).Round(time.Second), a.Key, a.Summary)
	default:
		return fmt.Sprintf(":rotating_light: Campfire backup alert on %s: %s (%s)", host, a.Summary, a.Key)
	}
}

// deliver posts text to the webhook, retrying server errors and network
// failures with backoff; false (and a log line) when it gives up.
func (n *Notifier) deliver(ctx context.Context, text string) bool {
	if n.WebhookURL == "" {
		return false
	}
	body, _ := json.Marshal(map[string]string{"text": text})
	attempts, wait := n.Attempts, n.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = time.Second
	}
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(wait):
				wait *= 2
			}
			if ctx.Err() != nil {
				break
			}
		}
		var retry bool
		retry, err = n.post(ctx, client, body)
		if err == nil {
			return true
		}
		if !retry {
			break
		}
	}
	n.logger().ErrorContext(ctx, "alert webhook failed; the alert is only in this log", "attempts", attempts, "err", n.redact(err))
	return false
}

// post makes one attempt; retry says whether another might succeed.
func (n *Notifier) post(ctx context.Context, client *http.Client, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("webhook answered %s", resp.Status)
}

// redact returns err's text without the webhook URL, whose path is the
// key: net/http quotes the URL in its errors.
func (n *Notifier) redact(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if n.WebhookURL != "" {
		s = strings.ReplaceAll(s, n.WebhookURL, "[webhook]")
		if u, perr := url.Parse(n.WebhookURL); perr == nil && u.Path != "" && u.Path != "/" {
			s = strings.ReplaceAll(s, u.Path, "/[redacted]")
		}
	}
	return s
}
