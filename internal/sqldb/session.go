package sqldb

import (
	"context"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// sessionRefresh is how stale last_active_at may get before a request
// refreshes it, so reads do not turn into writes on every request.
const sessionRefresh = time.Hour

// CreateSession records a signed-in device under the hash of its token.
func (db *DB) CreateSession(ctx context.Context, userID int64, tokenHash, ip, userAgent string) (*chat.Session, error) {
	var s chat.Session
	ip, userAgent = truncate(ip, 64), truncate(userAgent, 512)
	err := db.write(ctx, func(tx *Tx) error {
		if _, err := findActor(ctx, tx, userID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO sessions (user_id, token_hash, ip_address, user_agent, created_at, last_active_at)
			VALUES (?, ?, ?, ?, ?, ?)`, userID, tokenHash, ip, userAgent, formatTime(tx.now), formatTime(tx.now))
		if err != nil {
			return err
		}
		s = chat.Session{UserID: userID, IPAddress: ip, UserAgent: userAgent, CreatedAt: tx.now, LastActiveAt: tx.now}
		s.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// Authenticate returns the active user whose session has tokenHash.
func (db *DB) Authenticate(ctx context.Context, tokenHash string) (*chat.User, *chat.Session, error) {
	var u *chat.User
	var s chat.Session
	err := db.read(ctx, func(tx *Tx) error {
		row := tx.QueryRowContext(ctx, `SELECT `+userColumns+`, s.id, s.ip_address, s.user_agent, s.created_at, s.last_active_at
			FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash)
		var usr chat.User
		err := row.Scan(&usr.ID, &usr.Name, &usr.Email, &usr.Role, &usr.Status, &usr.Bio, timeValue{&usr.CreatedAt}, timeValue{&usr.UpdatedAt},
			&s.ID, &s.IPAddress, &s.UserAgent, timeValue{&s.CreatedAt}, timeValue{&s.LastActiveAt})
		if err != nil {
			return translateNotFound(err, "Sign in to continue.")
		}
		u, s.UserID = &usr, usr.ID
		return nil
	})
	if chat.ErrorCode(err) == chat.ENOTFOUND || (err == nil && !u.IsActive()) {
		return nil, nil, chat.Errorf(chat.EUNAUTHORIZED, "Sign in to continue.")
	}
	if err != nil {
		return nil, nil, err
	}
	if db.Now().Sub(s.LastActiveAt) > sessionRefresh {
		err := db.write(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_active_at = ? WHERE id = ?`, formatTime(tx.now), s.ID)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return u, &s, nil
}

// DeleteSession signs a device out.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
		return err
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
