package monitor

import (
	"github.com/campfire-in-go/campfire/internal/backup"
)

// FromEntries converts a backup listing (backup.List) for the checks.
// Safety copies are not backups anyone scheduled; they are left out.
func FromEntries(entries []backup.Entry) []Backup {
	var out []Backup
	for _, e := range entries {
		if e.Type == backup.TypeSafety {
			continue
		}
		bytes := e.Bytes
		if e.Manifest != nil && e.Status != backup.StatusDamaged {
			bytes = e.Manifest.StoredBytes
		}
		out = append(out, Backup{
			Name: e.Name, Type: string(e.Type), CreatedAt: e.CreatedAt, Bytes: bytes,
			Verified: e.Verified(),
			Good:     e.Status == backup.StatusVerified || e.Status == backup.StatusUnverified,
		})
	}
	return out
}

// LocalStatus builds the Status of a backup directory: its backups and
// its file system's space. Replication and destinations are for the
// caller to add. A missing directory has no backups and unknown space.
func LocalStatus(dir string) (Status, error) {
	entries, err := backup.List(dir)
	if err != nil {
		return Status{}, err
	}
	s := Status{Backups: FromEntries(entries)}
	if d, err := DiskOf(dir); err == nil {
		s.Disk = d
	}
	return s, nil
}
