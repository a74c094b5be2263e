package monitor

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func full(name string, age time.Duration, bytes int64) Backup {
	return Backup{Name: name, Type: "full", CreatedAt: now.Add(-age), Bytes: bytes, Good: true, Verified: true}
}

func dur(d time.Duration) *time.Duration { return &d }

func TestCheck(t *testing.T) {
	th := DefaultThresholds()
	healthyDisk := &Disk{Path: "/b", FreeBytes: 500 << 30, TotalBytes: 1000 << 30}
	tests := []struct {
		name string
		s    Status
		want []string // alert keys
		text string   // in the first alert's summary
	}{
		{name: "healthy", s: Status{Backups: []Backup{full("a", time.Hour, 1000), full("b", 25*time.Hour, 1100)}, Disk: healthyDisk}},
		{name: "empty", s: Status{}, want: []string{KeyNoFullBackup}, text: "no full backup"},
		{name: "stale full", s: Status{Backups: []Backup{full("a", 26*time.Hour, 1000)}}, want: []string{KeyNoFullBackup}, text: "no full backup for 26h0m0s"},
		{name: "exactly 25h is fine", s: Status{Backups: []Backup{full("a", 25*time.Hour, 1000)}}},
		{name: "hot and schema do not count", s: Status{Backups: []Backup{
			{Name: "h", Type: "hot", CreatedAt: now, Bytes: 10, Good: true},
			{Name: "s", Type: "schema", CreatedAt: now, Bytes: 10, Good: true},
		}}, want: []string{KeyNoFullBackup}},
		{name: "damaged full does not count", s: Status{Backups: []Backup{
			{Name: "d", Type: "full", CreatedAt: now, Bytes: 10, Good: false},
		}}, want: []string{KeyNoFullBackup}},
		{name: "too small", s: Status{Backups: []Backup{
			full("new", time.Hour, 400), full("b", 25*time.Hour, 1000), full("c", 49*time.Hour, 1000),
		}}, want: []string{KeyBackupTooSmall}, text: "less than 50% of the average of the previous 2"},
		{name: "half is fine", s: Status{Backups: []Backup{
			full("new", time.Hour, 500), full("b", 25*time.Hour, 1000),
		}}},
		{name: "only the previous 7 count", s: Status{Backups: []Backup{
			full("new", time.Hour, 500),
			full("1", 2*time.Hour, 1000), full("2", 3*time.Hour, 1000), full("3", 4*time.Hour, 1000), full("4", 5*time.Hour, 1000),
			full("5", 6*time.Hour, 1000), full("6", 7*time.Hour, 1000), full("7", 8*time.Hour, 1000),
			full("old and huge", 9*time.Hour, 1_000_000),
		}}},
		{name: "lag", s: Status{Backups: []Backup{full("a", time.Hour, 1)}, Continuous: true, ReplicationLag: dur(61 * time.Second)},
			want: []string{KeyReplicationLag}, text: "lags 1m1s"},
		{name: "lag within bound", s: Status{Backups: []Backup{full("a", time.Hour, 1)}, Continuous: true, ReplicationLag: dur(60 * time.Second)}},
		{name: "lag unknown", s: Status{Backups: []Backup{full("a", time.Hour, 1)}, Continuous: true}},
		{name: "lag without continuous backup", s: Status{Backups: []Backup{full("a", time.Hour, 1)}, ReplicationLag: dur(time.Hour)}},
		{name: "destination failing", s: Status{Backups: []Backup{full("a", time.Hour, 1)}, Destinations: []Destination{
			{Name: "s3", ConsecutiveFailures: 3, LastError: "403 Forbidden\nmore"}, {Name: "gs", ConsecutiveFailures: 2},
		}}, want: []string{KeyDestinationFailing + ":s3"}, text: "s3 failed 3 times in a row: 403 Forbidden"},
		{name: "low disk by percentage", s: Status{Backups: []Backup{full("a", time.Hour, 1)},
			Disk: &Disk{Path: "/b", FreeBytes: 99, TotalBytes: 1000}}, want: []string{KeyLowDisk}, text: "10% of the file system"},
		{name: "low disk by backup size", s: Status{Backups: []Backup{full("a", time.Hour, 300)},
			Disk: &Disk{Path: "/b", FreeBytes: 599, TotalBytes: 1000}}, want: []string{KeyLowDisk}, text: "2× the newest full backup"},
		{name: "enough disk", s: Status{Backups: []Backup{full("a", time.Hour, 300)},
			Disk: &Disk{Path: "/b", FreeBytes: 600, TotalBytes: 1000}}},
		{name: "everything", s: Status{
			Backups:    []Backup{full("new", 30*time.Hour, 1), full("b", 50*time.Hour, 1000)},
			Continuous: true, ReplicationLag: dur(time.Hour),
			Destinations: []Destination{{Name: "s3", ConsecutiveFailures: 9}},
			Disk:         &Disk{Path: "/b", FreeBytes: 1, TotalBytes: 1000},
		}, want: []string{KeyNoFullBackup, KeyBackupTooSmall, KeyReplicationLag, KeyDestinationFailing + ":s3", KeyLowDisk}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := Check(now, tt.s, th)
			var keys []string
			for _, a := range alerts {
				keys = append(keys, a.Key)
			}
			if strings.Join(keys, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("alerts = %v, want %v (%+v)", keys, tt.want, alerts)
			}
			if tt.text != "" && !strings.Contains(alerts[0].Summary, tt.text) {
				t.Errorf("summary %q lacks %q", alerts[0].Summary, tt.text)
			}
			// Every condition is reported, healthy or not.
			fs := Evaluate(now, tt.s, th)
			if len(fs) != 4+len(tt.s.Destinations) {
				t.Errorf("Evaluate gave %d findings: %+v", len(fs), fs)
			}
			for _, f := range fs {
				if f.Detail == "" {
					t.Errorf("finding %s has no detail", f.Key)
				}
			}
		})
	}
}

// A condition clears when the situation changes: each alert of the
// "everything" case goes away with its cause.
func TestCheckClears(t *testing.T) {
	th := DefaultThresholds()
	s := Status{Backups: []Backup{full("old", 30*time.Hour, 1000)}}
	if got := Check(now, s, th); len(got) != 1 || got[0].Key != KeyNoFullBackup {
		t.Fatalf("before: %+v", got)
	}
	s.Backups = append(s.Backups, full("new", time.Minute, 100))
	if got := Check(now, s, th); len(got) != 1 || got[0].Key != KeyBackupTooSmall {
		t.Fatalf("after a small backup: %+v", got)
	}
	s.Backups = append(s.Backups, full("newer", 0, 1000))
	if got := Check(now, s, th); len(got) != 0 {
		t.Fatalf("after a normal backup: %+v", got)
	}
}
