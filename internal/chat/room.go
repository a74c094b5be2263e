package chat

import (
	"strings"
	"time"
)

// RoomType says who belongs to a room.
type RoomType string

const (
	RoomOpen   RoomType = "open"   // every active user is a member
	RoomClosed RoomType = "closed" // an explicit member list
	RoomDirect RoomType = "direct" // one room per exact set of users
)

// Valid reports whether t is a known room type.
func (t RoomType) Valid() bool { return t == RoomOpen || t == RoomClosed || t == RoomDirect }

// MaxRoomNameLength bounds a room's name.
const MaxRoomNameLength = 100

// Room is a place where messages are posted.
type Room struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Type      RoomType  `json:"type"`
	CreatorID int64     `json:"creator_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Membership is the caller's membership, when the room was loaded for a member.
	Membership *Membership `json:"membership,omitempty"`
}

// NormalizeRoomName trims a room name.
func NormalizeRoomName(s string) string { return strings.TrimSpace(s) }

// ValidateRoomName checks the name of an open or closed room.
func ValidateRoomName(name string) error { return validateLine("Room name", name, MaxRoomNameLength) }

// Involvement is how much a member hears from a room.
type Involvement string

const (
	InvolvedEverything Involvement = "everything"
	InvolvedMentions   Involvement = "mentions"
	InvolvedNothing    Involvement = "nothing"
	InvolvedInvisible  Involvement = "invisible" // hidden from the sidebar
)

// Valid reports whether i is a known involvement.
func (i Involvement) Valid() bool {
	switch i {
	case InvolvedEverything, InvolvedMentions, InvolvedNothing, InvolvedInvisible:
		return true
	}
	return false
}

// DefaultInvolvement is what a new member of a room of type t gets.
func DefaultInvolvement(t RoomType) Involvement {
	if t == RoomDirect {
		return InvolvedEverything
	}
	return InvolvedMentions
}

// Membership links a user to a room.
type Membership struct {
	RoomID      int64       `json:"room_id"`
	UserID      int64       `json:"user_id"`
	Involvement Involvement `json:"involvement"`
	// UnreadAt is set when a message arrives and cleared when the member reads the room.
	UnreadAt  *time.Time `json:"unread_at"`
	CreatedAt time.Time  `json:"created_at"`
}

// Unread reports whether the room has messages the member has not seen.
func (m *Membership) Unread() bool { return m != nil && m.UnreadAt != nil }

// NewRoom is what room creation accepts.
type NewRoom struct {
	Name    string
	Type    RoomType
	UserIDs []int64 // members of a closed room besides the creator
}

// Validate checks a new open or closed room.
func (n *NewRoom) Validate() error {
	n.Name = NormalizeRoomName(n.Name)
	if n.Type != RoomOpen && n.Type != RoomClosed {
		return Errorf(EINVALID, "Room type must be \"open\" or \"closed\".")
	}
	return ValidateRoomName(n.Name)
}

// RoomUpdate changes a room; nil fields stay as they are.
type RoomUpdate struct {
	Name    *string
	Type    *RoomType // open <-> closed conversion
	UserIDs *[]int64  // the full member list of a closed room
}

// Validate checks the fields that are set.
func (u *RoomUpdate) Validate() error {
	if u.Name != nil {
		s := NormalizeRoomName(*u.Name)
		u.Name = &s
		if err := ValidateRoomName(s); err != nil {
			return err
		}
	}
	if u.Type != nil && *u.Type != RoomOpen && *u.Type != RoomClosed {
		return Errorf(EINVALID, "A room can only become open or closed.")
	}
	return nil
}

// DirectUserSet returns the sorted, deduplicated member set of a direct room
// requested by requester with others; the requester is always included.
func DirectUserSet(requester int64, others []int64) []int64 {
	set := map[int64]bool{requester: true}
	for _, id := range others {
		set[id] = true
	}
	ids := make([]int64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sortInt64s(ids)
	return ids
}

// DirectKey is the canonical key of a direct room's user set.
func DirectKey(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(itoa(id))
	}
	return b.String()
}
