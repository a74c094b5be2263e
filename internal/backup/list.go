package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry statuses in a listing.
const (
	// StatusVerified: the manifest records a verification that passed.
	StatusVerified = "verified"
	// StatusUnverified: a manifest, but no verification yet.
	StatusUnverified = "unverified"
	// StatusUnknown: an artifact without a manifest; nothing is known
	// beyond its name (verify it to learn more).
	StatusUnknown = "unknown"
	// StatusDamaged: the manifest is unreadable or the file's size
	// differs from it.
	StatusDamaged = "damaged"
	// StatusMissing: a manifest whose artifact is gone.
	StatusMissing = "missing"
)

// Entry is one backup in a directory.
type Entry struct {
	Path      string    `json:"path"`
	Name      string    `json:"name"`
	Type      Type      `json:"type"`
	Host      string    `json:"host"`
	CreatedAt time.Time `json:"created_at"`
	// Bytes is the artifact's size on disk.
	Bytes       int64       `json:"bytes"`
	Compression Compression `json:"compression"`
	Encryption  Encryption  `json:"encryption"`
	Status      string      `json:"status"`
	Problem     string      `json:"problem,omitempty"`
	Parent      string      `json:"parent,omitempty"`
	// Manifest is nil for StatusUnknown (and unreadable manifests).
	Manifest *Manifest `json:"manifest,omitempty"`
	// Ours is true when the name follows the contract
	// (campfire_<type>_<host>_backup_<time>.db…). Only such files are ever
	// pruned; files named by --output are listed but never pruned.
	Ours bool `json:"ours"`
}

// Verified reports whether the entry's manifest records a passed
// verification.
func (e Entry) Verified() bool { return e.Status == StatusVerified }

// List lists the backups in dir, newest first: every file named by the
// contract, and every file a manifest in dir names. Temporary files, the
// lock and other files are ignored. A missing dir is an empty list.
func List(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	seen := map[string]bool{}
	var out []Entry
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !de.Type().IsRegular() {
			continue
		}
		if n, ok := ParseName(name); ok {
			seen[name] = true
			out = append(out, entryFor(dir, name, &n))
		}
	}
	// Files named by --output are found through their manifests, and
	// manifests whose artifact is gone are reported.
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ManifestSuffix) {
			continue
		}
		m, err := ReadManifest(filepath.Join(dir, name))
		if err != nil || seen[m.File] || filepath.Base(m.File) != m.File || baseName(m.File)+ManifestSuffix != name {
			continue
		}
		seen[m.File] = true
		if _, err := os.Lstat(filepath.Join(dir, m.File)); errors.Is(err, fs.ErrNotExist) {
			_, ours := ParseName(m.File)
			e := Entry{Path: filepath.Join(dir, m.File), Name: m.File, Type: m.Type, Host: m.Host, CreatedAt: m.CreatedAt,
				Compression: m.Compression, Encryption: m.Encryption, Status: StatusMissing, Problem: "the artifact is gone; only its manifest is left", Parent: m.Parent, Manifest: m, Ours: ours}
			out = append(out, e)
			continue
		}
		out = append(out, entryFor(dir, m.File, nil))
	}
	sortNewestFirst(out)
	return out, nil
}

func sortNewestFirst(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool {
		if !es[i].CreatedAt.Equal(es[j].CreatedAt) {
			return es[i].CreatedAt.After(es[j].CreatedAt)
		}
		return es[i].Name > es[j].Name
	})
}

// entryFor describes the artifact name in dir; n is its parsed name when
// it follows the contract.
func entryFor(dir, name string, n *Name) Entry {
	path := filepath.Join(dir, name)
	e := Entry{Path: path, Name: name, Ours: n != nil}
	if n != nil {
		e.Type, e.Host, e.CreatedAt, e.Compression, e.Encryption = n.Type, n.Host, n.Time, n.Compression, n.Encryption
	}
	if fi, err := os.Stat(path); err == nil {
		e.Bytes = fi.Size()
	}
	m, err := ReadManifest(ManifestPath(path))
	switch {
	case errors.Is(err, ErrNoManifest):
		e.Status = StatusUnknown
		e.Problem = "no manifest"
		return e
	case err != nil:
		e.Status = StatusDamaged
		e.Problem = err.Error()
		return e
	}
	e.Manifest = m
	e.Type, e.Host, e.CreatedAt = m.Type, m.Host, m.CreatedAt
	e.Compression, e.Encryption, e.Parent = m.Compression, m.Encryption, m.Parent
	switch {
	case m.File != name:
		e.Status = StatusDamaged
		e.Problem = fmt.Sprintf("the manifest names %s", m.File)
	case e.Bytes != m.StoredBytes:
		e.Status = StatusDamaged
		e.Problem = fmt.Sprintf("size %d differs from the manifest's %d", e.Bytes, m.StoredBytes)
	case m.Verified():
		e.Status = StatusVerified
	default:
		e.Status = StatusUnverified
	}
	return e
}

// Latest returns the newest backup that restore latest would use: a full
// or hot backup with an intact manifest. Safety copies, schema backups and
// files without manifests are never "latest".
func Latest(entries []Entry) (Entry, bool) {
	es := append([]Entry(nil), entries...)
	sortNewestFirst(es)
	for _, e := range es {
		if (e.Type == TypeFull || e.Type == TypeHot) && (e.Status == StatusVerified || e.Status == StatusUnverified) {
			return e, true
		}
	}
	return Entry{}, false
}

// Find returns the backup a restore or verify argument names: a path to
// an existing file, or the name of a file in dir.
func Find(dir, arg string) (string, error) {
	if arg == "" {
		return "", fail(ErrNotFound, "no backup named")
	}
	if _, err := os.Stat(arg); err == nil {
		return arg, nil
	}
	if filepath.Base(arg) == arg {
		p := filepath.Join(dir, arg)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fail(ErrNotFound, "backup %s not found (looked in . and %s)", arg, dir)
}
