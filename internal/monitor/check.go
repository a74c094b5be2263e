package monitor

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Alert keys. Destination alerts are KeyDestinationFailing + ":" + name.
const (
	KeyNoFullBackup       = "no_full_backup"
	KeyBackupTooSmall     = "backup_too_small"
	KeyReplicationLag     = "replication_lag"
	KeyDestinationFailing = "destination_failing"
	KeyLowDisk            = "low_disk"
)

// Thresholds bound what counts as healthy.
type Thresholds struct {
	// MaxFullAge: alert when the newest good full backup is older.
	MaxFullAge time.Duration
	// MinSizeRatio: alert when the newest full backup is smaller than this
	// fraction of the average of the previous SizeHistory ones.
	MinSizeRatio float64
	SizeHistory  int
	// MaxLag: alert when continuous backup lags more.
	MaxLag time.Duration
	// MaxFailures: alert when a destination failed this many times in a
	// row.
	MaxFailures int
	// MinFreeFraction and MinFreeFullMultiple: alert when the backup
	// directory's file system has less free space than the larger of this
	// fraction of its size and this multiple of the newest full backup.
	MinFreeFraction     float64
	MinFreeFullMultiple float64
}

// DefaultThresholds are the documented defaults (docs/operations.md).
func DefaultThresholds() Thresholds {
	return Thresholds{
		MaxFullAge:          25 * time.Hour,
		MinSizeRatio:        0.5,
		SizeHistory:         7,
		MaxLag:              60 * time.Second,
		MaxFailures:         3,
		MinFreeFraction:     0.10,
		MinFreeFullMultiple: 2,
	}
}

// Backup is one backup as the checks see it.
type Backup struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"` // "full", "hot", "schema", ...
	CreatedAt time.Time `json:"created_at"`
	// Bytes is the stored size.
	Bytes    int64 `json:"bytes"`
	Verified bool  `json:"verified"`
	// Good is true when the backup is intact as far as its manifest
	// tells (verified or not yet verified; not damaged, missing or
	// without a manifest).
	Good bool `json:"good"`
}

