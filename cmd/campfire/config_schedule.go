package main

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/monitor"
	"github.com/campfire-in-go/campfire/internal/schedule"
)

// scheduleConfig is when serve runs each backup job: a cron expression or
// descriptor in the server's time zone, or "off" (internal/schedule).
type scheduleConfig struct {
	Full    string // CAMPFIRE_BACKUP_SCHEDULE_FULL: a verified, zstd full backup
	Schema  string // CAMPFIRE_BACKUP_SCHEDULE_SCHEMA: a schema backup
	Prune   string // CAMPFIRE_BACKUP_SCHEDULE_PRUNE: the retention policy
	Verify  string // CAMPFIRE_BACKUP_SCHEDULE_VERIFY: a restore drill of the latest backup
	Monitor string // CAMPFIRE_BACKUP_SCHEDULE_MONITOR: the monitor check and its alerts
}

// alertConfig holds the monitor's thresholds and how often an alert that
// stays active is repeated.
type alertConfig struct {
	monitor.Thresholds
	Repeat time.Duration
}

// LogValue implements slog.LogValuer.
func (s scheduleConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("full", s.Full), slog.String("schema", s.Schema),
		slog.String("prune", s.Prune), slog.String("verify", s.Verify), slog.String("monitor", s.Monitor))
}

// LogValue implements slog.LogValuer.
func (a alertConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Duration("max_full_age", a.MaxFullAge), slog.Float64("min_size_ratio", a.MinSizeRatio),
		slog.Duration("max_lag", a.MaxLag), slog.Int("destination_failures", a.MaxFailures),
		slog.Float64("min_free_percent", a.MinFreeFraction*100), slog.Duration("repeat", a.Repeat))
}

// loadScheduling reads the backup schedule and the alert thresholds into
// c; an invalid value is a usage error naming the variable and the value.
func loadScheduling(get func(envName, flagName, def string) setting, c *Config) error {
	for _, j := range []struct {
		env, def string
		into     *string
	}{
		{"CAMPFIRE_BACKUP_SCHEDULE_FULL", "0 2 * * *", &c.Schedule.Full},
		{"CAMPFIRE_BACKUP_SCHEDULE_SCHEMA", "0 3 * * 0", &c.Schedule.Schema},
		{"CAMPFIRE_BACKUP_SCHEDULE_PRUNE", "30 3 * * *", &c.Schedule.Prune},
		{"CAMPFIRE_BACKUP_SCHEDULE_VERIFY", "0 4 * * *", &c.Schedule.Verify},
		{"CAMPFIRE_BACKUP_SCHEDULE_MONITOR", "*/5 * * * *", &c.Schedule.Monitor},
	} {
		v := get(j.env, "", j.def)
		if err := schedule.Validate(v.value); err != nil {
			return usageErrorf("%s=%q is not a valid schedule: %v", v.name(), v.value, err)
		}
		*j.into = v.value
		if schedule.Disabled(v.value) {
			*j.into = schedule.Off
		}
	}

	c.Alerts = alertConfig{Thresholds: monitor.DefaultThresholds(), Repeat: 24 * time.Hour}
	for _, d := range []struct {
		env  string
		into *time.Duration
	}{
		{"CAMPFIRE_ALERT_MAX_FULL_AGE", &c.Alerts.MaxFullAge},
		{"CAMPFIRE_ALERT_MAX_LAG", &c.Alerts.MaxLag},
		{"CAMPFIRE_ALERT_REPEAT", &c.Alerts.Repeat},
	} {
		v := get(d.env, "", "")
		if v.value == "" {
			continue
		}
		// A bare number is seconds, as in the other tools' settings.
		n, err := strconv.ParseUint(v.value, 10, 32)
		dur := time.Duration(n) * time.Second
		if err != nil {
			dur, err = time.ParseDuration(v.value)
		}
		if err != nil || dur <= 0 {
			return usageErrorf("%s=%q is not valid: want a duration such as 90s, 25h or 1h30m (a bare number is seconds)", v.name(), v.value)
		}
		*d.into = dur
	}
	if v := get("CAMPFIRE_ALERT_MIN_SIZE_RATIO", "", ""); v.value != "" {
		f, err := strconv.ParseFloat(v.value, 64)
		if err != nil || f < 0 || f > 1 {
			return usageErrorf("%s=%q is not valid: want a fraction from 0 (never) to 1, such as 0.5", v.name(), v.value)
		}
		c.Alerts.MinSizeRatio = f
	}
	if v := get("CAMPFIRE_ALERT_MIN_FREE_PERCENT", "", ""); v.value != "" {
		f, err := strconv.ParseFloat(strings.TrimSuffix(v.value, "%"), 64)
		if err != nil || f < 0 || f > 100 {
			return usageErrorf("%s=%q is not valid: want a percentage from 0 to 100, such as 10", v.name(), v.value)
		}
		c.Alerts.MinFreeFraction = f / 100
	}
	if v := get("CAMPFIRE_ALERT_DESTINATION_FAILURES", "", ""); v.value != "" {
		n, err := strconv.Atoi(v.value)
		if err != nil || n < 1 || n > 1000 {
			return usageErrorf("%s=%q is not valid: want a whole number of failures in a row from 1 to 1000", v.name(), v.value)
		}
		c.Alerts.MaxFailures = n
	}
	return nil
}
