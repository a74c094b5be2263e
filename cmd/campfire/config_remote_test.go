package main

import "testing"

func TestRemoteRetentionConfig(t *testing.T) {
	env := map[string]string{
		"CAMPFIRE_BACKUP_RETENTION_DAYS":          "7",
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS":   "90",
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_YEARS":  "10",
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_MONTHS": "0",
	}
	c, err := loadConfig(mapEnv(env), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (retention{Days: 90, Weeks: 12, Months: 0, Years: 10}); c.BackupRemoteRetention != want {
		t.Errorf("remote retention = %+v, want %+v", c.BackupRemoteRetention, want)
	}
	for k, v := range map[string]string{
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS":  "0",
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_WEEKS": "-1",
		"CAMPFIRE_BACKUP_REMOTE_RETENTION_YEARS": "many",
	} {
		_, err := loadConfig(mapEnv(map[string]string{k: v}), nil)
		mustUsageError(t, err, k)
	}
}
