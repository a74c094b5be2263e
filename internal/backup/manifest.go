package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// ManifestFormatVersion is the version of the manifest format this package
// writes. A reader refuses manifests of a newer format.
const ManifestFormatVersion = 1

// Manifest describes one backup artifact. It is written beside the
// artifact as <base>.manifest.json and is what verify, list, prune and
// restore trust; a bucket listing never is.
type Manifest struct {
	FormatVersion int  `json:"format_version"`
	Type          Type `json:"type"`
	// File is the artifact's file name (no directory).
	File string `json:"file"`
	// CreatedAt is the moment of the data: the UTC time the snapshot's
	// read transaction started. Retention buckets use it.
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Host       string    `json:"host"`
	AppVersion string    `json:"app_version"`
	// SchemaVersion is the highest migration applied in the snapshot.
	SchemaVersion  int    `json:"schema_version"`
	Engine         string `json:"engine"`
	SQLiteVersion  string `json:"sqlite_version"`
	SnapshotMethod string `json:"snapshot_method,omitempty"`

	Compression Compression `json:"compression"`
	Encryption  Encryption  `json:"encryption"`
	// Recipients are public identifiers only (age recipients,
	// "openpgp:<fingerprint>"), never secrets.
	Recipients []string `json:"recipients"`

	// StoredBytes and StoredSHA256 describe the artifact file as stored
	// (after compression and encryption): the first thing verify checks.
	StoredBytes  int64  `json:"stored_bytes"`
	StoredSHA256 string `json:"stored_sha256"`
	// DatabaseBytes and DatabaseSHA256 describe the plain SQLite database
	// the artifact decodes to.
	DatabaseBytes  int64  `json:"database_bytes"`
	DatabaseSHA256 string `json:"database_sha256"`
	PageSize       int64  `json:"page_size"`
	PageCount      int64  `json:"page_count"`

	// RowCounts are the core tables' rows in the snapshot (users, rooms,
	// messages, room_memberships, sessions, boosts); all zero for a schema
	// backup.
	RowCounts      map[string]int64 `json:"row_counts"`
	SourcePosition SourcePosition   `json:"source_position"`

	// Chain places a full backup taken by the running server in its chain
	// of continuous-backup segments (nil for other backups): point-in-time
	// restores start from it.
	Chain *ChainPosition `json:"chain,omitempty"`

	// Parent is the artifact an incremental backup applies on top of
	// (empty for every other type).
	Parent string `json:"parent"`

	// SchemaFile and SchemaSHA256 name the .sql text of a schema backup.
	SchemaFile   string `json:"schema_file,omitempty"`
	SchemaSHA256 string `json:"schema_sha256,omitempty"`

	// VerifiedAt is set when a verification of the artifact passed;
	// Verification says which: "full" (decoded from the stored file and
	// checked) or "before-encryption" (the snapshot was checked before it
	// was encrypted, and the stored file re-read against its checksum,
	// because no identity to decrypt it was at hand).
	VerifiedAt   *time.Time `json:"verified_at"`
	Verification string     `json:"verification,omitempty"`
}

// SourcePosition is the moment of the source database a backup holds.
// Until continuous backup brings WAL positions, it is the highest message
// id in the snapshot and the UTC time of its read transaction.
type SourcePosition struct {
	MaxMessageID int64     `json:"max_message_id"`
	SnapshotAt   time.Time `json:"snapshot_at"`
}

// Verification kinds recorded in Manifest.Verification.
const (
	VerifiedFull             = "full"
	VerifiedBeforeEncryption = "before-encryption"
)

// ReadManifest reads and checks a manifest file. A missing file is
// ErrNoManifest.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fail(ErrNoManifest, "no manifest %s: %w", path, err)
	}
	if err != nil {
		return nil, err
	}
	return ParseManifest(data, path)
}

// ParseManifest checks and decodes a manifest's bytes; name says where
// they came from, for errors.
func ParseManifest(data []byte, name string) (*Manifest, error) {
	path := name
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	switch {
	case m.FormatVersion < 1:
		return nil, fmt.Errorf("manifest %s: no format_version", path)
	case m.FormatVersion > ManifestFormatVersion:
		return nil, fmt.Errorf("manifest %s has format version %d, newer than this binary reads (%d): upgrade campfire", path, m.FormatVersion, ManifestFormatVersion)
	case m.File == "" || m.StoredSHA256 == "":
		return nil, fmt.Errorf("manifest %s: file or stored_sha256 missing", path)
	}
	return &m, nil
}

// Verified reports whether a verification of the artifact passed.
func (m *Manifest) Verified() bool { return m != nil && m.VerifiedAt != nil }

// write writes m to path atomically (temporary file, fsync, rename).
func (m *Manifest) write(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// MarkVerified records in path's manifest that rep, a full verification of
// the stored file, passed at at: `restore latest` and retention then count
// the backup as verified. A report that failed, decoded nothing or had no
// manifest changes nothing.
func MarkVerified(path string, rep *Report, at time.Time) error {
	if rep == nil || !rep.OK || !rep.decoded || rep.Manifest == nil {
		return nil
	}
	m := *rep.Manifest
	t := at.UTC()
	m.VerifiedAt, m.Verification = &t, VerifiedFull
	return m.write(ManifestPath(path))
}
