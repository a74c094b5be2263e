package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/remote"
)

// addRestoreRemoteFlags registers --from-remote, and --remote as a hidden
// alias (the spirit of backup --remote and list --remote).
func addRestoreRemoteFlags(fl *pflag.FlagSet, f *restoreFlags) {
	fl.BoolVar(&f.remote, "from-remote", false, "restore (or --list) from CAMPFIRE_BACKUP_REMOTE: latest or NAME, downloaded and checked first")
	fl.BoolVar(&f.remote, "remote", false, "same as --from-remote")
	_ = fl.MarkHidden("remote")
}

// runRestoreRemote is restore --from-remote: pick the backup from the
// destination's manifests here, then restore it through the usual path
// (the server's when it runs), which downloads and checks it first.
func runRestoreRemote(cmd *cobra.Command, e *env, f restoreFlags, args []string) error {
	cfg, err := loadConfig(e.Getenv, cmd.Flags())
	if err != nil {
		return err
	}
	if cfg.BackupRemote == "" {
		return errNoRemoteConfigured()
	}
	if f.list {
		if len(args) > 0 {
			return usageErrorf("--list takes no backup name; run 'campfire restore --list --from-remote' alone")
		}
		return listRemoteRestorable(cmd, e, cfg, f.asJSON)
	}
	toTime := cmd.Flags().Changed("to-time")
	if toTime && len(args) > 0 {
		return usageErrorf("--to-time picks the backups itself: name no backup (%q)", args[0])
	}
	if len(args) == 0 && !toTime {
		return usageErrorf("name the backup to restore: campfire restore --from-remote latest, campfire restore --from-remote NAME, or --to-time \"YYYY-MM-DD HH:MM:SS\" (campfire restore --list --from-remote shows them)")
	}
	entries, where, err := listRemoteBackups(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	dir := absPath(cfg.BackupDir)
	req := admin.RestoreRequest{Dir: dir, Keys: configKeys(cfg, f.identities), Actor: actor(), Remote: true}
	switch {
	case toTime:
		if req.ToTime, err = parseRestoreTime(f.toTime); err != nil {
			return err
		}
		req.PointInTime = true
	case args[0] == "latest" && chainIn(entries):
		req.PointInTime = true // the last commit shipped off-site
	default:
		pick, note, err := backup.PickRemote(entries, where, args[0])
		if err != nil {
			return err
		}
		if note != "" {
			fmt.Fprintf(e.Stderr, "note: %s\n", note)
		}
		req.File = pick.Name
	}
	if f.verifyOnly && req.PointInTime {
		return usageErrorf("--verify-only checks one backup file; for a point-in-time restore use --dry-run, which verifies the base and every segment")
	}
	if f.verifyOnly {
		return restoreVerifyOnly(cmd, e, cfg, req, f.asJSON)
	}
	if !f.dryRun && !f.autoConfirm && !e.terminal(e.Stdin) {
		return usageErrorf("refusing to restore without confirmation: stdin is not a terminal. Check with --dry-run first, then run again with --auto-confirm; nothing was changed")
	}
	// Disaster recovery starts from nothing: the database's directory
	// holds its lock and the prepared file.
	if cfg.DatabaseEngine == engineSQLite {
		if err := os.MkdirAll(filepath.Dir(absPath(cfg.DatabasePath)), 0o700); err != nil {
			return err
		}
	}
	o, err := claim(cmd.Context(), e, cfg, "restore", mayCreateDatabase)
	if err != nil {
		return err
	}
	defer o.release()
	if o.client != nil {
		return restoreThroughServer(cmd, e, o, req, f)
	}
	return restoreAlone(cmd, e, cfg, o, req, f)
}

func listRemoteRestorable(cmd *cobra.Command, e *env, cfg Config, asJSON bool) error {
	entries, where, err := listRemoteBackups(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	latest := ""
	if p, _, err := backup.PickRemote(entries, where, "latest"); err == nil {
		latest = p.Path
	}
	st, err := remote.Open(cmd.Context(), cfg.BackupRemote)
	if err != nil {
		return err
	}
	defer st.Close()
	return printRestorable(cmd.Context(), e, restorableList{Remote: where}, st, entries, latest, asJSON)
}
