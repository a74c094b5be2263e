package chat

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on messages.
const (
	MaxMessageBytes    = 64 << 10
	MaxClientIDLength  = 64
	MaxBoostLength     = 16
	DefaultPageSize    = 40
	MaxPageSize        = 200
	MaxSearchResults   = 100
	MaxRecentSearches  = 10
	MaxSearchQueryRune = 200
)

// Message is a post in a room.
type Message struct {
	ID        int64  `json:"id"`
	RoomID    int64  `json:"room_id"`
	CreatorID int64  `json:"creator_id"`
	Creator   *User  `json:"creator,omitempty"`
	ClientID  string `json:"client_id"`
	Body      string `json:"body"`
	// HTML is the sanitized rendering of Body; Plain its text form for search and notifications.
	HTML       string    `json:"html"`
	Plain      string    `json:"plain"`
	Sound      string    `json:"sound,omitempty"`
	MentionIDs []int64   `json:"mention_ids"`
	Boosts     []*Boost  `json:"boosts"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ValidateMessageBody checks a message body as typed.
func ValidateMessageBody(body string) error {
	if strings.TrimSpace(body) == "" {
		return Errorf(EINVALID, "Message body is required.")
	}
	if len(body) > MaxMessageBytes {
		return Errorf(EINVALID, "Message body must be at most %d bytes.", MaxMessageBytes)
	}
	if !utf8.ValidString(body) || strings.ContainsRune(body, 0) {
		return Errorf(EINVALID, "Message body must be valid UTF-8 text.")
	}
	return nil
}

// ValidateClientID checks a client-supplied idempotency key ("" is allowed).
func ValidateClientID(id string) error {
	if len(id) > MaxClientIDLength {
		return Errorf(EINVALID, "client_id must be at most %d characters.", MaxClientIDLength)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Errorf(EINVALID, "client_id may contain only letters, digits, '-' and '_'.")
		}
	}
	return nil
}

// Boost is a short reaction to a message.
type Boost struct {
	ID        int64     `json:"id"`
	MessageID int64     `json:"message_id"`
	BoosterID int64     `json:"booster_id"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

// NormalizeBoost trims boost content.
func NormalizeBoost(s string) string { return strings.TrimSpace(s) }

// ValidateBoost checks boost content (already normalized).
func ValidateBoost(content string) error {
	return validateLine("Boost content", content, MaxBoostLength)
}

// Page selects a window of a room's messages: the newest Limit, or those
// before or after a message id. Messages come back oldest first.
type Page struct {
	Before int64
	After  int64
	Limit  int
}

// Normalize clamps the limit and checks the cursor.
func (p *Page) Normalize() error {
	if p.Before < 0 || p.After < 0 {
		return Errorf(EINVALID, "before and after must be message ids.")
	}
	if p.Before > 0 && p.After > 0 {
		return Errorf(EINVALID, "Use either before or after, not both.")
	}
	if p.Limit <= 0 {
		p.Limit = DefaultPageSize
	}
	if p.Limit > MaxPageSize {
		p.Limit = MaxPageSize
	}
	return nil
}
