package sqldb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"

	"github.com/campfire-in-go/campfire/internal/chat"
)

const messageColumns = `m.id, m.room_id, m.creator_id, m.client_id, m.body, m.html, m.plain, m.sound, m.created_at, m.updated_at`

func scanMessage(s interface{ Scan(...any) error }) (*chat.Message, error) {
	var m chat.Message
	err := s.Scan(&m.ID, &m.RoomID, &m.CreatorID, &m.ClientID, &m.Body, &m.HTML, &m.Plain, &m.Sound,
		timeValue{&m.CreatedAt}, timeValue{&m.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// CreateMessage posts msg (RoomID, Body, HTML, Plain, Sound, MentionIDs,
// ClientID) as the actor. Posting is idempotent: a repeat with the same
// ClientID returns the first message and created=false. Other members of
// the room get an unread marker.
func (db *DB) CreateMessage(ctx context.Context, actorID int64, msg chat.Message) (out *chat.Message, created bool, err error) {
	if err := chat.ValidateMessageBody(msg.Body); err != nil {
		return nil, false, err
	}
	if err := chat.ValidateClientID(msg.ClientID); err != nil {
		return nil, false, err
	}
	if msg.ClientID == "" {
		msg.ClientID = rand.Text()
	}
	err = db.write(ctx, func(tx *Tx) error {
		actor, room, err := readableRoom(ctx, tx, actorID, msg.RoomID)
		if err != nil {
			return err
		}
		if err := chat.CanPost(actor, room.Membership != nil); err != nil {
			return err
		}
		existing, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages m
			WHERE m.creator_id = ? AND m.client_id = ?`, actorID, msg.ClientID))
		switch {
		case err == nil && existing.RoomID != msg.RoomID:
			return chat.Errorf(chat.ECONFLICT, "client_id %q was already used for a message in another room.", msg.ClientID)
		case err == nil:
			out = existing
			return loadMessageDetails(ctx, tx, []*chat.Message{out})
		case err != sql.ErrNoRows:
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, sound, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, msg.RoomID, actorID, msg.ClientID, msg.Body, msg.HTML, msg.Plain, msg.Sound,
			formatTime(tx.now), formatTime(tx.now))
		if err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if err := saveMentions(ctx, tx, id, msg.RoomID, msg.MentionIDs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rooms SET updated_at = ? WHERE id = ?`, formatTime(tx.now), msg.RoomID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE room_memberships SET unread_at = ?
			WHERE room_id = ? AND user_id <> ? AND involvement <> 'invisible' AND unread_at IS NULL`,
			formatTime(tx.now), msg.RoomID, actorID); err != nil {
			return err
		}
		created = true
		out, err = findMessage(ctx, tx, id)
		return err
	})
	return out, created, err
}

// saveMentions records the mentioned users who are members of the room.
func saveMentions(ctx context.Context, tx *Tx, messageID, roomID int64, userIDs []int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM message_mentions WHERE message_id = ?`, messageID); err != nil {
		return err
	}
	for _, uid := range userIDs {
		_, err := tx.ExecContext(ctx, `INSERT INTO message_mentions (message_id, user_id)
			SELECT ?, user_id FROM room_memberships WHERE room_id = ? AND user_id = ?
			ON CONFLICT DO NOTHING`, messageID, roomID, uid)
		if err != nil {
			return fmt.Errorf("save mention: %w", err)
		}
	}
	return nil
}

func findMessage(ctx context.Context, tx *Tx, id int64) (*chat.Message, error) {
	m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages m WHERE m.id = ?`, id))
	if err != nil {
		return nil, translateNotFound(err, "Message not found.")
	}
	return m, loadMessageDetails(ctx, tx, []*chat.Message{m})
}

// readableMessage loads a message in a room the actor belongs to.
func readableMessage(ctx context.Context, tx *Tx, actorID, messageID int64) (*chat.User, *chat.Message, error) {
	var roomID int64
	err := tx.QueryRowContext(ctx, `SELECT room_id FROM messages WHERE id = ?`, messageID).Scan(&roomID)
	if err != nil {
		return nil, nil, translateNotFound(err, "Message not found.")
	}
	actor, _, err := readableRoom(ctx, tx, actorID, roomID)
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return nil, nil, chat.Errorf(chat.ENOTFOUND, "Message not found.")
	} else if err != nil {
		return nil, nil, err
	}
	m, err := findMessage(ctx, tx, messageID)
	return actor, m, err
}

// FindMessage returns a message in a room the actor belongs to.
func (db *DB) FindMessage(ctx context.Context, actorID, messageID int64) (*chat.Message, error) {
	var m *chat.Message
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		_, m, err = readableMessage(ctx, tx, actorID, messageID)
		return err
	})
	return m, err
}

// FindMessages returns a page of a room's messages, oldest first.
func (db *DB) FindMessages(ctx context.Context, actorID, roomID int64, page chat.Page) ([]*chat.Message, error) {
	if err := page.Normalize(); err != nil {
		return nil, err
	}
	var msgs []*chat.Message
	err := db.read(ctx, func(tx *Tx) error {
		if _, _, err := readableRoom(ctx, tx, actorID, roomID); err != nil {
			return err
		}
		var query string
		var args []any
		switch {
		case page.After > 0:
			query = `SELECT ` + messageColumns + ` FROM messages m WHERE m.room_id = ? AND m.id > ? ORDER BY m.id ASC LIMIT ?`
			args = []any{roomID, page.After, page.Limit}
		case page.Before > 0:
			query = `SELECT ` + messageColumns + ` FROM messages m WHERE m.room_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?`
			args = []any{roomID, page.Before, page.Limit}
		default:
			query = `SELECT ` + messageColumns + ` FROM messages m WHERE m.room_id = ? ORDER BY m.id DESC LIMIT ?`
			args = []any{roomID, page.Limit}
		}
		var err error
		if msgs, err = queryMessages(ctx, tx, query, args...); err != nil {
			return err
		}
		if page.After == 0 {
			reverse(msgs)
		}
		return loadMessageDetails(ctx, tx, msgs)
	})
	return msgs, err
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func queryMessages(ctx context.Context, tx *Tx, query string, args ...any) ([]*chat.Message, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	msgs := []*chat.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// loadMessageDetails attaches creators, mentions and boosts with one query
// each for the whole page.
func loadMessageDetails(ctx context.Context, tx *Tx, msgs []*chat.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	byID := make(map[int64]*chat.Message, len(msgs))
	creators := map[int64]bool{}
	marks := make([]string, 0, len(msgs))
	args := make([]any, 0, len(msgs))
	for _, m := range msgs {
		byID[m.ID] = m
		creators[m.CreatorID] = true
		m.MentionIDs, m.Boosts = []int64{}, []*chat.Boost{}
		marks = append(marks, "?")
		args = append(args, m.ID)
	}
	in := "(" + strings.Join(marks, ",") + ")"

	rows, err := tx.QueryContext(ctx, `SELECT message_id, user_id FROM message_mentions WHERE message_id IN `+in+` ORDER BY user_id`, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var mid, uid int64
		if err := rows.Scan(&mid, &uid); err != nil {
			rows.Close()
			return err
		}
		byID[mid].MentionIDs = append(byID[mid].MentionIDs, uid)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = tx.QueryContext(ctx, `SELECT id, message_id, booster_id, content, created_at FROM boosts WHERE message_id IN `+in+` ORDER BY id`, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		b, err := scanBoost(rows)
		if err != nil {
			rows.Close()
			return err
		}
		byID[b.MessageID].Boosts = append(byID[b.MessageID].Boosts, b)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	users := map[int64]*chat.User{}
	for id := range creators {
		u, err := findUser(ctx, tx, id)
		if err != nil {
			return err
		}
		users[id] = u
	}
	for _, m := range msgs {
		m.Creator = users[m.CreatorID]
	}
	return nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// UpdateMessage replaces a message's body and its renderings (author or
// administrator).
func (db *DB) UpdateMessage(ctx context.Context, actorID int64, msg chat.Message) (*chat.Message, error) {
	if err := chat.ValidateMessageBody(msg.Body); err != nil {
		return nil, err
	}
	var out *chat.Message
	err := db.write(ctx, func(tx *Tx) error {
		actor, m, err := readableMessage(ctx, tx, actorID, msg.ID)
		if err != nil {
			return err
		}
		if err := chat.CanEditMessage(actor, m); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET body = ?, html = ?, plain = ?, sound = ?, updated_at = ? WHERE id = ?`,
			msg.Body, msg.HTML, msg.Plain, msg.Sound, formatTime(tx.now), msg.ID); err != nil {
			return err
		}
		if err := saveMentions(ctx, tx, msg.ID, m.RoomID, msg.MentionIDs); err != nil {
			return err
		}
		out, err = findMessage(ctx, tx, msg.ID)
		return err
	})
	return out, err
}

// DeleteMessage removes a message with its boosts and mentions (author or
// administrator) and returns what was deleted.
func (db *DB) DeleteMessage(ctx context.Context, actorID, messageID int64) (*chat.Message, error) {
	var out *chat.Message
	err := db.write(ctx, func(tx *Tx) error {
		actor, m, err := readableMessage(ctx, tx, actorID, messageID)
		if err != nil {
			return err
		}
		if err := chat.CanEditMessage(actor, m); err != nil {
			return err
		}
		out = m
		_, err = tx.ExecContext(ctx, `DELETE FROM messages WHERE id = ?`, messageID)
		return err
	})
	return out, err
}
