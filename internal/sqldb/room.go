package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/campfire-in-go/campfire/internal/chat"
)

const roomColumns = `r.id, r.name, r.type, r.creator_id, r.created_at, r.updated_at`

func scanRoom(s interface{ Scan(...any) error }, extra ...any) (*chat.Room, error) {
	var r chat.Room
	dest := append([]any{&r.ID, &r.Name, &r.Type, &r.CreatorID, timeValue{&r.CreatedAt}, timeValue{&r.UpdatedAt}}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	return &r, nil
}

func findRoomByID(ctx context.Context, tx *Tx, id int64) (*chat.Room, error) {
	r, err := scanRoom(tx.QueryRowContext(ctx, `SELECT `+roomColumns+` FROM rooms r WHERE r.id = ?`, id))
	return r, translateNotFound(err, "Room not found.")
}

func findMembership(ctx context.Context, tx *Tx, roomID, userID int64) (*chat.Membership, error) {
	var m chat.Membership
	err := tx.QueryRowContext(ctx, `SELECT room_id, user_id, involvement, unread_at, created_at
		FROM room_memberships WHERE room_id = ? AND user_id = ?`, roomID, userID).
		Scan(&m.RoomID, &m.UserID, &m.Involvement, nullTimeValue{&m.UnreadAt}, timeValue{&m.CreatedAt})
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// readableRoom loads a room the actor may read, with the actor's membership.
// Rooms the actor is not in are "not found", whatever their type.
func readableRoom(ctx context.Context, tx *Tx, actorID, roomID int64) (*chat.User, *chat.Room, error) {
	actor, err := findActor(ctx, tx, actorID)
	if err != nil {
		return nil, nil, err
	}
	room, err := findRoomByID(ctx, tx, roomID)
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return nil, nil, chat.Errorf(chat.ENOTFOUND, "Room not found.")
	} else if err != nil {
		return nil, nil, err
	}
	m, err := findMembership(ctx, tx, roomID, actorID)
	if err != nil {
		return nil, nil, err
	}
	if err := chat.CanRead(actor, m != nil); err != nil {
		return nil, nil, err
	}
	room.Membership = m
	return actor, room, nil
}

func createRoom(ctx context.Context, tx *Tx, creatorID int64, name string, typ chat.RoomType, directKey string) (*chat.Room, error) {
	var key any
	if typ == chat.RoomDirect {
		key = directKey
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO rooms (name, type, creator_id, direct_key, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, name, typ, creatorID, key, formatTime(tx.now), formatTime(tx.now))
	if err != nil {
		return nil, fmt.Errorf("create room: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	return findRoomByID(ctx, tx, id)
}

// grantMemberships adds users to room with the default involvement.
func grantMemberships(ctx context.Context, tx *Tx, room *chat.Room, userIDs []int64) error {
	for _, id := range userIDs {
		_, err := tx.ExecContext(ctx, `INSERT INTO room_memberships (room_id, user_id, involvement, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO NOTHING`,
			room.ID, id, chat.DefaultInvolvement(room.Type), formatTime(tx.now))
		if err != nil {
			return fmt.Errorf("grant membership: %w", err)
		}
	}
	return nil
}

// activeUserIDs checks that every id names an active user.
func activeUserIDs(ctx context.Context, tx *Tx, ids []int64) error {
	for _, id := range ids {
		u, err := findUser(ctx, tx, id)
		if chat.ErrorCode(err) == chat.ENOTFOUND || (err == nil && !u.IsActive()) {
			return chat.Errorf(chat.EINVALID, "User %d does not exist or is deactivated.", id)
		} else if err != nil {
			return err
		}
	}
	return nil
}

func allActiveUserIDs(ctx context.Context, tx *Tx) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE status = 'active'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CreateRoom creates an open room (every active user joins) or a closed
// room (the creator plus nr.UserIDs).
func (db *DB) CreateRoom(ctx context.Context, actorID int64, nr chat.NewRoom) (*chat.Room, error) {
	if err := nr.Validate(); err != nil {
		return nil, err
	}
	var room *chat.Room
	err := db.write(ctx, func(tx *Tx) error {
		actor, err := findActor(ctx, tx, actorID)
		if err != nil {
			return err
		}
		acct, err := findAccount(ctx, tx)
		if err != nil {
			return err
		}
		if err := chat.CanCreateRoom(actor, acct); err != nil {
			return err
		}
		var members []int64
		if nr.Type == chat.RoomOpen {
			if members, err = allActiveUserIDs(ctx, tx); err != nil {
				return err
			}
		} else {
			members = chat.DirectUserSet(actorID, nr.UserIDs)
			if err := activeUserIDs(ctx, tx, members); err != nil {
				return err
			}
		}
		if room, err = createRoom(ctx, tx, actorID, nr.Name, nr.Type, ""); err != nil {
			return err
		}
		if err := grantMemberships(ctx, tx, room, members); err != nil {
			return err
		}
		room.Membership, err = findMembership(ctx, tx, room.ID, actorID)
		return err
	})
	return room, err
}

// FindOrCreateDirectRoom returns the one direct room whose members are
// exactly the actor and userIDs, creating it if needed.
func (db *DB) FindOrCreateDirectRoom(ctx context.Context, actorID int64, userIDs []int64) (room *chat.Room, created bool, err error) {
	ids := chat.DirectUserSet(actorID, userIDs)
	key := chat.DirectKey(ids)
	err = db.write(ctx, func(tx *Tx) error {
		actor, err := findActor(ctx, tx, actorID)
		if err != nil {
			return err
		}
		if actor.Role == chat.RoleBot {
			return chat.Errorf(chat.EFORBIDDEN, "Bots cannot start direct rooms.")
		}
		room, err = scanRoom(tx.QueryRowContext(ctx, `SELECT `+roomColumns+` FROM rooms r WHERE r.direct_key = ?`, key))
		if err == nil {
			room.Membership, err = findMembership(ctx, tx, room.ID, actorID)
			return err
		} else if err != sql.ErrNoRows {
			return err
		}
		if err := activeUserIDs(ctx, tx, ids); err != nil {
			return err
		}
		if room, err = createRoom(ctx, tx, actorID, "", chat.RoomDirect, key); err != nil {
			return err
		}
		created = true
		if err := grantMemberships(ctx, tx, room, ids); err != nil {
			return err
		}
		room.Membership, err = findMembership(ctx, tx, room.ID, actorID)
		return err
	})
	return room, created, err
}

// FindRooms lists the rooms the actor belongs to, with their membership,
// most recently active first.
func (db *DB) FindRooms(ctx context.Context, actorID int64) ([]*chat.Room, error) {
	var rooms []*chat.Room
	err := db.read(ctx, func(tx *Tx) error {
		if _, err := findActor(ctx, tx, actorID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+roomColumns+`, m.involvement, m.unread_at, m.created_at
			FROM rooms r JOIN room_memberships m ON m.room_id = r.id AND m.user_id = ?
			ORDER BY r.updated_at DESC, r.id DESC`, actorID)
		if err != nil {
			return err
		}
		defer rows.Close()
		rooms = []*chat.Room{}
		for rows.Next() {
			m := &chat.Membership{UserID: actorID}
			r, err := scanRoom(rows, &m.Involvement, nullTimeValue{&m.UnreadAt}, timeValue{&m.CreatedAt})
			if err != nil {
				return err
			}
			m.RoomID, r.Membership = r.ID, m
			rooms = append(rooms, r)
		}
		return rows.Err()
	})
	return rooms, err
}

// FindRoom returns a room the actor belongs to.
func (db *DB) FindRoom(ctx context.Context, actorID, roomID int64) (*chat.Room, error) {
	var room *chat.Room
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		_, room, err = readableRoom(ctx, tx, actorID, roomID)
		return err
	})
	return room, err
}

// FindRoomMembers lists the active members of a room the actor belongs to.
func (db *DB) FindRoomMembers(ctx context.Context, actorID, roomID int64) ([]*chat.User, error) {
	var users []*chat.User
	err := db.read(ctx, func(tx *Tx) error {
		if _, _, err := readableRoom(ctx, tx, actorID, roomID); err != nil {
			return err
		}
		var err error
		users, err = roomMembers(ctx, tx, roomID)
		return err
	})
	return users, err
}

func roomMembers(ctx context.Context, tx *Tx, roomID int64) ([]*chat.User, error) {
	return queryUsers(ctx, tx, `SELECT `+userColumns+` FROM users u JOIN room_memberships m ON m.user_id = u.id
		WHERE m.room_id = ? AND u.status = 'active' ORDER BY LOWER(u.name), u.id`, roomID)
}

// UpdateRoom renames a room, converts it between open and closed, and sets
// a closed room's member list (creator or administrator).
func (db *DB) UpdateRoom(ctx context.Context, actorID, roomID int64, upd chat.RoomUpdate) (*chat.Room, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var room *chat.Room
	err := db.write(ctx, func(tx *Tx) error {
		actor, r, err := readableRoomOrAdmin(ctx, tx, actorID, roomID)
		if err != nil {
			return err
		}
		if err := chat.CanUpdateRoom(actor, r); err != nil {
			return err
		}
		typ := r.Type
		if upd.Type != nil {
			typ = *upd.Type
		}
		name := r.Name
		if upd.Name != nil {
			name = *upd.Name
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rooms SET name = ?, type = ?, updated_at = ? WHERE id = ?`,
			name, typ, formatTime(tx.now), roomID); err != nil {
			return err
		}
		r.Type = typ
		switch {
		case typ == chat.RoomOpen:
			ids, err := allActiveUserIDs(ctx, tx)
			if err != nil {
				return err
			}
			if err := grantMemberships(ctx, tx, r, ids); err != nil {
				return err
			}
		case upd.UserIDs != nil:
			ids := chat.DirectUserSet(r.CreatorID, *upd.UserIDs)
			// The creator stays a member, unless deactivated: then the
			// room must stay manageable without them.
			creator, err := findUser(ctx, tx, r.CreatorID)
			if err != nil {
				return err
			}
			if !creator.IsActive() && !slices.Contains(*upd.UserIDs, r.CreatorID) {
				ids = slices.DeleteFunc(ids, func(id int64) bool { return id == r.CreatorID })
			}
			if err := activeUserIDs(ctx, tx, ids); err != nil {
				return err
			}
			if err := grantMemberships(ctx, tx, r, ids); err != nil {
				return err
			}
			if err := revokeOthers(ctx, tx, roomID, ids); err != nil {
				return err
			}
		}
		room, err = findRoomByID(ctx, tx, roomID)
		if err != nil {
			return err
		}
		room.Membership, err = findMembership(ctx, tx, roomID, actorID)
		return err
	})
	return room, err
}

// readableRoomOrAdmin loads a room the actor belongs to, or any open or
// closed room when the actor is an administrator.
func readableRoomOrAdmin(ctx context.Context, tx *Tx, actorID, roomID int64) (*chat.User, *chat.Room, error) {
	actor, room, err := readableRoom(ctx, tx, actorID, roomID)
	if chat.ErrorCode(err) != chat.ENOTFOUND {
		return actor, room, err
	}
	actor, aerr := findActor(ctx, tx, actorID)
	if aerr != nil || !actor.IsAdmin() {
		return nil, nil, err
	}
	room, rerr := findRoomByID(ctx, tx, roomID)
	if rerr != nil || room.Type == chat.RoomDirect {
		return nil, nil, err
	}
	return actor, room, nil
}

func revokeOthers(ctx context.Context, tx *Tx, roomID int64, keep []int64) error {
	args := []any{roomID}
	marks := make([]string, len(keep))
	for i, id := range keep {
		marks[i] = "?"
		args = append(args, id)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM room_memberships WHERE room_id = ? AND user_id NOT IN (`+strings.Join(marks, ",")+`)`, args...)
	return err
}

// DeleteRoom deletes a room with its messages: any member deletes a direct
// room; the creator or an administrator an open or closed one.
func (db *DB) DeleteRoom(ctx context.Context, actorID, roomID int64) (*chat.Room, error) {
	var room *chat.Room
	err := db.write(ctx, func(tx *Tx) error {
		actor, r, err := readableRoomOrAdmin(ctx, tx, actorID, roomID)
		if err != nil {
			return err
		}
		if err := chat.CanDeleteRoom(actor, r, r.Membership != nil); err != nil {
			return err
		}
		room = r
		_, err = tx.ExecContext(ctx, `DELETE FROM rooms WHERE id = ?`, roomID)
		return err
	})
	return room, err
}

// SetInvolvement changes how much the actor hears from a room.
func (db *DB) SetInvolvement(ctx context.Context, actorID, roomID int64, inv chat.Involvement) (*chat.Membership, error) {
	if !inv.Valid() {
		return nil, chat.Errorf(chat.EINVALID, "Involvement must be everything, mentions, nothing or invisible.")
	}
	var m *chat.Membership
	err := db.write(ctx, func(tx *Tx) error {
		if _, _, err := readableRoom(ctx, tx, actorID, roomID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE room_memberships SET involvement = ? WHERE room_id = ? AND user_id = ?`,
			inv, roomID, actorID); err != nil {
			return err
		}
		var err error
		m, err = findMembership(ctx, tx, roomID, actorID)
		return err
	})
	return m, err
}

// MarkRead clears the actor's unread marker for a room.
func (db *DB) MarkRead(ctx context.Context, actorID, roomID int64) error {
	return db.write(ctx, func(tx *Tx) error {
		if _, _, err := readableRoom(ctx, tx, actorID, roomID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE room_memberships SET unread_at = NULL WHERE room_id = ? AND user_id = ?`, roomID, actorID)
		return err
	})
}
