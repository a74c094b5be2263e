package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
)

func newBackupCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Take, list, verify and prune backups",
		Long: `Take, list, verify and prune backups of the database.

A backup is one consistent snapshot of the SQLite database, compressed
(zstd by default, or gzip) and optionally encrypted (age or OpenPGP), named

  campfire_<type>_<host>_backup_<YYYYMMDD_HHMMSS>.db[.zst|.gz][.age|.gpg]

in CAMPFIRE_BACKUP_DIR (default ./backups), with a manifest beside it
(<name without .db…>.manifest.json: sizes, SHA-256, row counts, schema
version). Decoded with the standard zstd, gunzip, age or gpg tools it is a
plain SQLite database.

Backups work with the server running or stopped. While campfire serve runs,
the command asks it over its admin socket (<database dir>/campfire.sock) and
the server takes the snapshot; otherwise the command does the work itself
under the database's lock. Two backups never run at once: the second waits.
Every backup, verify and prune is recorded in the database's audit log
(see /account/backups, /health/detailed and /metrics) and logged.`,
		Example: `  # Daily full backup, compressed and verified (the spec's backup-enhanced.sh full --compress --verify)
  campfire backup full --compress --verify

  # Hot backup while the server runs, schema-only backup
  campfire backup hot --compress --verify
  campfire backup schema

  # Pre-deployment backup with its own name, encrypted to the configured age recipients
  campfire backup full --compress --verify --encrypt --output pre_deployment_$(date +%Y%m%d_%H%M%S).db

  # Inventory, integrity check, retention
  campfire backup list
  campfire backup verify campfire_full_myhost_backup_20240101_120000.db.zst
  campfire backup prune --dry-run`,
	}
	cmd.AddCommand(
		newBackupTypeCommand(e, backup.TypeFull, "Back up the whole database",
			`A full backup: one consistent snapshot of the whole database.`),
		newBackupTypeCommand(e, backup.TypeHot, "Back up the whole database while it serves (zero downtime)",
			`A hot backup: the same consistent snapshot as a full backup, recorded as
taken while the server serves. Readers and writers are never blocked: the
snapshot is one read transaction.`),
		newBackupTypeCommand(e, backup.TypeSchema, "Back up the database structure only",
			`A schema backup: the tables, indexes and migration records without any
rows, as a SQLite database plus its SQL text (<name>.sql) beside it.`),
		newBackupTypeCommand(e, backup.TypeIncremental, "Back up the changes since the last backup (continuous backup)",
			`An incremental backup: everything committed since the last segment of
continuous backup, written now as the next segment of the chain that starts
at a full backup (under <backup dir>/wal/).

While campfire serve runs (with CAMPFIRE_BACKUP_CONTINUOUS on, the
default) it ships every commit within CAMPFIRE_BACKUP_SHIP_DELAY (50ms)
anyway; this command makes it ship now and says up to where. With no server
running, the command rebuilds the chain's last state from the backups,
compares it page by page with the database file and writes what differs as
the next segment (nothing when nothing changed).

Restore any moment of the chain with campfire restore --to-time.`),
		newBackupListCommand(e),
		newBackupVerifyCommand(e),
		newBackupPruneCommand(e),
		newBackupMonitorCommand(e),
		newBackupDrillCommand(e),
	)
	return cmd
}

// addBackupConfigFlags registers the configuration flags the backup and
// restore commands use.
func addBackupConfigFlags(fs *pflag.FlagSet) {
	all := pflag.NewFlagSet("", pflag.ContinueOnError)
	addConfigFlags(all)
	for _, name := range []string{flagDatabaseURL, flagBackupDir, flagLogLevel, flagLogFormat} {
		fs.AddFlag(all.Lookup(name))
	}
}

type backupFlags struct {
	compress   string
	verify     bool
	encrypt    bool
	remote     bool
	asJSON     bool
	output     string
	recipients []string
	identities []string
}

