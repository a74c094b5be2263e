package main

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"net/url"
	"os"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/tools/chattext"
)

// generate creates a database of at least minBytes at path: the schema and
// first run through sqldb, then messages bulk-inserted with raw SQL
// (synchronous=OFF for the load only), as tools/backupbench does.
func generate(ctx context.Context, path string, minBytes int64, logf func(string, ...any)) error {
	db := sqldb.New(path)
	if err := db.Open(ctx); err != nil {
		return err
	}
	_, _, err := db.FirstRun(ctx, chat.NewUser{Name: "Ada Admin", Email: "ada@example.com", Password: "benchmark-password"},
		"$2a$04$replbench.fixed.password.hash.not.a.real.bcrypt.value.xx")
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(OFF)")
	raw, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	gen := chattext.New(1, []string{"Ada Admin"}, 17, 50)
	base := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	for size(path) < minBytes {
		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for range 10000 {
			n++
			b := gen.Next()
			at := base.Add(time.Duration(n) * 17 * time.Second).Format("2006-01-02T15:04:05.000000Z")
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, sound, created_at, updated_at)
				VALUES (1, 1, ?, ?, ?, ?, '', ?, ?)`, fmt.Sprintf("seed-%d", n), b, "<p>"+html.EscapeString(b)+"</p>", b, at, at); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if _, err := raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return err
		}
		if n%200000 == 0 {
			logf("generate: %d messages, %d MiB", n, size(path)>>20)
		}
	}
	return nil
}

func size(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
