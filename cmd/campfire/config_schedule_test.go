package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/monitor"
)

func defaultSchedule() scheduleConfig {
	return scheduleConfig{Full: "0 2 * * *", Schema: "0 3 * * 0", Prune: "30 3 * * *", Verify: "0 4 * * *", Monitor: "*/5 * * * *"}
}

func defaultAlerts() alertConfig {
	return alertConfig{Thresholds: monitor.DefaultThresholds(), Repeat: 24 * time.Hour}
}

func TestLoadConfigSchedule(t *testing.T) {
	got, err := loadConfig(mapEnv(map[string]string{
		"CAMPFIRE_BACKUP_SCHEDULE_FULL":       "@every 2s",
		"CAMPFIRE_BACKUP_SCHEDULE_SCHEMA":     "OFF",
		"CAMPFIRE_BACKUP_SCHEDULE_PRUNE":      "CRON_TZ=Europe/Paris 30 3 * * *",
		"CAMPFIRE_BACKUP_SCHEDULE_VERIFY":     "@daily",
		"CAMPFIRE_BACKUP_SCHEDULE_MONITOR":    "off",
		"CAMPFIRE_ALERT_MAX_LAG":              "90",
		"CAMPFIRE_ALERT_MAX_FULL_AGE":         "49h",
		"CAMPFIRE_ALERT_REPEAT":               "6h",
		"CAMPFIRE_ALERT_MIN_SIZE_RATIO":       "0.25",
		"CAMPFIRE_ALERT_MIN_FREE_PERCENT":     "5%",
		"CAMPFIRE_ALERT_DESTINATION_FAILURES": "5",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := scheduleConfig{Full: "@every 2s", Schema: "off", Prune: "CRON_TZ=Europe/Paris 30 3 * * *", Verify: "@daily", Monitor: "off"}
	if diff := cmp.Diff(want, got.Schedule); diff != "" {
		t.Errorf("schedule (-want +got):\n%s", diff)
	}
	a := defaultAlerts()
	a.MaxLag, a.MaxFullAge, a.Repeat = 90*time.Second, 49*time.Hour, 6*time.Hour
	a.MinSizeRatio, a.MinFreeFraction, a.MaxFailures = 0.25, 0.05, 5
	if diff := cmp.Diff(a, got.Alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if s := got.String(); !strings.Contains(s, "@every 2s") {
		t.Errorf("String() lacks the schedule: %s", s)
	}
}

func TestLoadConfigScheduleInvalid(t *testing.T) {
	for _, tt := range []struct{ env, value, want string }{
		{"CAMPFIRE_BACKUP_SCHEDULE_FULL", "every night", `CAMPFIRE_BACKUP_SCHEDULE_FULL="every night" is not a valid schedule`},
		{"CAMPFIRE_BACKUP_SCHEDULE_SCHEMA", "0 3 * *", "expected exactly 5 fields"},
		{"CAMPFIRE_BACKUP_SCHEDULE_PRUNE", "61 * * * *", `CAMPFIRE_BACKUP_SCHEDULE_PRUNE="61 * * * *"`},
		{"CAMPFIRE_BACKUP_SCHEDULE_VERIFY", "@every never", "CAMPFIRE_BACKUP_SCHEDULE_VERIFY"},
		{"CAMPFIRE_BACKUP_SCHEDULE_MONITOR", "TZ=UTC", "CAMPFIRE_BACKUP_SCHEDULE_MONITOR"},
		{"CAMPFIRE_ALERT_MAX_LAG", "soon", `CAMPFIRE_ALERT_MAX_LAG="soon" is not valid`},
		{"CAMPFIRE_ALERT_REPEAT", "-1h", "CAMPFIRE_ALERT_REPEAT"},
		{"CAMPFIRE_ALERT_MIN_SIZE_RATIO", "2", "CAMPFIRE_ALERT_MIN_SIZE_RATIO"},
		{"CAMPFIRE_ALERT_MIN_FREE_PERCENT", "ten", "CAMPFIRE_ALERT_MIN_FREE_PERCENT"},
		{"CAMPFIRE_ALERT_DESTINATION_FAILURES", "0", "CAMPFIRE_ALERT_DESTINATION_FAILURES"},
	} {
		_, err := loadConfig(mapEnv(map[string]string{tt.env: tt.value}), nil)
		mustUsageError(t, err, tt.want)
	}
}
