package sqldb

import (
	"context"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// RoomMemberIDs lists the ids of everyone with a membership in a room,
// whatever their status, without checking who asks. The web package uses
// it to address live events (who gets room_updated, who was removed) after
// the change that the event reports was authorized and committed.
func (db *DB) RoomMemberIDs(ctx context.Context, roomID int64) ([]int64, error) {
	ids := []int64{}
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT user_id FROM room_memberships WHERE room_id = ? ORDER BY user_id`, roomID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

// FindDirectRoomMembers returns the members (any status, by name) of every
// direct room the actor belongs to, keyed by room id, so a sidebar can name
// each direct room after the people in it with one query.
func (db *DB) FindDirectRoomMembers(ctx context.Context, actorID int64) (map[int64][]*chat.User, error) {
	out := map[int64][]*chat.User{}
	err := db.read(ctx, func(tx *Tx) error {
		if _, err := findActor(ctx, tx, actorID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT m.room_id, `+userColumns+`
			FROM room_memberships m
			JOIN users u ON u.id = m.user_id
			JOIN rooms r ON r.id = m.room_id AND r.type = 'direct'
			JOIN room_memberships mine ON mine.room_id = m.room_id AND mine.user_id = ?
			ORDER BY m.room_id, LOWER(u.name), u.id`, actorID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var roomID int64
			var u chat.User
			if err := rows.Scan(&roomID, &u.ID, &u.Name, &u.Email, &u.Role, &u.Status, &u.Bio,
				timeValue{&u.CreatedAt}, timeValue{&u.UpdatedAt}); err != nil {
				return err
			}
			out[roomID] = append(out[roomID], &u)
		}
		return rows.Err()
	})
	return out, err
}
