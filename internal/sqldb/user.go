package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/campfire-in-go/campfire/internal/chat"
)

const userColumns = `u.id, u.name, COALESCE(u.email, ''), u.role, u.status, u.bio, u.created_at, u.updated_at`

func scanUser(s interface{ Scan(...any) error }) (*chat.User, error) {
	var u chat.User
	err := s.Scan(&u.ID, &u.Name, &u.Email, &u.Role, &u.Status, &u.Bio, timeValue{&u.CreatedAt}, timeValue{&u.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func translateNotFound(err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Errorf(chat.ENOTFOUND, "%s", msg)
	}
	return err
}

func findUser(ctx context.Context, tx *Tx, id int64) (*chat.User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ?`, id))
	return u, translateNotFound(err, "User not found.")
}

// findActor loads the user performing an action; a deactivated or missing
// actor is unauthorized.
func findActor(ctx context.Context, tx *Tx, id int64) (*chat.User, error) {
	u, err := findUser(ctx, tx, id)
	if chat.ErrorCode(err) == chat.ENOTFOUND || (err == nil && !u.IsActive()) {
		return nil, chat.Errorf(chat.EUNAUTHORIZED, "Sign in to continue.")
	}
	return u, err
}

func createUser(ctx context.Context, tx *Tx, nu chat.NewUser, passwordHash string) (*chat.User, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO users (name, email, password_hash, role, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'active', ?, ?)`, nu.Name, nu.Email, passwordHash, nu.Role, formatTime(tx.now), formatTime(tx.now))
	if isUnique(err) {
		return nil, chat.Errorf(chat.ECONFLICT, "An account with that email address already exists; sign in instead.")
	} else if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	return findUser(ctx, tx, id)
}

// SignUp creates a member through the join link and grants every open room.
func (db *DB) SignUp(ctx context.Context, joinCode string, nu chat.NewUser, passwordHash string) (*chat.User, error) {
	nu.Normalize()
	nu.Role = chat.RoleMember
	if err := nu.Validate(); err != nil {
		return nil, err
	}
	var u *chat.User
	err := db.write(ctx, func(tx *Tx) error {
		if err := checkJoinCode(ctx, tx, joinCode); err != nil {
			return err
		}
		var err error
		if u, err = createUser(ctx, tx, nu, passwordHash); err != nil {
			return err
		}
		return grantOpenRooms(ctx, tx, u.ID)
	})
	return u, err
}

// CheckJoinCode reports ENOTFOUND unless code is the account's join code.
func (db *DB) CheckJoinCode(ctx context.Context, code string) error {
	return db.read(ctx, func(tx *Tx) error { return checkJoinCode(ctx, tx, code) })
}

func checkJoinCode(ctx context.Context, tx *Tx, code string) error {
	a, err := findAccount(ctx, tx)
	if err != nil {
		return err
	}
	if code == "" || code != a.JoinCode {
		return chat.Errorf(chat.ENOTFOUND, "This join link is not valid; ask for a new one.")
	}
	return nil
}

// grantOpenRooms makes userID a member of every open room.
func grantOpenRooms(ctx context.Context, tx *Tx, userID int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO room_memberships (room_id, user_id, involvement, created_at)
		SELECT id, ?, 'mentions', ? FROM rooms WHERE type = 'open'
		ON CONFLICT (room_id, user_id) DO NOTHING`, userID, formatTime(tx.now))
	return err
}

// Credentials is what sign-in needs to check a password.
type Credentials struct {
	User         *chat.User
	PasswordHash string
}

// FindCredentials returns the user with email and their password hash.
func (db *DB) FindCredentials(ctx context.Context, email string) (*Credentials, error) {
	var c Credentials
	err := db.read(ctx, func(tx *Tx) error {
		var hash sql.NullString
		var u chat.User
		err := tx.QueryRowContext(ctx, `SELECT `+userColumns+`, u.password_hash FROM users u WHERE u.email = ?`, chat.NormalizeEmail(email)).
			Scan(&u.ID, &u.Name, &u.Email, &u.Role, &u.Status, &u.Bio, timeValue{&u.CreatedAt}, timeValue{&u.UpdatedAt}, &hash)
		if err != nil {
			return translateNotFound(err, "User not found.")
		}
		c = Credentials{User: &u, PasswordHash: hash.String}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// FindUserByID returns a user (any status).
func (db *DB) FindUserByID(ctx context.Context, id int64) (*chat.User, error) {
	var u *chat.User
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		u, err = findUser(ctx, tx, id)
		return err
	})
	return u, err
}

// UserFilter selects users.
type UserFilter struct {
	Query           string // name contains, case-insensitive
	IncludeInactive bool
	IncludeBots     bool
	Limit           int
}

// FindUsers lists users by name.
func (db *DB) FindUsers(ctx context.Context, f UserFilter) ([]*chat.User, error) {
	var where []string
	var args []any
	if !f.IncludeInactive {
		where = append(where, "u.status = 'active'")
	}
	if !f.IncludeBots {
		where = append(where, "u.role <> 'bot'")
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		where = append(where, `LOWER(u.name) LIKE ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(strings.ToLower(q))+"%")
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	query := `SELECT ` + userColumns + ` FROM users u`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY LOWER(u.name), u.id LIMIT ?`
	args = append(args, f.Limit)
	var users []*chat.User
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		users, err = queryUsers(ctx, tx, query, args...)
		return err
	})
	return users, err
}

func queryUsers(ctx context.Context, tx *Tx, query string, args ...any) ([]*chat.User, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []*chat.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateProfile changes the actor's own profile. passwordHash is set when
// upd.Password is; changing the password signs out every other session.
func (db *DB) UpdateProfile(ctx context.Context, actorID int64, upd chat.UserUpdate, passwordHash string, keepSessionHash string) (*chat.User, error) {
	upd.Normalize()
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var u *chat.User
	err := db.write(ctx, func(tx *Tx) error {
		if _, err := findActor(ctx, tx, actorID); err != nil {
			return err
		}
		set := []string{"updated_at = ?"}
		args := []any{formatTime(tx.now)}
		if upd.Name != nil {
			set, args = append(set, "name = ?"), append(args, *upd.Name)
		}
		if upd.Email != nil {
			set, args = append(set, "email = ?"), append(args, *upd.Email)
		}
		if upd.Bio != nil {
			set, args = append(set, "bio = ?"), append(args, *upd.Bio)
		}
		if upd.Password != nil {
			set, args = append(set, "password_hash = ?"), append(args, passwordHash)
		}
		args = append(args, actorID)
		_, err := tx.ExecContext(ctx, `UPDATE users SET `+strings.Join(set, ", ")+` WHERE id = ?`, args...)
		if isUnique(err) {
			return chat.Errorf(chat.ECONFLICT, "Another account uses that email address.")
		} else if err != nil {
			return err
		}
		if upd.Password != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, actorID, keepSessionHash); err != nil {
				return err
			}
		}
		u, err = findUser(ctx, tx, actorID)
		return err
	})
	return u, err
}

func findActorAndTarget(ctx context.Context, tx *Tx, actorID, targetID int64) (actor, target *chat.User, err error) {
	if actor, err = findActor(ctx, tx, actorID); err != nil {
		return nil, nil, err
	}
	target, err = findUser(ctx, tx, targetID)
	return actor, target, err
}

// SetRole promotes or demotes target (administrators only).
func (db *DB) SetRole(ctx context.Context, actorID, targetID int64, role chat.Role) (*chat.User, error) {
	var u *chat.User
	err := db.write(ctx, func(tx *Tx) error {
		actor, target, err := findActorAndTarget(ctx, tx, actorID, targetID)
		if err != nil {
			return err
		}
		if err := chat.CanChangeRole(actor, target, role); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, role, formatTime(tx.now), targetID); err != nil {
			return err
		}
		u, err = findUser(ctx, tx, targetID)
		return err
	})
	return u, err
}

// Deactivate stops target from signing in: their sessions end and they
// leave every open and closed room. Their messages stay.
func (db *DB) Deactivate(ctx context.Context, actorID, targetID int64) (*chat.User, error) {
	var u *chat.User
	err := db.write(ctx, func(tx *Tx) error {
		actor, target, err := findActorAndTarget(ctx, tx, actorID, targetID)
		if err != nil {
			return err
		}
		if err := chat.CanDeactivate(actor, target); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET status = 'deactivated', updated_at = ? WHERE id = ?`,
			formatTime(tx.now), targetID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, targetID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM room_memberships WHERE user_id = ?
			AND room_id IN (SELECT id FROM rooms WHERE type <> 'direct')`, targetID); err != nil {
			return err
		}
		u, err = findUser(ctx, tx, targetID)
		return err
	})
	return u, err
}