func newBackupTypeCommand(e *env, typ backup.Type, short, long string) *cobra.Command {
	var f backupFlags
	cmd := &cobra.Command{
		Use:   string(typ) + " [--compress[=zstd|gzip|none]] [--verify] [--encrypt] [--remote] [--output NAME]",
		Short: short,
		Long: long + `

--compress without a value means zstd, unless --output's name ends in .gz
(then gzip); backups are compressed with zstd even without the flag, and
--compress=none stores the plain database. --encrypt encrypts to the age
recipients of CAMPFIRE_BACKUP_AGE_RECIPIENTS or to --recipient (age1…
public keys, a file of them, or an OpenPGP public key file as gpg --export
writes it). Configured recipients encrypt every backup, with or without
--encrypt: a configured key is never silently left unused. --verify checks
the backup once written (checksums, integrity_check, row counts; an
encrypted backup is decrypted for it with CAMPFIRE_BACKUP_AGE_IDENTITY_FILE
or --identity, else its snapshot is checked before encryption).

--output names the file: a bare name goes into the backup directory, a path
is used as is; missing .zst/.gz/.age/.gpg suffixes are added. An existing
file is never replaced.

--remote then copies the backup off-site, to CAMPFIRE_BACKUP_REMOTE
(s3://, gs:// or file://; CAMPFIRE_S3_BUCKET or CAMPFIRE_GCS_BUCKET for
short): the artifact (and a schema backup's .sql) first, its manifest last,
each checked against the manifest's size and SHA-256. A failed upload
leaves the local backup in place and exits 1. With a running server, the
server uploads with its own CAMPFIRE_BACKUP_REMOTE.

Progress shows on stderr when it is a terminal. --json prints the result
(path, manifest, verification report) as JSON.`,
		Example: fmt.Sprintf(`  campfire backup %[1]s --compress --verify
  campfire backup %[1]s --compress=gzip --output before_upgrade.db --json
  CAMPFIRE_BACKUP_AGE_RECIPIENTS=age1… campfire backup %[1]s --encrypt --verify
  CAMPFIRE_S3_BUCKET=campfire-backups campfire backup %[1]s --compress --verify --remote`, typ),
		Args: compressArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd, e, typ, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.compress, "compress", "", "compression: zstd (the default, also --compress alone), gzip or none")
	fl.Lookup("compress").NoOptDefVal = "zstd"
	fl.BoolVar(&f.verify, "verify", false, "verify the backup once written")
	fl.BoolVar(&f.encrypt, "encrypt", false, "encrypt to CAMPFIRE_BACKUP_AGE_RECIPIENTS or --recipient")
	fl.StringArrayVar(&f.recipients, "recipient", nil, "age recipient (age1…), recipients file or OpenPGP public key file; repeatable")
	fl.StringArrayVar(&f.identities, "identity", nil, "identity file to verify an encrypted backup fully; repeatable; env CAMPFIRE_BACKUP_AGE_IDENTITY_FILE")
	fl.StringVar(&f.output, "output", "", "file name (into the backup directory) or path of the backup")
	fl.BoolVar(&f.remote, "remote", false, "then copy it off-site to CAMPFIRE_BACKUP_REMOTE (artifact first, manifest last)")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	addBackupConfigFlags(fl)
	return cmd
}

// checkIncrementalFlags refuses the flags that mean nothing for segments,
// rather than ignore them.
func checkIncrementalFlags(cmd *cobra.Command, f backupFlags) error {
	switch {
	case f.remote:
		return usageErrorf("incremental takes no --remote: with CAMPFIRE_BACKUP_REMOTE set, the server copies every segment there by itself")
	case f.output != "":
		return usageErrorf("incremental takes no --output: segments are named by their position, under <backup dir>/wal/")
	case f.verify:
		return usageErrorf("incremental takes no --verify: campfire backup drill restores the segments and compares them with the database")
	case cmd.Flags().Changed("compress") && f.compress != string(backup.CompressionZstd):
		return usageErrorf("--compress=%s: segments are always zstd-compressed", f.compress)
	}
	return nil
}

// compressArgs refuses positional arguments, with a hint for the common
// slip of "--compress gzip" (the value must follow an equals sign).
func compressArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if _, err := backup.ParseCompression(args[0]); err == nil && args[0] != "" {
		return usageErrorf("unexpected argument %q: write --compress=%s (with =)", args[0], args[0])
	}
	return usageErrorf("unexpected argument %q: %s takes no arguments; run '%s --help' for usage", args[0], cmd.CommandPath(), cmd.CommandPath())
}

