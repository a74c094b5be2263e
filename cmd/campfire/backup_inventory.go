package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
)

func newBackupListCommand(e *env) *cobra.Command {
	var asJSON, remote bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the backups in the backup directory, newest first",
		Long: `List the backups in CAMPFIRE_BACKUP_DIR, newest first: name, type, when the
snapshot was taken (local time), size, encryption and status:

  verified    the manifest records a verification that passed
  unverified  a manifest, but no verification yet (campfire backup verify FILE)
  unknown     a file named like a backup without a manifest
  damaged     the manifest is unreadable or the file's size differs from it
  missing     a manifest whose backup file is gone

It only reads the directory, so it works the same with the server running
or stopped. --json prints every entry with its manifest.

--remote lists the off-site destination (CAMPFIRE_BACKUP_REMOTE) instead,
from the manifests stored there; a backup there is also

  incomplete  no manifest, or the stored size or SHA-256 differs from it (an
              upload or a delete that did not finish): never restored`,
		Example: `  campfire backup list
  campfire backup list --remote
  campfire backup list --json | jq -r '.[] | select(.status == "verified") | .path'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(e.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			if remote {
				return runListRemote(cmd.Context(), e, cfg, asJSON)
			}
			dir := absPath(cfg.BackupDir)
			entries, err := backup.List(dir)
			if err != nil {
				return err
			}
			if asJSON {
				if entries == nil {
					entries = []backup.Entry{}
				}
				return printJSON(e.Stdout, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintf(e.Stdout, "No backups in %s.\n", dir)
				return nil
			}
			printEntries(e.Stdout, entries, "")
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	cmd.Flags().BoolVar(&remote, "remote", false, "list the backups in CAMPFIRE_BACKUP_REMOTE instead, from their manifests")
	addBackupConfigFlags(cmd.Flags())
	return cmd
}

// printEntries prints a listing as a table; mark is the path of the entry
// whose status says "latest" (restore latest's pick).
func printEntries(w io.Writer, entries []backup.Entry, mark string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tCREATED\tSIZE\tENCRYPTED\tSTATUS")
	for _, en := range entries {
		enc := string(en.Encryption)
		if enc == "" {
			enc = "no"
		}
		status := en.Status
		if en.Problem != "" && en.Status != backup.StatusUnknown {
			status += " (" + en.Problem + ")"
		}
		if mark != "" && en.Path == mark {
			status += ", latest"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", en.Name, orDash(string(en.Type)), localTime(en.CreatedAt), formatBytes(en.Bytes), enc, status)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newBackupVerifyCommand(e *env) *cobra.Command {
	var asJSON, remote bool
	var identities []string
	cmd := &cobra.Command{
		Use:   "verify FILE | --remote NAME",
		Short: "Check a backup end to end",
		Long: `Check a backup end to end, in an order that never decodes bytes it cannot
trust: the manifest; the stored size and SHA-256 (any damage to the file
stops here); decryption and decompression into a temporary file and the
SHA-256 of the database; then PRAGMA integrity_check, foreign keys, the
required tables (users, rooms, messages, room_memberships, sessions), the
schema version, the row counts of the manifest and consistency (no messages
without users or rooms, ...).

FILE is a path, or a name in the backup directory. An encrypted backup is
decrypted with CAMPFIRE_BACKUP_AGE_IDENTITY_FILE or --identity (an age
identity file, or an OpenPGP private key with CAMPFIRE_BACKUP_PGP_PASSPHRASE
if it has a passphrase). Exit code 0 when every check passes, 1 otherwise.
The verification is recorded in the audit log (through the server when it
runs).

--remote NAME verifies a backup of the off-site destination
(CAMPFIRE_BACKUP_REMOTE): it is downloaded into a private temporary
directory in the backup directory, checked against its manifest, verified,
and removed.`,
		Example: `  campfire backup verify campfire_full_myhost_backup_20240101_120000.db.zst
  campfire backup verify ./offsite/campfire_full_myhost_backup_20240101_120000.db.zst.age --identity ~/.config/campfire/backup-key.txt
  campfire backup verify FILE --json | jq .ok
  campfire backup verify --remote campfire_full_myhost_backup_20240101_120000.db.zst`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(e.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			dir := absPath(cfg.BackupDir)
			req := admin.VerifyRequest{File: args[0], Dir: dir, Keys: configKeys(cfg, identities), Actor: actor(), Remote: remote}
			if remote && cfg.BackupRemote == "" {
				return errNoRemoteConfigured()
			}
			if !remote {
				path, err := backup.Find(dir, args[0])
				if err != nil {
					return err
				}
				req.File = absPath(path)
			}
			rep, err := verifyBackup(cmd, e, cfg, req, "backup verify")
			if rep != nil {
				if asJSON {
					if perr := printJSON(e.Stdout, rep); perr != nil && err == nil {
						err = perr
					}
				} else {
					printReport(e.Stdout, rep)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&remote, "remote", false, "verify the backup NAME of CAMPFIRE_BACKUP_REMOTE (downloaded, checked, removed)")
	cmd.Flags().StringArrayVar(&identities, "identity", nil, "identity file to decrypt with (age or OpenPGP private key); repeatable; env CAMPFIRE_BACKUP_AGE_IDENTITY_FILE")
	addBackupConfigFlags(cmd.Flags())
	return cmd
}

// verifyBackup verifies through the server when it runs, else here.
func verifyBackup(cmd *cobra.Command, e *env, cfg Config, req admin.VerifyRequest, role string) (*backup.Report, error) {
	o, err := claim(cmd.Context(), e, cfg, role, auditOnly)
	if err != nil {
		return nil, err
	}
	defer o.release()
	report, clear := progress(e)
	defer clear()
	if o.client != nil {
		return o.client.Verify(cmd.Context(), req, report)
	}
	return newOps(cfg, cliLogger(e, cfg)).Verify(cmd.Context(), o.recorder(), req, report)
}

func printReport(w io.Writer, rep *backup.Report) {
	verdict := "OK"
	if !rep.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "%s: %s\n", rep.File, verdict)
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %-17s %s\n", mark, c.Name, c.Detail)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

func newBackupPruneCommand(e *env) *cobra.Command {
	var dryRun, asJSON, remote bool
	cmd := &cobra.Command{
		Use:   "prune [--remote] [--dry-run]",
		Short: "Delete backups the retention policy no longer keeps",
		Long: `Apply the grandfather-father-son retention policy to the backup directory
and delete what it does not keep, printing every decision and its reason.

The policy keeps, for each backup type on its own, the newest backup of each
of the last N days, weeks (ISO, Monday first), months and years (UTC),
counting the current one:

  CAMPFIRE_BACKUP_RETENTION_DAYS    daily backups   (default 30)
  CAMPFIRE_BACKUP_RETENTION_WEEKS   weekly backups  (default 12; 0: none)
  CAMPFIRE_BACKUP_RETENTION_MONTHS  monthly backups (default 12; 0: none)
  CAMPFIRE_BACKUP_RETENTION_YEARS   yearly backups  (default 7; 0: none)

It also always keeps the newest verified backup of each type and the newest
safety copy, and never touches damaged backups or files not named by
campfire's convention (such as --output names). Leftover temporary files
older than a day are removed. --dry-run prints the same decisions and
deletes nothing.

--remote prunes the off-site destination (CAMPFIRE_BACKUP_REMOTE) instead,
with its own counts, each defaulting to the local one:

  CAMPFIRE_BACKUP_REMOTE_RETENTION_DAYS, _WEEKS, _MONTHS, _YEARS

Each backup's manifest is deleted first, then its artifact, so a delete cut
short leaves an incomplete backup that is never used, not a broken one that
looks whole. Incomplete backups with a manifest are kept for a person to
look at; artifacts without a manifest are deleted once a day old.`,
		Example: `  campfire backup prune --dry-run
  CAMPFIRE_BACKUP_RETENTION_DAYS=7 campfire backup prune
  campfire backup prune --json | jq '.decisions[] | select(.keep == false) | .entry.name'
  campfire backup prune --remote --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(e.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			o, err := claim(cmd.Context(), e, cfg, "backup prune", auditOnly)
			if err != nil {
				return err
			}
			defer o.release()
			ops := newOps(cfg, cliLogger(e, cfg))
			req := admin.PruneRequest{Dir: ops.Config.Dir, Policy: &ops.Config.Policy, DryRun: dryRun, Actor: actor()}
			if remote {
				if cfg.BackupRemote == "" {
					return errNoRemoteConfigured()
				}
				req.Remote, req.Policy = true, &ops.Config.RemotePolicy
			}
			var plan *backup.PrunePlan
			if o.client != nil {
				plan, err = o.client.Prune(cmd.Context(), req)
			} else {
				plan, err = ops.Prune(cmd.Context(), o.recorder(), req)
			}
			if plan != nil {
				if asJSON {
					if perr := printJSON(e.Stdout, plan); perr != nil && err == nil {
						err = perr
					}
				} else {
					printPrune(e.Stdout, plan, dryRun)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be kept and deleted; delete nothing")
	cmd.Flags().BoolVar(&remote, "remote", false, "prune CAMPFIRE_BACKUP_REMOTE with the CAMPFIRE_BACKUP_REMOTE_RETENTION_* policy")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the decisions as JSON")
	addBackupConfigFlags(cmd.Flags())
	return cmd
}

func printPrune(w io.Writer, plan *backup.PrunePlan, dryRun bool) {
	fmt.Fprintf(w, "Retention in %s: %s, for each backup type (now %s)\n", plan.Dir, plan.Policy, localTime(plan.Now))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var deleted int
	var bytes int64
	for _, d := range plan.Decisions {
		verb := "keep"
		if !d.Keep {
			verb = "delete"
			deleted++
			bytes += d.Entry.Bytes
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", verb, d.Entry.Name, strings.Join(d.Reasons, "; "))
	}
	staleWhy := "temporary file left by an interrupted backup, older than a day"
	if strings.Contains(plan.Dir, "://") { // prune --remote
		staleWhy = "incomplete: no manifest, uploaded more than a day ago"
	}
	for _, s := range plan.Stale {
		fmt.Fprintf(tw, "delete\t%s\t%s\n", s, staleWhy)
	}
	tw.Flush()
	kept := len(plan.Decisions) - deleted
	if dryRun {
		fmt.Fprintf(w, "Dry run: would delete %d backups (%s) and %d temporary files, keep %d. Nothing was deleted.\n",
			deleted, formatBytes(bytes), len(plan.Stale), kept)
	} else {
		fmt.Fprintf(w, "Deleted %d backups (%s) and %d temporary files; kept %d.\n", deleted, formatBytes(bytes), len(plan.Stale), kept)
	}
	if sp := plan.Segments; sp != nil {
		verb := "Deleted"
		if dryRun {
			verb = "Would delete"
		}
		fmt.Fprintf(w, "Continuous backup: %s %d segments (%s) outside the point-in-time window of %s; kept %d (%s).\n",
			strings.ToLower(verb[:1])+verb[1:], sp.DeletedCount, formatBytes(sp.DeletedBytes), sp.Window, sp.KeptCount, formatBytes(sp.KeptBytes))
		for _, p := range sp.Problems {
			fmt.Fprintf(w, "  note: %s\n", p)
		}
	}
}
