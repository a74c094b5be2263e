package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// maxShipDelay bounds CAMPFIRE_BACKUP_SHIP_DELAY: a longer delay would be
// a larger loss window than anyone asking for continuous backup wants.
const maxShipDelay = 10 * time.Second

// defaultPITRDays is how far back point-in-time restore reaches by
// default: a week of every commit.
const defaultPITRDays = 7

// loadContinuousConfig reads the continuous backup settings:
// CAMPFIRE_BACKUP_CONTINUOUS (on by default; off, false, 0 or no turn it
// off) and CAMPFIRE_BACKUP_SHIP_DELAY (how long commits are gathered into
// one segment; a Go duration, 1ms to 10s) and CAMPFIRE_BACKUP_PITR_DAYS
// (how many days back any moment stays restorable; prune keeps the
// segments for it).
func loadContinuousConfig(get func(envName, flagName, def string) setting, c *Config) error {
	on := get("CAMPFIRE_BACKUP_CONTINUOUS", "", "on")
	switch strings.ToLower(on.value) {
	case "on", "true", "1", "yes":
		c.BackupContinuous = true
	case "off", "false", "0", "no":
		c.BackupContinuous = false
	default:
		return usageErrorf("%s=%q is not valid: want on or off", on.name(), on.value)
	}
	delay := get("CAMPFIRE_BACKUP_SHIP_DELAY", "", backup.DefaultShipDelay.String())
	d, err := time.ParseDuration(delay.value)
	if err != nil || d < time.Millisecond || d > maxShipDelay {
		return usageErrorf("%s=%q is not valid: want a duration from 1ms to %s, such as 50ms", delay.name(), delay.value, maxShipDelay)
	}
	c.BackupShipDelay = d
	days := get("CAMPFIRE_BACKUP_PITR_DAYS", "", strconv.Itoa(defaultPITRDays))
	n, err := strconv.Atoi(days.value)
	if err != nil || n < 1 || n > maxBackupRetentionDays {
		return usageErrorf("%s=%q is not valid: want a number of days from 1 to %d", days.name(), days.value, maxBackupRetentionDays)
	}
	c.BackupPITRDays = n
	return nil
}
