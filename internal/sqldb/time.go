package sqldb

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// timeLayout is fixed width so stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Parse(time.RFC3339Nano, s)
	}
	return t, nil
}

// timeValue scans a stored time (text in SQLite, a time in PostgreSQL).
type timeValue struct{ t *time.Time }

func (v timeValue) Scan(src any) error {
	switch s := src.(type) {
	case string:
		t, err := parseTime(s)
		*v.t = t
		return err
	case []byte:
		t, err := parseTime(string(s))
		*v.t = t
		return err
	case time.Time:
		*v.t = s.UTC()
		return nil
	}
	return fmt.Errorf("scan time: unexpected %T", src)
}

// nullTimeValue scans a nullable stored time.
type nullTimeValue struct{ t **time.Time }

func (v nullTimeValue) Scan(src any) error {
	if src == nil {
		*v.t = nil
		return nil
	}
	var t time.Time
	if err := (timeValue{&t}).Scan(src); err != nil {
		return err
	}
	*v.t = &t
	return nil
}

var _ driver.Valuer = (*nullTime)(nil)

// nullTime writes a nullable time.
type nullTime struct{ t *time.Time }

func (n nullTime) Value() (driver.Value, error) {
	if n.t == nil {
		return nil, nil
	}
	return formatTime(*n.t), nil
}
