package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"net/url"
	"os"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"

	_ "modernc.org/sqlite"

	"github.com/campfire-in-go/campfire/tools/chattext"
)

// fakeHash stands in for a bcrypt hash: nobody signs in to this database.
const fakeHash = "$2a$04$backupbench.fixed.password.hash.not.a.real.bcrypt.value"

const timeFormat = "2006-01-02T15:04:05.000000Z"

// dbInfo describes the benchmark database.
type dbInfo struct {
	Path     string `json:"path"`
	Bytes    int64  `json:"bytes"`
	Messages int64  `json:"messages"`
	Users    int64  `json:"users"`
	Rooms    int64  `json:"rooms"`
	// GenerateSeconds is the time spent generating in this invocation
	// (0 when the database was reused as it was).
	GenerateSeconds float64 `json:"generate_seconds"`
}

// setup creates the account, users and rooms through sqldb, so the schema
// and the rows are what the server writes.
func setup(ctx context.Context, path string, users, rooms int) error {
	db := sqldb.New(path)
	if err := db.Open(ctx); err != nil {
		return err
	}
	defer db.Close()
	has, err := db.HasAccount(ctx)
	if err != nil || has {
		return err
	}
	admin, _, err := db.FirstRun(ctx, chat.NewUser{Name: "Ada Admin", Email: "ada@example.com", Password: "benchmark-password"}, fakeHash)
	if err != nil {
		return fmt.Errorf("first run: %w", err)
	}
	acct, err := db.FindAccount(ctx)
	if err != nil {
		return err
	}
	for i := 1; i < users; i++ {
		nu := chat.NewUser{Name: fmt.Sprintf("User %02d", i), Email: fmt.Sprintf("user%02d@example.com", i), Password: "benchmark-password"}
		if _, err := db.SignUp(ctx, acct.JoinCode, nu, fakeHash); err != nil {
			return fmt.Errorf("sign up: %w", err)
		}
	}
	for i := 1; i < rooms; i++ {
		if _, err := db.CreateRoom(ctx, admin.ID, chat.NewRoom{Name: fmt.Sprintf("Room %02d", i), Type: chat.RoomOpen}); err != nil {
			return fmt.Errorf("create room: %w", err)
		}
	}
	return nil
}

func loadDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "foreign_keys(1)")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func ids(ctx context.Context, db *sql.DB, query string) ([]int64, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// generate tops the database at path up with messages until the main file,
// checkpointed, is at least minBytes. It resumes an earlier partial run.
func generate(ctx context.Context, path string, minBytes int64, batch int, logf func(string, ...any)) (*dbInfo, error) {
	start := time.Now()
	if err := setup(ctx, path, 20, 10); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", loadDSN(path))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	checkpoint := func() error {
		_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		return err
	}
	if err := checkpoint(); err != nil {
		return nil, err
	}
	userIDs, err := ids(ctx, db, `SELECT id FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	roomIDs, err := ids(ctx, db, `SELECT id FROM rooms ORDER BY id`)
	if err != nil {
		return nil, err
	}
	if len(userIDs) == 0 || len(roomIDs) == 0 {
		return nil, errors.New("no users or rooms after setup")
	}
	var next int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&next); err != nil {
		return nil, err
	}
	members := make([]string, 0, len(userIDs))
	for i := range userIDs {
		members = append(members, fmt.Sprintf("User%02d", i))
	}
	gen := chattext.New(uint64(next)+1, members, 17, 50)
	pick := rand.New(rand.NewPCG(uint64(next)+7, 42))
	base := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	generated := false
	lastLog := time.Now()
	for fileSize(path) < minBytes {
		generated = true
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, sound, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)`)
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		for range batch {
			next++
			body := gen.Next()
			at := base.Add(time.Duration(next) * 17 * time.Second).Format(timeFormat)
			if _, err := stmt.ExecContext(ctx, roomIDs[pick.IntN(len(roomIDs))], userIDs[pick.IntN(len(userIDs))],
				fmt.Sprintf("seed-%d", next), body, "<p>"+html.EscapeString(body)+"</p>", body, at, at); err != nil {
				tx.Rollback()
				return nil, err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return nil, err
		}
		if err := checkpoint(); err != nil {
			return nil, err
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			el := time.Since(start).Seconds()
			logf("generate: %d messages, %.0f MiB, %.0f s", next, float64(fileSize(path))/(1<<20), el)
		}
	}
	info := &dbInfo{Path: path, Bytes: fileSize(path)}
	if generated {
		info.GenerateSeconds = time.Since(start).Seconds()
	}
	for _, c := range []struct {
		dst   *int64
		table string
	}{{&info.Messages, "messages"}, {&info.Users, "users"}, {&info.Rooms, "rooms"}} {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+c.table).Scan(c.dst); err != nil {
			return nil, err
		}
	}
	return info, nil
}
