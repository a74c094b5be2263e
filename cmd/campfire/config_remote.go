package main

import (
	"strconv"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// retention is a grandfather-father-son policy's counts.
type retention struct {
	Days, Weeks, Months, Years int
}

func (r retention) policy() backup.Policy {
	return backup.Policy{Daily: r.Days, Weekly: r.Weeks, Monthly: r.Months, Yearly: r.Years}
}

// remoteRetention reads CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS, _WEEKS,
// _MONTHS and _YEARS; each defaults to the local policy's count, so an
// off-site copy is kept as long as a local one unless said otherwise.
func remoteRetention(get func(envName, flagName, def string) setting, c Config) (retention, error) {
	r := retention{}
	for _, x := range []struct {
		env      string
		def, min int
		max      int
		into     *int
		unit     string
	}{
		{"CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS", c.BackupRetentionDays, 1, maxBackupRetentionDays, &r.Days, "days"},
		{"CAMPFIRE_BACKUP_REMOTE_RETENTION_WEEKS", c.BackupRetentionWeeks, 0, maxBackupRetentionWeeks, &r.Weeks, "weeks"},
		{"CAMPFIRE_BACKUP_REMOTE_RETENTION_MONTHS", c.BackupRetentionMonths, 0, maxBackupRetentionMonths, &r.Months, "months"},
		{"CAMPFIRE_BACKUP_REMOTE_RETENTION_YEARS", c.BackupRetentionYears, 0, maxBackupRetentionYears, &r.Years, "years"},
	} {
		v := get(x.env, "", strconv.Itoa(x.def))
		n, err := strconv.Atoi(v.value)
		if err != nil || n < x.min || n > x.max {
			return retention{}, usageErrorf("%s=%q is not valid: want a whole number of %s from %d to %d",
				v.name(), v.value, x.unit, x.min, x.max)
		}
		*x.into = n
	}
	return r, nil
}
