package chat

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what a user may do on the account.
type Role string

const (
	RoleMember        Role = "member"
	RoleAdministrator Role = "administrator"
	RoleBot           Role = "bot"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleMember || r == RoleAdministrator || r == RoleBot
}

// UserStatus says whether a user may sign in.
type UserStatus string

const (
	StatusActive      UserStatus = "active"
	StatusDeactivated UserStatus = "deactivated"
)

// Limits on user-supplied fields.
const (
	MaxNameLength     = 100
	MaxBioLength      = 200
	MinPasswordLength = 8
	MaxPasswordBytes  = 72 // bcrypt ignores the rest, so refuse rather than truncate
)

// User is a person or a bot on the account.
type User struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Email     string     `json:"email,omitempty"`
	Role      Role       `json:"role"`
	Status    UserStatus `json:"status"`
	Bio       string     `json:"bio"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// IsAdmin reports whether u administers the account.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdministrator }

// IsActive reports whether u may sign in and act.
func (u *User) IsActive() bool { return u != nil && u.Status == StatusActive }

// NewUser is what sign-up and first run accept.
type NewUser struct {
	Name     string
	Email    string
	Password string
	Role     Role
}

// Normalize trims the fields and lower-cases the email address.
func (n *NewUser) Normalize() {
	n.Name = strings.TrimSpace(n.Name)
	n.Email = NormalizeEmail(n.Email)
}

// Validate checks a new human user.
func (n *NewUser) Validate() error {
	if err := ValidateName(n.Name); err != nil {
		return err
	}
	if err := ValidateEmail(n.Email); err != nil {
		return err
	}
	if !n.Role.Valid() {
		return Errorf(EINVALID, "Unknown role %q.", n.Role)
	}
	return ValidatePassword(n.Password)
}

// NormalizeEmail trims and lower-cases an email address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateName checks a display name.
func ValidateName(name string) error { return validateLine("Name", name, MaxNameLength) }

// validateLine checks a required single-line field of at most max characters.
func validateLine(field, s string, max int) error {
	if s == "" {
		return Errorf(EINVALID, "%s is required.", field)
	}
	if utf8.RuneCountInString(s) > max {
		return Errorf(EINVALID, "%s must be at most %d characters.", field, max)
	}
	if strings.ContainsAny(s, "\x00\r\n") {
		return Errorf(EINVALID, "%s must be a single line.", field)
	}
	return nil
}

// ValidateEmail checks an email address (already normalized).
func ValidateEmail(email string) error {
	if email == "" {
		return Errorf(EINVALID, "Email address is required.")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return Errorf(EINVALID, "Email address %q is not valid.", email)
	}
	return nil
}

// ValidatePassword checks a new password.
func ValidatePassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLength {
		return Errorf(EINVALID, "Password must be at least %d characters.", MinPasswordLength)
	}
	if len(p) > MaxPasswordBytes {
		return Errorf(EINVALID, "Password must be at most %d bytes.", MaxPasswordBytes)
	}
	return nil
}

// ValidateBio checks a profile bio.
func ValidateBio(bio string) error {
	if utf8.RuneCountInString(bio) > MaxBioLength {
		return Errorf(EINVALID, "Bio must be at most %d characters.", MaxBioLength)
	}
	return nil
}

// UserUpdate changes a profile; nil fields stay as they are.
type UserUpdate struct {
	Name     *string
	Email    *string
	Password *string
	Bio      *string
}

// Normalize trims the fields that are set.
func (u *UserUpdate) Normalize() {
	if u.Name != nil {
		s := strings.TrimSpace(*u.Name)
		u.Name = &s
	}
	if u.Email != nil {
		s := NormalizeEmail(*u.Email)
		u.Email = &s
	}
	if u.Bio != nil {
		s := strings.TrimSpace(*u.Bio)
		u.Bio = &s
	}
}

// Validate checks the fields that are set.
func (u *UserUpdate) Validate() error {
	if u.Name != nil {
		if err := ValidateName(*u.Name); err != nil {
			return err
		}
	}
	if u.Email != nil {
		if err := ValidateEmail(*u.Email); err != nil {
			return err
		}
	}
	if u.Password != nil {
		if err := ValidatePassword(*u.Password); err != nil {
			return err
		}
	}
	if u.Bio != nil {
		return ValidateBio(*u.Bio)
	}
	return nil
}
