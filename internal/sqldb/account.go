package sqldb

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// HasAccount reports whether first run has happened.
func (db *DB) HasAccount(ctx context.Context) (bool, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n)
	return n > 0, err
}

// FirstRun creates the account, its administrator and the first open room,
// all or nothing. A second call, even a concurrent one, fails with
// ECONFLICT: the accounts table admits one row.
func (db *DB) FirstRun(ctx context.Context, nu chat.NewUser, passwordHash string) (*chat.User, *chat.Room, error) {
	nu.Normalize()
	nu.Role = chat.RoleAdministrator
	if err := nu.Validate(); err != nil {
		return nil, nil, err
	}
	var u *chat.User
	var room *chat.Room
	err := db.write(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (name, join_code, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			chat.DefaultAccountName, newJoinCode(), formatTime(tx.now), formatTime(tx.now))
		if isUnique(err) {
			return chat.Errorf(chat.ECONFLICT, "Campfire is already set up; sign in instead.")
		} else if err != nil {
			return fmt.Errorf("create account: %w", err)
		}
		if u, err = createUser(ctx, tx, nu, passwordHash); err != nil {
			return err
		}
		room, err = createRoom(ctx, tx, u.ID, chat.FirstRoomName, chat.RoomOpen, "")
		if err != nil {
			return err
		}
		return grantMemberships(ctx, tx, room, []int64{u.ID})
	})
	if err != nil {
		return nil, nil, err
	}
	return u, room, nil
}

// FindAccount returns the account; ENOTFOUND before first run.
func (db *DB) FindAccount(ctx context.Context) (*chat.Account, error) {
	var a *chat.Account
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		a, err = findAccount(ctx, tx)
		return err
	})
	return a, err
}

func findAccount(ctx context.Context, tx *Tx) (*chat.Account, error) {
	var a chat.Account
	err := tx.QueryRowContext(ctx, `SELECT name, join_code, restrict_room_creation, created_at FROM accounts`).
		Scan(&a.Name, &a.JoinCode, &a.RestrictRoomCreation, timeValue{&a.CreatedAt})
	if err != nil {
		return nil, translateNotFound(err, "Campfire is not set up yet.")
	}
	return &a, nil
}

// AccountUpdate changes account settings; nil fields stay as they are.
type AccountUpdate struct {
	Name                 *string
	RestrictRoomCreation *bool
}

// UpdateAccount changes the account's settings (administrators only).
func (db *DB) UpdateAccount(ctx context.Context, actorID int64, upd AccountUpdate) (*chat.Account, error) {
	var a *chat.Account
	err := db.write(ctx, func(tx *Tx) error {
		if err := requireAdmin(ctx, tx, actorID); err != nil {
			return err
		}
		if upd.Name != nil {
			name := chat.NormalizeRoomName(*upd.Name)
			if err := chat.ValidateName(name); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET name = ?, updated_at = ?`, name, formatTime(tx.now)); err != nil {
				return err
			}
		}
		if upd.RestrictRoomCreation != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET restrict_room_creation = ?, updated_at = ?`,
				*upd.RestrictRoomCreation, formatTime(tx.now)); err != nil {
				return err
			}
		}
		var err error
		a, err = findAccount(ctx, tx)
		return err
	})
	return a, err
}

// RegenerateJoinCode replaces the join code, so old invite links stop working.
func (db *DB) RegenerateJoinCode(ctx context.Context, actorID int64) (string, error) {
	code := newJoinCode()
	err := db.write(ctx, func(tx *Tx) error {
		if err := requireAdmin(ctx, tx, actorID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET join_code = ?, updated_at = ?`, code, formatTime(tx.now))
		return err
	})
	return code, err
}

// requireAdmin checks that the actor is an active administrator.
func requireAdmin(ctx context.Context, tx *Tx, actorID int64) error {
	actor, err := findActor(ctx, tx, actorID)
	if err != nil {
		return err
	}
	return chat.CanManageUsers(actor)
}

// newJoinCode returns 12 random base32 characters (60 bits) grouped 4-4-4.
func newJoinCode() string {
	s := rand.Text()
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12]
}
