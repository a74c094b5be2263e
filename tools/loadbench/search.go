package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/campfire-in-go/campfire/tools/chattext"
)

// queryClass is one kind of search in the mix.
type queryClass struct {
	Name  string
	Query string
}

// queryMix cycles through searches of every selectivity. With the word
// lists in text.go and 100,000 messages, "build" matches thousands of
// messages, "migration" hundreds, "pangolin" tens; "deploying" never occurs
// but stems to "deploy"; the last is FTS5 syntax that must not be an error.
var queryMix = []queryClass{
	{"common", "build"},
	{"mid", "migration"},
	{"rare", "pangolin"},
	{"two-word", "build tests"},
	{"stemmed", "deploying"},
	{"hostile", `NEAR( "x AND`},
}

// classResult is the latency of one query class, over HTTP and raw.
type classResult struct {
	Name     string        `json:"name"`
	Query    string        `json:"query"`
	Matches  int           `json:"matches"` // messages matching in the index
	Results  int           `json:"results"` // messages the API returned (at most 100)
	Count    int           `json:"count"`   // timed requests
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	RawP50   time.Duration `json:"raw_p50_ns"`
	RawP99   time.Duration `json:"raw_p99_ns"`
	RatioP50 float64       `json:"ratio_p50"` // P50 / RawP50
}

// searchResult is one measurement of search latency.
type searchResult struct {
	Messages int           `json:"messages"` // messages in the database
	SeedTime time.Duration `json:"seed_ns"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	RawP50   time.Duration `json:"raw_p50_ns"`
	RawP99   time.Duration `json:"raw_p99_ns"`
	Errors   int           `json:"errors"`
	Classes  []classResult `json:"classes"`
}

// seedMessages tops the messages table of the closed database at path up
// to total rows, in transactions of 5,000. The FTS triggers index them.
// It returns how many rows the table holds afterwards.
func seedMessages(ctx context.Context, path string, roomID int64, creators []int64, total int, gen *chattext.Gen) (int, error) {
	db, err := openRaw(ctx, path, false)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var have int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&have); err != nil {
		return 0, err
	}
	at := time.Now().UTC()
	for n := have; n < total; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		stmt, err := tx.PrepareContext(ctx, insertMessage)
		if err != nil {
			tx.Rollback()
			return 0, err
		}
		for end := min(n+5000, total); n < end; n++ {
			body := gen.Next()
			ts := at.Add(time.Duration(n) * time.Microsecond).Format(timeLayout)
			if _, err := stmt.ExecContext(ctx, roomID, creators[n%len(creators)], fmt.Sprintf("seed-%d", n),
				body, htmlOf(body), body, ts, ts); err != nil {
				tx.Rollback()
				return 0, fmt.Errorf("seed message %d: %w", n, err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	// Leave a checkpointed file, as the server's Close does.
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, err
	}
	return max(have, total), nil
}

// ftsQuery is the server's query sanitizer (internal/sqldb): each run of
// letters and digits becomes a quoted term. The raw baseline runs the same
// MATCH string the server would.
func ftsQuery(q string) string {
	terms := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	for i, t := range terms {
		terms[i] = `"` + t + `"`
	}
	return strings.Join(terms, " ")
}

// rawSearch is the FTS5 lookup alone: the newest 100 matching rowids.
const rawSearch = `SELECT rowid FROM message_search_index WHERE message_search_index MATCH ? ORDER BY rowid DESC LIMIT 100`

// runRaw runs rawSearch and reads every row.
func runRaw(ctx context.Context, db *sql.DB, match string) (int, error) {
	rows, err := db.QueryContext(ctx, rawSearch, match)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// searchHTTP runs one search with the member's token and returns the
// response body, read in full so the caller's clock covers the transfer.
func searchHTTP(ctx context.Context, e *env, token, q string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", e.base+"/api/search?q="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// countResults decodes a search response (outside any timing).
func countResults(b []byte) int {
	var out struct {
		Results []json.RawMessage `json:"results"`
	}
	if json.Unmarshal(b, &out) != nil {
		return -1
	}
	return len(out.Results)
}

// measureSearch runs n searches one at a time, cycling through queryMix,
// each followed by the same MATCH on a raw read connection, so both see
// the same moment of a noisy machine.
func measureSearch(ctx context.Context, e *env, n int) (searchResult, error) {
	raw, err := openRaw(ctx, e.path, true)
	if err != nil {
		return searchResult{}, err
	}
	defer raw.Close()

	var res searchResult
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&res.Messages); err != nil {
		return res, err
	}
	token := e.members[0].Token
	httpLat := make([][]time.Duration, len(queryMix))
	rawLat := make([][]time.Duration, len(queryMix))
	res.Classes = make([]classResult, len(queryMix))
	for i, qc := range queryMix {
		c := &res.Classes[i]
		c.Name, c.Query = qc.Name, qc.Query
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM message_search_index WHERE message_search_index MATCH ?`,
			ftsQuery(qc.Query)).Scan(&c.Matches); err != nil {
			return res, fmt.Errorf("count %s: %w", qc.Name, err)
		}
		// Warm-up: one untimed request of each kind, both ways.
		b, err := searchHTTP(ctx, e, token, qc.Query)
		if err != nil {
			return res, fmt.Errorf("search %q: %w", qc.Query, err)
		}
		c.Results = countResults(b)
		if _, err := runRaw(ctx, raw, ftsQuery(qc.Query)); err != nil {
			return res, fmt.Errorf("raw search %q: %w", qc.Query, err)
		}
	}

	var all, allRaw []time.Duration
	for i := range n {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		k := i % len(queryMix)
		qc := queryMix[k]
		start := time.Now()
		_, err := searchHTTP(ctx, e, token, qc.Query)
		d := time.Since(start)
		if err != nil {
			res.Errors++
			continue
		}
		httpLat[k] = append(httpLat[k], d)
		all = append(all, d)

		match := ftsQuery(qc.Query)
		start = time.Now()
		if _, err := runRaw(ctx, raw, match); err != nil {
			return res, fmt.Errorf("raw search %q: %w", qc.Query, err)
		}
		d = time.Since(start)
		rawLat[k] = append(rawLat[k], d)
		allRaw = append(allRaw, d)
	}
	for k := range queryMix {
		c := &res.Classes[k]
		c.Count = len(httpLat[k])
		c.P50, c.P99 = percentile(httpLat[k], 50), percentile(httpLat[k], 99)
		c.RawP50, c.RawP99 = percentile(rawLat[k], 50), percentile(rawLat[k], 99)
		c.RatioP50 = ratio(float64(c.P50), float64(c.RawP50))
	}
	res.P50, res.P99 = percentile(all, 50), percentile(all, 99)
	res.RawP50, res.RawP99 = percentile(allRaw, 50), percentile(allRaw, 99)
	return res, nil
}
