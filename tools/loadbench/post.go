package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite"

	"github.com/campfire-in-go/campfire/tools/chattext"
)

// postResult is one measurement of posting throughput.
type postResult struct {
	Messages int           `json:"messages"`
	Seconds  float64       `json:"seconds"`
	PerSec   float64       `json:"per_sec"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	Errors   int           `json:"errors"`
	// FirstError describes the first failed request, if any.
	FirstError string `json:"first_error,omitempty"`
}

// window is a measurement window after a warm-up: requests that start in
// [from, to) count.
type window struct{ from, to time.Time }

func newWindow(warmup, d time.Duration) window {
	from := time.Now().Add(warmup)
	return window{from: from, to: from.Add(d)}
}

// postAPI has conc members post to the open room at once, each as fast as
// the server answers, and measures the requests that start in the window.
// Each poster is a different user; every message has a unique client_id.
func postAPI(ctx context.Context, e *env, conc int, warmup, d time.Duration, seed uint64) postResult {
	w := newWindow(warmup, d)
	path := e.base + "/api/rooms/" + strconv.FormatInt(e.roomID, 10) + "/messages"
	names := e.memberNames()

	var (
		mu       sync.Mutex
		lats     []time.Duration
		errs     int
		firstErr string
		last     time.Time
		wg       sync.WaitGroup
	)
	for i := range conc {
		m := e.members[1+i%(len(e.members)-1)]
		gen := chattext.New(seed+uint64(i), names, 10, 21)
		wg.Go(func() {
			var mine []time.Duration
			var myErrs int
			var myErr string
			var myLast time.Time
			for n := 0; ctx.Err() == nil; n++ {
				body, _ := json.Marshal(map[string]string{
					"body":      gen.Next(),
					"client_id": fmt.Sprintf("load-%d-%d", m.ID, n),
				})
				start := time.Now()
				if !start.Before(w.to) {
					break
				}
				err := postOnce(ctx, e.client, path, m.Token, body)
				end := time.Now()
				if start.Before(w.from) {
					continue // warm-up
				}
				mine = append(mine, end.Sub(start))
				myLast = end
				if err != nil {
					myErrs++
					if myErr == "" {
						myErr = err.Error()
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, mine...)
			errs += myErrs
			if firstErr == "" {
				firstErr = myErr
			}
			if myLast.After(last) {
				last = myLast
			}
		})
	}
	wg.Wait()
	secs := last.Sub(w.from).Seconds()
	return postResult{
		Messages: len(lats) - errs, Seconds: secs, PerSec: ratio(float64(len(lats)-errs), secs),
		P50: percentile(lats, 50), P99: percentile(lats, 99), Errors: errs, FirstError: firstErr,
	}
}

// postOnce sends one message; anything but 201 Created is an error.
func postOnce(ctx context.Context, c *http.Client, target, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // read to the end so the connection is reused
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// sqliteDSN mirrors the PRAGMAs of internal/sqldb: WAL, synchronous=FULL
// (an fsync per commit), foreign keys, a busy timeout. SQLite's own
// autocheckpoint stays at its default 1000 pages, the threshold at which
// the server's checkpoint loop copies the WAL back.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Set("_txlock", "deferred")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// openRaw opens a one-connection pool on a SQLite file.
func openRaw(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path, readOnly))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// baselineSchema is the messages table of the migration, with its indexes,
// FTS5 porter index and insert trigger, but no foreign keys to other tables.
const baselineSchema = `
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, room_id INTEGER NOT NULL, creator_id INTEGER NOT NULL,
    client_id TEXT NOT NULL, body TEXT NOT NULL, html TEXT NOT NULL, plain TEXT NOT NULL,
    sound TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX messages_room_id_id ON messages (room_id, id);
CREATE INDEX messages_room_id_created_at ON messages (room_id, created_at);
CREATE UNIQUE INDEX messages_creator_id_client_id ON messages (creator_id, client_id);
CREATE VIRTUAL TABLE message_search_index USING fts5 (
    plain, content = 'messages', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search_index (rowid, plain) VALUES (new.id, new.plain);
END;`

// insertMessage is the row both the baseline and the seeding write.
const insertMessage = `INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, sound, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)`

// timeLayout is the stored time format of internal/sqldb.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// htmlOf is a stand-in rendering: the escaped body in a paragraph.
func htmlOf(body string) string { return "<p>" + html.EscapeString(body) + "</p>" }

// postBaseline measures the same durability without our stack: a single
// thread inserting one message row per transaction (fsync on commit, FTS
// trigger) into a fresh file in dir.
func postBaseline(ctx context.Context, dir string, warmup, d time.Duration, seed uint64) (postResult, error) {
	db, err := openRaw(ctx, filepath.Join(dir, "baseline.db"), false)
	if err != nil {
		return postResult{}, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, baselineSchema); err != nil {
		return postResult{}, fmt.Errorf("baseline schema: %w", err)
	}
	gen := chattext.New(seed, []string{"Admin", "Poster 1", "Poster 2"}, 10, 21)
	w := newWindow(warmup, d)
	var lats []time.Duration
	var last time.Time
	for n := 0; ctx.Err() == nil; n++ {
		body := gen.Next()
		start := time.Now()
		if !start.Before(w.to) {
			break
		}
		now := start.UTC().Format(timeLayout)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return postResult{}, err
		}
		if _, err := tx.ExecContext(ctx, insertMessage, 1, 1+n%8, "base-"+strconv.Itoa(n), body, htmlOf(body), body, now, now); err != nil {
			tx.Rollback()
			return postResult{}, err
		}
		if err := tx.Commit(); err != nil {
			return postResult{}, err
		}
		end := time.Now()
		if !start.Before(w.from) {
			lats = append(lats, end.Sub(start))
			last = end
		}
	}
	secs := last.Sub(w.from).Seconds()
	return postResult{
		Messages: len(lats), Seconds: secs, PerSec: ratio(float64(len(lats)), secs),
		P50: percentile(lats, 50), P99: percentile(lats, 99),
	}, ctx.Err()
}
