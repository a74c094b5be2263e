package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// backupsPage is the administrators' backup page: the backups in the
// backup directory, the audit log, and a button to back up now.
type backupsPage struct {
	Page
	Sidebar    *sidebar
	Configured bool // the server has a backup configuration
	Dir        string
	Backups    []backupRow
	ListError  string
	Events     []*sqldb.BackupEvent
}

// backupRow is one backup as the page shows it.
type backupRow struct {
	Name      string
	Type      backup.Type
	CreatedAt time.Time
	Size      string
	Encrypted string // "age", "openpgp" or ""
	Status    string // backup.StatusVerified, ...
	Problem   string
}

// backupEventsShown is how many audit events the page lists.
const backupEventsShown = 20

var errAdminsOnly = chat.Errorf(chat.EFORBIDDEN, "Only administrators can manage backups.")

func (s *Server) backups(ctx context.Context, me *chat.User) (backupsPage, error) {
	p, err := s.pageFor(ctx, me, "Backups")
	if err != nil {
		return backupsPage{}, err
	}
	sb, err := s.loadSidebar(ctx, me, 0)
	if err != nil {
		return backupsPage{}, err
	}
	data := backupsPage{Page: p, Sidebar: sb, Configured: s.Backups != nil}
	if s.Backups != nil {
		data.Dir = s.Backups.Config.Dir
		entries, err := backup.List(data.Dir)
		if err != nil {
			data.ListError = err.Error()
		}
		for _, e := range entries {
			data.Backups = append(data.Backups, backupRow{
				Name: e.Name, Type: e.Type, CreatedAt: e.CreatedAt, Size: formatBytes(e.Bytes),
				Encrypted: string(e.Encryption), Status: e.Status, Problem: e.Problem,
			})
		}
	}
	if data.Events, err = s.DB.BackupEvents(ctx, backupEventsShown); err != nil {
		return backupsPage{}, err
	}
	return data, nil
}

// handleBackupsPage lists the backups (administrators only).
func (s *Server) handleBackupsPage(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r.Context())
	if !me.IsAdmin() {
		return errAdminsOnly
	}
	data, err := s.backups(r.Context(), me)
	if err != nil {
		return err
	}
	if name := r.URL.Query().Get("created"); name != "" {
		data.Notice = "Backed up to " + name + " and verified."
	}
	return s.renderPage(w, http.StatusOK, "backups", data)
}

// handleBackupNowForm takes a full, zstd-compressed, verified backup
// through the same code as the admin socket, then shows the list again.
func (s *Server) handleBackupNowForm(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	me := currentUser(ctx)
	if !me.IsAdmin() {
		return errAdminsOnly
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	if s.Backups == nil {
		return chat.Errorf(chat.EUNAVAILABLE, "Backups are not configured on this server.")
	}
	res, err := s.Backups.Backup(ctx, s.DB, s.DB, admin.BackupRequest{
		Type: string(backup.TypeFull), Compression: string(backup.CompressionZstd), Verify: true,
		Actor: fmt.Sprintf("web:user %d", me.ID),
	}, nil)
	if err != nil {
		data, derr := s.backups(ctx, me)
		if derr != nil {
			return derr
		}
		// The page is for administrators: the engine's message (paths,
		// failed checks) is what they need, and holds no secret.
		data.Error = "The backup failed: " + errorText(err)
		status, ok := statusOf[chat.ErrorCode(err)]
		if !ok {
			status = http.StatusInternalServerError
		}
		return s.renderPage(w, status, "backups", data)
	}
	return seeOther(w, r, "/account/backups?created="+url.QueryEscape(res.Manifest.File))
}

// errorText is err's message without a domain error's code prefix.
func errorText(err error) string {
	if ce, ok := err.(*chat.Error); ok {
		return ce.Message
	}
	return err.Error()
}

// formatBytes shows a size the way people read it (1024-based).
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
