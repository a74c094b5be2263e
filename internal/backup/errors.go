package backup

import (
	"fmt"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// Errors a caller can tell apart with errors.Is. Each is a *chat.Error, so
// chat.ErrorCode(err) gives the code the CLI maps to an exit status and the
// admin socket to a status; err.Error() is the detailed message for people.
var (
	// ErrIncrementalUnavailable: an Engine cannot take an incremental
	// backup; they come from continuous backup (Replicator.Incremental,
	// IncrementalFromFile).
	ErrIncrementalUnavailable = &chat.Error{Code: chat.EUNAVAILABLE, Message: "incremental backups come from continuous backup (the running server's, or IncrementalFromFile), not from a snapshot"}
	// ErrInvalidRequest: a request or option that cannot work (unknown
	// type, compression, output name that contradicts the request, ...).
	ErrInvalidRequest = &chat.Error{Code: chat.EINVALID, Message: "invalid backup request"}
	// ErrNoRecipients: encryption was asked for without recipients.
	ErrNoRecipients = &chat.Error{Code: chat.EINVALID, Message: "encryption needs at least one recipient: set CAMPFIRE_BACKUP_AGE_RECIPIENTS or pass --recipient"}
	// ErrMixedRecipients: age and OpenPGP recipients in one request.
	ErrMixedRecipients = &chat.Error{Code: chat.EINVALID, Message: "age and OpenPGP recipients cannot be mixed in one backup"}
	// ErrBusy: another backup, prune or restore holds the backup directory.
	ErrBusy = &chat.Error{Code: chat.ECONFLICT, Message: "another backup is running"}
	// ErrNoManifest: the artifact has no manifest beside it.
	ErrNoManifest = &chat.Error{Code: chat.ENOTFOUND, Message: "backup manifest not found"}
	// ErrNotFound: no such backup, or no backup to restore.
	ErrNotFound = &chat.Error{Code: chat.ENOTFOUND, Message: "backup not found"}
	// ErrVerifyFailed: a check of the artifact failed (see the Report).
	ErrVerifyFailed = &chat.Error{Code: chat.EINVALID, Message: "backup verification failed"}
	// ErrNoIdentity: the artifact is encrypted and no given identity opens it.
	ErrNoIdentity = &chat.Error{Code: chat.EINVALID, Message: "backup is encrypted: no identity can decrypt it (set CAMPFIRE_BACKUP_AGE_IDENTITY_FILE or pass --identity)"}
	// ErrNewerSchema: the backup's schema is newer than this binary knows.
	ErrNewerSchema = &chat.Error{Code: chat.EINVALID, Message: "backup schema is newer than this binary supports: upgrade campfire before restoring"}
	// ErrNotRestorable: the backup type cannot replace a database (schema
	// backups hold no data; incrementals need their chain).
	ErrNotRestorable = &chat.Error{Code: chat.EINVALID, Message: "this backup cannot be restored as a database"}
	// ErrSegmentMissing: a continuous-backup segment that a restore needs
	// is missing or damaged; the restore is refused, never silently short.
	ErrSegmentMissing = &chat.Error{Code: chat.EINVALID, Message: "continuous backup segment missing or damaged"}
	// ErrTargetInUse: a process has the target database open.
	ErrTargetInUse = &chat.Error{Code: chat.ECONFLICT, Message: "the database is in use by a running server; stop it or use the server's restore"}
)

// failure is an error of one of the kinds above with a detailed message and
// an optional cause.
type failure struct {
	kind  *chat.Error
	msg   string
	cause error
}

func (f *failure) Error() string { return f.msg }

func (f *failure) Unwrap() []error {
	if f.cause == nil {
		return []error{f.kind}
	}
	return []error{f.kind, f.cause}
}

// fail returns an error of kind with a formatted message. A %w verb in
// format makes that argument the cause.
func fail(kind *chat.Error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	f := &failure{kind: kind, msg: err.Error()}
	if u, ok := err.(interface{ Unwrap() error }); ok {
		f.cause = u.Unwrap()
	}
	return f
}
