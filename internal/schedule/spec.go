package schedule

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// Off is the spec that disables a job.
const Off = "off"

// parser accepts standard 5-field expressions and descriptors; seconds
// are not offered: nothing we run needs them, and a 6-field typo would
// silently mean something else.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Disabled reports whether spec turns its job off.
func Disabled(spec string) bool {
	return strings.EqualFold(strings.TrimSpace(spec), Off)
}

// Parse parses a spec; Disabled specs are not accepted (check first).
func Parse(spec string) (s cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty schedule; want a cron expression such as \"0 2 * * *\", a descriptor such as @daily or \"@every 1h\", or %q", Off)
	}
	// cron/v3 slices past the zone without checking for a space after
	// it ("TZ=UTC" alone panics).
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		if !strings.ContainsAny(spec, " \t") {
			return nil, fmt.Errorf("a time zone prefix needs a schedule after it, as in \"CRON_TZ=UTC 0 2 * * *\"")
		}
		spec = strings.Join(strings.Fields(spec), " ")
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("unparseable schedule: %v", r)
		}
	}()
	s, err = parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%v; want 5 fields (minute hour day-of-month month day-of-week) such as \"0 2 * * *\", a descriptor such as @daily or \"@every 1h\", or %q", err, Off)
	}
	return s, nil
}

// Validate checks a spec: nil for a valid one or Off.
func Validate(spec string) error {
	if Disabled(spec) {
		return nil
	}
	_, err := Parse(spec)
	return err
}
