package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/campfire-in-go/campfire/tools/chattext"
)

// ack is one acknowledged message: its id and when the 201 arrived.
type ack struct {
	ID int64
	At time.Time
}

// load posts messages to one server until stopped. With a rate it is open
// loop: request i is due at start + i/rate whatever the answers do, and a
// due request that finds every client busy and the queue full is counted
// as missed. Without a rate each client posts as fast as it is answered.
type load struct {
	s     *server
	rate  float64
	conc  int
	start time.Time

	lastAck atomic.Int64 // unix ns of the newest acknowledgement

	mu      sync.Mutex
	acks    []ack
	lats    []reqLat
	errs    []time.Time
	firstEr string
	missed  []time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// reqLat is one answered request: when it was due, sent and answered.
type reqLat struct{ due, sent, done time.Time }

type job struct{ due time.Time }

func startLoad(s *server, rate float64, conc int, seed uint64) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{s: s, rate: rate, conc: conc, start: time.Now(), cancel: cancel}
	jobs := make(chan job, conc*4)
	path := s.base + "/api/rooms/" + strconv.FormatInt(s.roomID, 10) + "/messages"
	names := []string{"Admin", "Poster 1", "Poster 2", "Poster 3"}
	for w := range conc {
		token := s.tokens[w%len(s.tokens)]
		gen := chattext.New(seed+uint64(w), names, 10, 21)
		l.wg.Go(func() {
			for n := 0; ; n++ {
				var due time.Time
				if rate > 0 {
					select {
					case <-ctx.Done():
						return
					case j := <-jobs:
						due = j.due
					}
				} else if ctx.Err() != nil {
					return
				}
				body, _ := json.Marshal(map[string]string{"body": gen.Next(), "client_id": fmt.Sprintf("rb-%d-%d", w, n)})
				sent := time.Now()
				if due.IsZero() {
					due = sent
				}
				id, err := postOnce(ctx, s.client, path, token, body)
				done := time.Now()
				if ctx.Err() != nil {
					return
				}
				l.record(id, err, due, sent, done)
			}
		})
	}
	if rate > 0 {
		l.wg.Go(func() {
			every := time.Duration(float64(time.Second) / rate)
			for i := 0; ; i++ {
				due := l.start.Add(time.Duration(i) * every)
				if d := time.Until(due); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				} else if ctx.Err() != nil {
					return
				}
				select {
				case jobs <- job{due: due}:
				default:
					l.mu.Lock()
					l.missed = append(l.missed, due)
					l.mu.Unlock()
				}
			}
		})
	}
	return l
}

func (l *load) record(id int64, err error, due, sent, done time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs = append(l.errs, done)
		if l.firstEr == "" {
			l.firstEr = err.Error()
		}
		return
	}
	l.acks = append(l.acks, ack{ID: id, At: done})
	l.lats = append(l.lats, reqLat{due: due, sent: sent, done: done})
	if ns := done.UnixNano(); ns > l.lastAck.Load() {
		l.lastAck.Store(ns)
	}
}

// stop ends the load and waits for the clients. Requests in flight fail;
// call it after the server was killed and read the figures up to then.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// loadStats are the figures of the requests sent in [from, to).
type loadStats struct {
	Asked    float64 `json:"asked_per_sec"`
	Acked    int     `json:"acked"`
	Errors   int     `json:"errors"`
	Missed   int     `json:"missed"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_sec"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	DueP99ms float64 `json:"due_p99_ms"` // from when the request was due (open loop)
	FirstErr string  `json:"first_error,omitempty"`
}

func (l *load) stats(from, to time.Time) loadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := loadStats{Asked: l.rate, Seconds: to.Sub(from).Seconds(), FirstErr: l.firstEr}
	var lat, due []time.Duration
	for _, r := range l.lats {
		if r.sent.Before(from) || !r.done.Before(to) {
			continue
		}
		st.Acked++
		lat = append(lat, r.done.Sub(r.sent))
		due = append(due, r.done.Sub(r.due))
	}
	for _, e := range l.errs {
		if !e.Before(from) && e.Before(to) {
			st.Errors++
		}
	}
	for _, m := range l.missed {
		if !m.Before(from) && m.Before(to) {
			st.Missed++
		}
	}
	st.PerSec = ratio(float64(st.Acked), st.Seconds)
	st.P50ms, st.P99ms, st.DueP99ms = ms(percentile(lat, 50)), ms(percentile(lat, 99)), ms(percentile(due, 99))
	return st
}

// acked returns a copy of the acknowledgements.
func (l *load) acked() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...)
}

// postOnce sends one message and returns its id; anything but 201 is an
// error.
func postOnce(ctx context.Context, c *http.Client, target, token string, body []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var m struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID == 0 {
		return 0, fmt.Errorf("201 without a message id: %s", b)
	}
	return m.ID, nil
}
