package admin

import (
	"encoding/json"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// Requests. Paths in them are absolute: the server's working directory is
// not the command line's. Empty fields take the server's configuration.

// Keys are decryption identities a request brings: identity files (age
// identities, OpenPGP private keys) and the passphrase of a protected
// OpenPGP key. They are secrets: never logged, never recorded.
type Keys struct {
	IdentityFiles []string `json:"identity_files,omitempty"`
	PGPPassphrase string   `json:"pgp_passphrase,omitempty"`
}

// BackupRequest asks for a backup (campfire backup full|hot|schema).
type BackupRequest struct {
	Type        string `json:"type"`
	Compression string `json:"compression,omitempty"` // zstd, gzip, none; "" = from Output's name, else zstd
	Encrypt     bool   `json:"encrypt,omitempty"`
	// Recipients are public keys (age1…, OpenPGP key files); empty means
	// the configured ones. Configured or given recipients always encrypt.
	Recipients []string `json:"recipients,omitempty"`
	Output     string   `json:"output,omitempty"`
	Verify     bool     `json:"verify,omitempty"`
	// Keys let the verification decrypt an encrypted backup fully.
	Keys  Keys   `json:"keys,omitempty"`
	Dir   string `json:"dir,omitempty"`
	Actor string `json:"actor,omitempty"`
	// Remote uploads the backup to the configured off-site destination
	// once written (and verified).
	Remote bool `json:"remote,omitempty"`
}

// VerifyRequest asks to verify one artifact (campfire backup verify FILE,
// campfire restore --verify-only FILE).
type VerifyRequest struct {
	File  string `json:"file"`
	Dir   string `json:"dir,omitempty"`
	Keys  Keys   `json:"keys,omitempty"`
	Actor string `json:"actor,omitempty"`
	// Remote: File names a backup in the off-site destination, downloaded
	// into the backup directory to be verified.
	Remote bool `json:"remote,omitempty"`
}

// DrillRequest asks for a restore drill (campfire backup drill).
type DrillRequest struct {
	Keys  Keys   `json:"keys,omitempty"`
	Actor string `json:"actor,omitempty"`
}

// PruneRequest asks to apply the retention policy (campfire backup prune).
type PruneRequest struct {
	Dir    string         `json:"dir,omitempty"`
	Policy *backup.Policy `json:"policy,omitempty"`
	DryRun bool           `json:"dry_run,omitempty"`
	Actor  string         `json:"actor,omitempty"`
	// Remote prunes the off-site destination instead of the directory
	// (Policy: the remote policy).
	Remote bool `json:"remote,omitempty"`
}

// RestoreRequest asks to restore an artifact over the server's database
// (campfire restore latest|FILE). With DryRun the server verifies and
// prepares it, reports the plan and changes nothing.
type RestoreRequest struct {
	// PointInTime restores the continuous-backup chain to ToTime (zero:
	// the last shipped commit) instead of the artifact File.
	PointInTime bool      `json:"point_in_time,omitempty"`
	ToTime      time.Time `json:"to_time,omitzero"`
	File        string    `json:"file"`
	Dir         string    `json:"dir,omitempty"`
	Keys        Keys      `json:"keys,omitempty"`
	DryRun      bool      `json:"dry_run,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	// Remote: File names a backup in the off-site destination; it is
	// downloaded into the backup directory and checked first.
	Remote bool `json:"remote,omitempty"`
}

// RestoreOutcome is the answer to a RestoreRequest.
type RestoreOutcome struct {
	DryRun bool                  `json:"dry_run"`
	Plan   *backup.Plan          `json:"plan"`
	Result *backup.RestoreResult `json:"result,omitempty"`
	// Paused is how long the server answered 503 while it swapped the
	// database (zero for a dry run or a restore without a server).
	PausedMS int64 `json:"paused_ms,omitempty"`
}

// Status is what GET /v1/status answers: who the server is.
type Status struct {
	PID       int    `json:"pid"`
	Version   string `json:"version"`
	Database  string `json:"database"`
	BackupDir string `json:"backup_dir"`
}

// Progress is one progress report of a long operation.
type Progress struct {
	Stage string `json:"stage"` // "backup", "verify", "upload", "download"
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// ProgressFunc receives progress reports; nil ignores them.
type ProgressFunc func(Progress)

// line is one line of a streamed answer.
type line struct {
	Progress *Progress  `json:"progress,omitempty"`
	Notice   string     `json:"notice,omitempty"`
	Result   any        `json:"result,omitempty"`
	Error    *errorLine `json:"error,omitempty"`
}

// rawLine decodes a line, keeping the result undecoded for the caller.
type rawLine struct {
	Progress *Progress       `json:"progress,omitempty"`
	Notice   string          `json:"notice,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *errorLine      `json:"error,omitempty"`
}

type errorLine struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
