package chat

import "time"

// Account is the single account of a Campfire installation.
type Account struct {
	Name     string `json:"name"`
	JoinCode string `json:"join_code,omitempty"`
	// RestrictRoomCreation limits creating open and closed rooms to administrators.
	RestrictRoomCreation bool      `json:"restrict_room_creation"`
	CreatedAt            time.Time `json:"created_at"`
}

// DefaultAccountName and FirstRoomName are what first run creates.
const (
	DefaultAccountName = "Campfire"
	FirstRoomName      = "All Talk"
)

// Session is a signed-in device. The token itself is never stored.
type Session struct {
	ID           int64     `json:"id"`
	UserID       int64     `json:"user_id"`
	IPAddress    string    `json:"ip_address"`
	UserAgent    string    `json:"user_agent"`
	CreatedAt    time.Time `json:"created_at"`
	LastActiveAt time.Time `json:"last_active_at"`
}

// SearchQuery is a recent search of a user.
type SearchQuery struct {
	Query     string    `json:"query"`
	UpdatedAt time.Time `json:"updated_at"`
}
