package sqldb

import (
	"context"

	"github.com/campfire-in-go/campfire/internal/chat"
)

func scanBoost(s interface{ Scan(...any) error }) (*chat.Boost, error) {
	var b chat.Boost
	if err := s.Scan(&b.ID, &b.MessageID, &b.BoosterID, &b.Content, timeValue{&b.CreatedAt}); err != nil {
		return nil, err
	}
	return &b, nil
}

// CreateBoost adds a reaction to a message in a room the actor belongs to.
// It returns the boost and the room it is in.
func (db *DB) CreateBoost(ctx context.Context, actorID, messageID int64, content string) (*chat.Boost, int64, error) {
	content = chat.NormalizeBoost(content)
	if err := chat.ValidateBoost(content); err != nil {
		return nil, 0, err
	}
	var b *chat.Boost
	var roomID int64
	err := db.write(ctx, func(tx *Tx) error {
		_, m, err := readableMessage(ctx, tx, actorID, messageID)
		if err != nil {
			return err
		}
		roomID = m.RoomID
		res, err := tx.ExecContext(ctx, `INSERT INTO boosts (message_id, booster_id, content, created_at) VALUES (?, ?, ?, ?)`,
			messageID, actorID, content, formatTime(tx.now))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET updated_at = ? WHERE id = ?`, formatTime(tx.now), messageID); err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		b, err = scanBoost(tx.QueryRowContext(ctx, `SELECT id, message_id, booster_id, content, created_at FROM boosts WHERE id = ?`, id))
		return err
	})
	return b, roomID, err
}

// DeleteBoost removes the actor's own boost and returns it with its room.
func (db *DB) DeleteBoost(ctx context.Context, actorID, boostID int64) (*chat.Boost, int64, error) {
	var b *chat.Boost
	var roomID int64
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		b, err = scanBoost(tx.QueryRowContext(ctx, `SELECT id, message_id, booster_id, content, created_at FROM boosts WHERE id = ?`, boostID))
		if err != nil {
			return translateNotFound(err, "Boost not found.")
		}
		actor, m, err := readableMessage(ctx, tx, actorID, b.MessageID)
		if chat.ErrorCode(err) == chat.ENOTFOUND {
			return chat.Errorf(chat.ENOTFOUND, "Boost not found.")
		} else if err != nil {
			return err
		}
		if err := chat.CanDeleteBoost(actor, b); err != nil {
			return err
		}
		roomID = m.RoomID
		if _, err := tx.ExecContext(ctx, `DELETE FROM boosts WHERE id = ?`, boostID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE messages SET updated_at = ? WHERE id = ?`, formatTime(tx.now), b.MessageID)
		return err
	})
	return b, roomID, err
}