// Destination is an off-site destination's recent record.
type Destination struct {
	Name                string `json:"name"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	LastError           string `json:"last_error,omitempty"`
}

// Disk is the free and total space of the backup directory's file system.
type Disk struct {
	Path       string `json:"path"`
	FreeBytes  uint64 `json:"free_bytes"`
	TotalBytes uint64 `json:"total_bytes"`
}

// Status is what is known at one moment. Unknown parts are nil or empty
// and their checks pass: the monitor never alerts on a guess.
type Status struct {
	Backups []Backup `json:"backups"`
	// Continuous is true when continuous backup (replication) is enabled;
	// ReplicationLag is then the age of the oldest commit not yet
	// shipped (nil: unknown).
	Continuous     bool           `json:"continuous"`
	ReplicationLag *time.Duration `json:"replication_lag,omitempty"`
	Destinations   []Destination  `json:"destinations,omitempty"`
	Disk           *Disk          `json:"disk,omitempty"`
}

// Alert is an active condition.
type Alert struct {
	Key string `json:"key"`
	// Summary says what is wrong in one line, with the numbers.
	Summary string `json:"summary"`
}

// Finding is the result of one condition, healthy or not.
type Finding struct {
	Key    string `json:"key"`
	Alert  bool   `json:"alert"`
	Detail string `json:"detail"`
}

// Check returns the active alerts at now, in Evaluate's order.
func Check(now time.Time, s Status, th Thresholds) []Alert {
	var out []Alert
	for _, f := range Evaluate(now, s, th) {
		if f.Alert {
			out = append(out, Alert{Key: f.Key, Summary: f.Detail})
		}
	}
	return out
}

// Evaluate checks every condition and says how each stands.
func Evaluate(now time.Time, s Status, th Thresholds) []Finding {
	fulls := goodFulls(s.Backups)
	out := []Finding{checkFullAge(now, fulls, th), checkFullSize(fulls, th)}
	out = append(out, checkLag(s, th))
	out = append(out, checkDestinations(s.Destinations, th)...)
	out = append(out, checkDisk(s.Disk, fulls, th))
	return out
}

// goodFulls returns the good full backups, newest first.
func goodFulls(bs []Backup) []Backup {
	var out []Backup
	for _, b := range bs {
		if b.Type == "full" && b.Good {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

func checkFullAge(now time.Time, fulls []Backup, th Thresholds) Finding {
	f := Finding{Key: KeyNoFullBackup}
	if len(fulls) == 0 {
		f.Alert, f.Detail = true, "no full backup in the backup directory"
		return f
	}
	age := now.Sub(fulls[0].CreatedAt)
	f.Detail = fmt.Sprintf("newest full backup %s is %s old (limit %s)", fulls[0].Name, roundAge(age), th.MaxFullAge)
	if age > th.MaxFullAge {
		f.Alert = true
		f.Detail = fmt.Sprintf("no full backup for %s: the newest, %s, is from %s (limit %s)",
			roundAge(age), fulls[0].Name, fulls[0].CreatedAt.UTC().Format(time.RFC3339), th.MaxFullAge)
	}
	return f
}

func checkFullSize(fulls []Backup, th Thresholds) Finding {
	f := Finding{Key: KeyBackupTooSmall}
	if len(fulls) < 2 {
		f.Detail = "fewer than two full backups to compare"
		return f
	}
	prev := fulls[1:]
	if th.SizeHistory > 0 && len(prev) > th.SizeHistory {
		prev = prev[:th.SizeHistory]
	}
	var sum int64
	for _, b := range prev {
		sum += b.Bytes
	}
	avg := float64(sum) / float64(len(prev))
	newest := fulls[0]
	f.Detail = fmt.Sprintf("newest full backup %d bytes; average of the previous %d: %.0f bytes", newest.Bytes, len(prev), avg)
	if float64(newest.Bytes) < th.MinSizeRatio*avg {
		f.Alert = true
		f.Detail = fmt.Sprintf("the newest full backup %s is %d bytes, less than %.0f%% of the average of the previous %d (%.0f bytes): was data lost?",
			newest.Name, newest.Bytes, th.MinSizeRatio*100, len(prev), avg)
	}
	return f
}

func checkLag(s Status, th Thresholds) Finding {
	f := Finding{Key: KeyReplicationLag}
	switch {
	case !s.Continuous:
		f.Detail = "continuous backup is not enabled"
	case s.ReplicationLag == nil:
		f.Detail = "replication lag unknown"
	case *s.ReplicationLag > th.MaxLag:
		f.Alert = true
		f.Detail = fmt.Sprintf("continuous backup lags %s behind the database (limit %s)", s.ReplicationLag.Round(time.Second), th.MaxLag)
	default:
		f.Detail = fmt.Sprintf("replication lag %s (limit %s)", s.ReplicationLag.Round(time.Millisecond), th.MaxLag)
	}
	return f
}

func checkDestinations(ds []Destination, th Thresholds) []Finding {
	var out []Finding
	for _, d := range ds {
		f := Finding{Key: KeyDestinationFailing + ":" + d.Name}
		f.Detail = fmt.Sprintf("%d failures in a row", d.ConsecutiveFailures)
		if d.ConsecutiveFailures >= th.MaxFailures {
			f.Alert = true
			f.Detail = fmt.Sprintf("backup destination %s failed %d times in a row", d.Name, d.ConsecutiveFailures)
			if d.LastError != "" {
				f.Detail += ": " + firstLine(d.LastError)
			}
		}
		out = append(out, f)
	}
	return out
}

func checkDisk(d *Disk, fulls []Backup, th Thresholds) Finding {
	f := Finding{Key: KeyLowDisk}
	if d == nil || d.TotalBytes == 0 {
		f.Detail = "free space of the backup directory unknown"
		return f
	}
	need := uint64(th.MinFreeFraction * float64(d.TotalBytes))
	why := fmt.Sprintf("%.0f%% of the file system", th.MinFreeFraction*100)
	if len(fulls) > 0 {
		if n := uint64(th.MinFreeFullMultiple * float64(fulls[0].Bytes)); n > need {
			need, why = n, fmt.Sprintf("%g× the newest full backup", th.MinFreeFullMultiple)
		}
	}
	f.Detail = fmt.Sprintf("%s free of %s at %s (minimum %s: %s)", formatBytes(d.FreeBytes), formatBytes(d.TotalBytes), d.Path, formatBytes(need), why)
	if d.FreeBytes < need {
		f.Alert = true
		f.Detail = "low disk space for backups: " + f.Detail
	}
	return f
}

func roundAge(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// formatBytes shows a size the way people read it (1024-based).
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