func runBackup(cmd *cobra.Command, e *env, typ backup.Type, f backupFlags) error {
	if typ == backup.TypeIncremental {
		if err := checkIncrementalFlags(cmd, f); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(e.Getenv, cmd.Flags())
	if err != nil {
		return err
	}
	if f.remote && cfg.BackupRemote == "" {
		return errNoRemoteConfigured()
	}
	req := admin.BackupRequest{
		Type: string(typ), Encrypt: f.encrypt, Verify: f.verify,
		Dir: absPath(cfg.BackupDir), Actor: actor(), Remote: f.remote,
	}
	if cmd.Flags().Changed("compress") {
		c, err := backup.ParseCompression(f.compress)
		if err != nil {
			return usageErrorf("--compress=%s: use zstd, gzip or none", f.compress)
		}
		req.Compression = string(c)
		// The spec's "--compress --output name.db.gz": the name decides.
		if c == backup.CompressionZstd && strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(f.output, ".age"), ".gpg"), ".gz") {
			req.Compression = ""
		}
	}
	req.Output = f.output
	if strings.ContainsRune(f.output, filepath.Separator) {
		req.Output = absPath(f.output)
	}
	req.Recipients = recipientSpecs(cfg, f.recipients)
	if len(req.Recipients) > 0 || f.encrypt {
		r, err := backup.ParseRecipients(req.Recipients...)
		if err != nil {
			return &usageError{err: err}
		}
		if r.Len() == 0 {
			return usageErrorf("%s", backup.ErrNoRecipients.Message)
		}
	}
	req.Keys = configKeys(cfg, f.identities)

	o, err := claim(cmd.Context(), e, cfg, "backup "+string(typ), needDatabase)
	if err != nil {
		return err
	}
	defer o.release()
	report, clear := progress(e)
	var res *backup.Result
	if o.client != nil {
		res, err = o.client.Backup(cmd.Context(), req, report)
	} else {
		ops := newOps(cfg, cliLogger(e, cfg))
		res, err = ops.Backup(cmd.Context(), backup.FileSource(o.dbPath), o.recorder(), req, report)
	}
	clear()
	if res != nil {
		if f.asJSON {
			if perr := printJSON(e.Stdout, res); perr != nil && err == nil {
				err = perr
			}
		} else {
			printBackup(e.Stdout, o, res)
		}
	}
	return err
}

func printBackup(w io.Writer, o *owner, res *backup.Result) {
	m := res.Manifest
	if m.Type == backup.TypeIncremental {
		printIncremental(w, o, res)
		return
	}
	fmt.Fprintf(w, "Backed up %s to %s\n", o.dbPath, res.Path)
	enc := ""
	if m.Encryption != backup.EncryptionNone {
		enc = ", encrypted with " + string(m.Encryption)
	}
	fmt.Fprintf(w, "  %s backup, schema %d: %s of database, %s stored (%s%s) in %s\n", m.Type, m.SchemaVersion,
		formatBytes(m.DatabaseBytes), formatBytes(m.StoredBytes), m.Compression, enc,
		m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond))
	if m.Type != backup.TypeSchema {
		fmt.Fprintf(w, "  rows: %s\n", formatCounts(m.RowCounts))
	} else if res.SchemaPath != "" {
		fmt.Fprintf(w, "  schema text: %s\n", res.SchemaPath)
	}
	fmt.Fprintf(w, "  manifest: %s\n", res.ManifestPath)
	switch {
	case res.Report != nil && res.Report.OK:
		note := ""
		if m.Verification == backup.VerifiedBeforeEncryption {
			note = " (the snapshot before encryption: no identity to decrypt the file was given)"
		}
		fmt.Fprintf(w, "  verified: %d checks passed%s\n", len(res.Report.Checks), note)
	case res.Report != nil:
		fmt.Fprintln(w, "  VERIFICATION FAILED:")
		for _, c := range res.Report.Failed() {
			fmt.Fprintf(w, "    %s: %s\n", c.Name, c.Detail)
		}
	default:
		fmt.Fprintf(w, "  not verified: run campfire backup verify %s\n", res.Path)
	}
	printUpload(w, res)
	if n := o.serverNote(); n != "" {
		fmt.Fprintf(w, "  taken %s\n", n)
	}
}

func printIncremental(w io.Writer, o *owner, res *backup.Result) {
	m := res.Manifest
	if m.Chain == nil {
		return
	}
	if m.File == "" {
		fmt.Fprintf(w, "Nothing changed in %s since position %d of chain %s (%s): no segment written\n",
			o.dbPath, m.Chain.Seq, m.Chain.Chain, m.CreatedAt.Local().Format(time.DateTime))
	} else {
		fmt.Fprintf(w, "Backed up %s incrementally: chain %s is at position %d, %s\n",
			o.dbPath, m.Chain.Chain, m.Chain.Seq, m.CreatedAt.Local().Format("2006-01-02 15:04:05.000"))
	}
	fmt.Fprintf(w, "  segments: %s\n  extends full backup: %s\n  database checksum at that position: %s\n", res.Path, m.Parent, m.Chain.Checksum)
	if n := o.serverNote(); n != "" {
		fmt.Fprintf(w, "  taken %s\n", n)
	}
}

func formatCounts(c map[string]int64) string {
	var parts []string
	for _, t := range []string{"users", "rooms", "room_memberships", "messages", "boosts", "sessions"} {
		if n, ok := c[t]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", t, n))
		}
	}
	return strings.Join(parts, " ")
}
