package sqldb

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// ftsQuery turns what a person typed into an FTS5 query that can never be
// a syntax error: every run of letters and digits becomes a quoted term, so
// AND, OR, NOT, NEAR, quotes, '*', ':' and parentheses lose their meaning.
// Quoted terms still go through the porter tokenizer, so stemming applies.
// It returns "" when nothing searchable remains.
func ftsQuery(q string) string {
	terms := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	if len(terms) > 16 {
		terms = terms[:16]
	}
	for i, t := range terms {
		terms[i] = `"` + t + `"`
	}
	return strings.Join(terms, " ")
}

// normalizeSearch trims and bounds a query for storage among recent searches.
func normalizeSearch(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if utf8.RuneCountInString(q) > chat.MaxSearchQueryRune {
		q = string([]rune(q)[:chat.MaxSearchQueryRune])
	}
	return strings.ToValidUTF8(q, "")
}

// SearchMessages finds the newest messages matching q in rooms the actor
// belongs to now, and remembers q among the actor's recent searches.
func (db *DB) SearchMessages(ctx context.Context, actorID int64, q string) ([]*chat.Message, error) {
	q = normalizeSearch(q)
	match := ftsQuery(q)
	if match == "" {
		err := db.read(ctx, func(tx *Tx) error {
			_, err := findActor(ctx, tx, actorID)
			return err
		})
		if err != nil {
			return nil, err
		}
		return []*chat.Message{}, nil
	}
	err := db.write(ctx, func(tx *Tx) error {
		if _, err := findActor(ctx, tx, actorID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO searches (user_id, query, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id, query) DO UPDATE SET updated_at = excluded.updated_at`, actorID, q, formatTime(tx.now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM searches WHERE user_id = ? AND id NOT IN
			(SELECT id FROM searches WHERE user_id = ? ORDER BY updated_at DESC, id DESC LIMIT ?)`,
			actorID, actorID, chat.MaxRecentSearches)
		return err
	})
	if err != nil {
		return nil, err
	}
	var msgs []*chat.Message
	err = db.read(ctx, func(tx *Tx) error {
		var err error
		// FTS5 walks its index newest rowid first; the membership join
		// drops rooms the actor is not in.
		msgs, err = queryMessages(ctx, tx, `SELECT `+messageColumns+`
			FROM message_search_index s
			JOIN messages m ON m.id = s.rowid
			JOIN room_memberships rm ON rm.room_id = m.room_id AND rm.user_id = ?
			WHERE message_search_index MATCH ?
			ORDER BY s.rowid DESC LIMIT ?`, actorID, match, chat.MaxSearchResults)
		if err != nil {
			return err
		}
		return loadMessageDetails(ctx, tx, msgs)
	})
	return msgs, err
}

// RecentSearches returns the actor's recent queries, newest first.
func (db *DB) RecentSearches(ctx context.Context, actorID int64) ([]chat.SearchQuery, error) {
	out := []chat.SearchQuery{}
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT query, updated_at FROM searches WHERE user_id = ? ORDER BY updated_at DESC, id DESC LIMIT ?`,
			actorID, chat.MaxRecentSearches)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s chat.SearchQuery
			if err := rows.Scan(&s.Query, timeValue{&s.UpdatedAt}); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

// ClearSearches forgets the actor's recent queries.
func (db *DB) ClearSearches(ctx context.Context, actorID int64) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM searches WHERE user_id = ?`, actorID)
		return err
	})
}
