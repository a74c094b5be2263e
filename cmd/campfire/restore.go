package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

type restoreFlags struct {
	list        bool
	dryRun      bool
	verifyOnly  bool
	autoConfirm bool
	asJSON      bool
	remote      bool
	toTime      string
	identities  []string
}

func newRestoreCommand(e *env) *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore --list | latest | FILE [--from-remote] [--dry-run] [--verify-only] [--auto-confirm]",
		Short: "Restore the database from a backup",
		Long: `Restore the database from a backup: "latest" (the newest verified full or hot
backup in CAMPFIRE_BACKUP_DIR) or FILE (a path, or a name in the backup
directory). --list shows what can be restored.

A restore verifies the backup before it touches anything (checksums,
integrity_check, row counts; an encrypted one is decrypted with
CAMPFIRE_BACKUP_AGE_IDENTITY_FILE or --identity), prepares the database
beside the current one and migrates it to this version's schema. Then it
keeps a safety backup of the current database in the backup directory
(campfire_safety_<host>_backup_<time>.db), and swaps the files atomically:
an interruption at any moment leaves the old database or the new one.

--dry-run does all the checks and prints exactly what would happen, changing
nothing. --verify-only checks the backup and exits. Otherwise the restore
asks for confirmation on a terminal; without a terminal (a script, cron) it
refuses unless --auto-confirm is given.

While campfire serve runs, the server does the restore: it answers 503
("Restoring a backup; back in a moment.") and closes WebSockets (pages
reconnect by themselves) for the moment of the swap, then serves the
restored data. A restore that replaced the database is recorded in the
restored database's audit log; a refused or dry-run one only in the log.

--from-remote takes the backup from the off-site destination
(CAMPFIRE_BACKUP_REMOTE) instead: "latest" is its newest verified, complete
full or hot backup (by its manifest). The backup and its manifest are
downloaded into a private directory (0700) inside the backup directory,
which is created if missing; their size and SHA-256 are checked against the
manifest before anything else, then the restore goes on as above and the
download is removed. An incomplete remote backup is refused by name. This is
the disaster recovery path: it needs only the binary and the environment,
and creates the database if there is none.`,
		Example: `  campfire restore --list
  campfire restore latest
  campfire restore campfire_full_myhost_backup_20240101_120000.db.zst --dry-run
  campfire restore --verify-only campfire_full_myhost_backup_20240101_120000.db.zst
  campfire restore campfire_full_myhost_backup_20240101_120000.db.zst --auto-confirm

  # Disaster recovery on an empty machine, from the off-site copies
  campfire restore --list --from-remote
  campfire restore --from-remote latest --auto-confirm

  # Undo a restore: restore the safety copy it made
  campfire restore campfire_safety_myhost_backup_20240102_093000.db --auto-confirm`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd, e, f, args)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.list, "list", false, "list the backups that can be restored, newest first")
	fl.BoolVar(&f.dryRun, "dry-run", false, "verify and report what would happen; change nothing")
	fl.BoolVar(&f.verifyOnly, "verify-only", false, "verify the backup and exit")
	fl.BoolVar(&f.autoConfirm, "auto-confirm", false, "do not ask for confirmation (needed without a terminal)")
	fl.BoolVar(&f.asJSON, "json", false, "print the list, plan or result as JSON")
	fl.StringArrayVar(&f.identities, "identity", nil, "identity file to decrypt with (age or OpenPGP private key); repeatable; env CAMPFIRE_BACKUP_AGE_IDENTITY_FILE")
	fl.StringVar(&f.toTime, "to-time", "", `point-in-time restore: the database as it was at "YYYY-MM-DD HH:MM:SS" (local time) or an RFC 3339 time`)
	addRestoreRemoteFlags(fl, &f)
	addBackupConfigFlags(fl)
	return cmd
}

func runRestore(cmd *cobra.Command, e *env, f restoreFlags, args []string) error {
	if f.remote {
		return runRestoreRemote(cmd, e, f, args)
	}
	cfg, err := loadConfig(e.Getenv, cmd.Flags())
	if err != nil {
		return err
	}
	dir := absPath(cfg.BackupDir)
	if f.list {
		if len(args) > 0 {
			return usageErrorf("--list takes no backup name; run 'campfire restore --list' alone")
		}
		return listRestorable(e, dir, f.asJSON)
	}
	req := admin.RestoreRequest{Dir: dir, Keys: configKeys(cfg, f.identities), Actor: actor()}
	switch {
	case cmd.Flags().Changed("to-time"):
		if len(args) > 0 {
			return usageErrorf("--to-time picks the backups itself: name no backup (%q)", args[0])
		}
		t, err := parseRestoreTime(f.toTime)
		if err != nil {
			return err
		}
		req.PointInTime, req.ToTime = true, t
	case len(args) == 0:
		return usageErrorf("name the backup to restore: campfire restore latest, campfire restore FILE, or campfire restore --to-time \"YYYY-MM-DD HH:MM:SS\" (campfire restore --list shows them)")
	case args[0] == "latest" && hasChain(dir):
		// The last shipped commit of continuous backup: newer than any
		// full backup.
		req.PointInTime = true
	default:
		artifact, note, err := pickBackup(dir, args[0])
		if err != nil {
			return err
		}
		if note != "" {
			fmt.Fprintf(e.Stderr, "note: %s\n", note)
		}
		req.File = artifact
	}

	if f.verifyOnly {
		if req.PointInTime {
			return usageErrorf("--verify-only checks one backup file; for a point-in-time restore use --dry-run, which verifies the base and every segment")
		}
		return restoreVerifyOnly(cmd, e, cfg, req, f.asJSON)
	}
	interactive := e.terminal(e.Stdin)
	if !f.dryRun && !f.autoConfirm && !interactive {
		return usageErrorf("refusing to restore without confirmation: stdin is not a terminal. Check with 'campfire restore %s --dry-run', then run again with --auto-confirm; nothing was changed", args[0])
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

// pickBackup resolves "latest" or a FILE argument to a path, with a note
// for people when latest passed over newer unverified backups.
func pickBackup(dir, arg string) (path, note string, err error) {
	if arg != "latest" {
		p, err := backup.Find(dir, arg)
		if err != nil {
			return "", "", err
		}
		return absPath(p), "", nil
	}
	entries, err := backup.List(dir)
	if err != nil {
		return "", "", err
	}
	var newerUnverified []string
	for _, en := range entries { // newest first
		if en.Type != backup.TypeFull && en.Type != backup.TypeHot {
			continue
		}
		if en.Verified() {
			if len(newerUnverified) > 0 {
				note = fmt.Sprintf("latest is %s, the newest verified backup; the newer %s %s not verified (verify, or name it, to restore it)",
					en.Name, strings.Join(newerUnverified, ", "), plural(len(newerUnverified), "is", "are"))
			}
			return en.Path, note, nil
		}
		if en.Status == backup.StatusUnverified {
			newerUnverified = append(newerUnverified, en.Name)
		}
	}
	if len(newerUnverified) > 0 {
		return "", "", fmt.Errorf("no verified full or hot backup in %s; the newest, %s, was never verified: run campfire backup verify %s, or restore it by name",
			dir, newerUnverified[0], newerUnverified[0])
	}
	return "", "", fmt.Errorf("no full or hot backup in %s to restore (campfire restore --list shows what there is)", dir)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// restorable reports whether a listed backup can replace the database.
func restorable(en backup.Entry) bool {
	return en.Type == backup.TypeFull || en.Type == backup.TypeHot || en.Type == backup.TypeSafety
}

func listRestorable(e *env, dir string, asJSON bool) error {
	entries, err := backup.List(dir)
	if err != nil {
		return err
	}
	latest := ""
	if p, _, err := pickBackup(dir, "latest"); err == nil {
		latest = p
	}
	return printRestorable(context.Background(), e, restorableList{Dir: dir}, backup.DirStore(dir), entries, latest, asJSON)
}

// restorableList is what restore --list prints: the backups of one place
// that can replace the database, the one "latest" means, and the windows
// of point-in-time restore.
type restorableList struct {
	Dir     string          `json:"dir,omitempty"`
	Remote  string          `json:"remote,omitempty"`
	Latest  string          `json:"latest"`
	Backups []backup.Entry  `json:"backups"`
	Windows []backup.Window `json:"windows"`
}

func printRestorable(ctx context.Context, e *env, l restorableList, st backup.ObjectStore, entries []backup.Entry, latest string, asJSON bool) error {
	l.Latest, l.Backups = latest, []backup.Entry{}
	for _, en := range entries {
		if restorable(en) {
			l.Backups = append(l.Backups, en)
		}
	}
	ws, err := backup.Windows(ctx, st, entries)
	if err != nil {
		return err
	}
	l.Windows = append([]backup.Window{}, ws...)
	if asJSON {
		return printJSON(e.Stdout, l)
	}
	where, flag := l.Dir, ""
	if l.Remote != "" {
		where, flag = l.Remote, " --from-remote"
	}
	if len(l.Backups) == 0 {
		fmt.Fprintf(e.Stdout, "No backup to restore in %s.\n", where)
		return nil
	}
	if l.Remote != "" {
		fmt.Fprintf(e.Stdout, "Backups in %s:\n", where)
	}
	printEntries(e.Stdout, l.Backups, latest)
	switch {
	case chainIn(entries):
		fmt.Fprintf(e.Stdout, "latest: 'campfire restore%s latest' restores the last commit continuous backup shipped there (see below)\n", flag)
	case latest != "":
		fmt.Fprintf(e.Stdout, "latest: what 'campfire restore%s latest' restores (the newest verified, complete full or hot backup)\n", flag)
	}
	printWindows(e.Stdout, ws)
	return nil
}

func restoreVerifyOnly(cmd *cobra.Command, e *env, cfg Config, req admin.RestoreRequest, asJSON bool) error {
	rep, err := verifyBackup(cmd, e, cfg, admin.VerifyRequest{File: req.File, Dir: req.Dir, Keys: req.Keys, Actor: req.Actor, Remote: req.Remote}, "restore --verify-only")
	if rep != nil {
		if asJSON {
			if perr := printJSON(e.Stdout, rep); perr != nil && err == nil {
				err = perr
			}
		} else {
			printReport(e.Stdout, rep)
		}
	}
	if err != nil {
		return err
	}
	if m := rep.Manifest; m != nil {
		if m.Type != backup.TypeFull && m.Type != backup.TypeHot && m.Type != backup.TypeSafety {
			return fmt.Errorf("%s passes verification, but it is a %s backup: restore would refuse it", filepath.Base(req.File), m.Type)
		}
		if latest := sqldb.LatestSchemaVersion(); m.SchemaVersion > latest {
			return fmt.Errorf("%s passes verification, but its schema (%d) is newer than this binary's (%d): upgrade campfire to restore it", filepath.Base(req.File), m.SchemaVersion, latest)
		}
	}
	if !asJSON {
		fmt.Fprintf(e.Stdout, "%s can be restored.\n", filepath.Base(req.File))
	}
	return nil
}

func restoreThroughServer(cmd *cobra.Command, e *env, o *owner, req admin.RestoreRequest, f restoreFlags) error {
	ctx := cmd.Context()
	report, clear := progress(e)
	if f.dryRun || !f.autoConfirm {
		dry := req
		dry.DryRun = true
		out, err := o.client.Restore(ctx, dry, report)
		clear()
		if err != nil {
			return err
		}
		if f.dryRun {
			return printPlan(e, out, o, true, f.asJSON)
		}
		if err := printPlan(e, out, o, false, false); err != nil {
			return err
		}
		if ok, err := confirm(e, out.Plan); err != nil || !ok {
			return cancelled(err)
		}
		report, clear = progress(e)
	}
	out, err := o.client.Restore(ctx, req, report)
	clear()
	if err != nil {
		return err
	}
	return printRestored(e, out, o, f.asJSON)
}

func restoreAlone(cmd *cobra.Command, e *env, cfg Config, o *owner, req admin.RestoreRequest, f restoreFlags) error {
	ctx := cmd.Context()
	ops := newOps(cfg, cliLogger(e, cfg))
	started := time.Now()
	report, clear := progress(e)
	plan, err := ops.PrepareRestore(ctx, req, o.dbPath, false, report)
	clear()
	if err != nil {
		ops.RecordRestore(ctx, nil, req, plan, nil, err, started)
		return err
	}
	defer plan.Discard() // no-op once applied
	if f.dryRun {
		plan.Discard()
		dry := req
		dry.DryRun = true
		ops.RecordRestore(ctx, nil, dry, plan, nil, nil, started)
		return printPlan(e, &admin.RestoreOutcome{DryRun: true, Plan: plan}, o, true, f.asJSON)
	}
	if !f.autoConfirm {
		if err := printPlan(e, &admin.RestoreOutcome{Plan: plan}, o, false, false); err != nil {
			return err
		}
		if ok, err := confirm(e, plan); err != nil || !ok {
			return cancelled(err)
		}
	}
	res, err := plan.Apply(ctx)
	if err != nil {
		ops.RecordRestore(ctx, nil, req, plan, res, err, started)
		return err
	}
	// Recorded in the restored database (migrated by PrepareRestore).
	ops.RecordRestore(ctx, admin.FileRecorder(o.dbPath), req, plan, res, nil, started)
	return printRestored(e, &admin.RestoreOutcome{Plan: plan, Result: res}, o, f.asJSON)
}

// confirm asks on stderr and reads the answer from stdin.
func confirm(e *env, plan *backup.Plan) (bool, error) {
	fmt.Fprintf(e.Stderr, "Replace %s with %s? The current database is kept as a safety backup first. [y/N] ",
		plan.Target, filepath.Base(plan.Source))
	line, err := bufio.NewReader(e.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func cancelled(err error) error {
	if err != nil {
		return fmt.Errorf("restore cancelled (%v); nothing was changed", err)
	}
	return errors.New("restore cancelled; nothing was changed")
}

func printPlan(e *env, out *admin.RestoreOutcome, o *owner, dryRun, asJSON bool) error {
	if asJSON {
		return printJSON(e.Stdout, out)
	}
	w := e.Stdout
	if !dryRun {
		// Before the question: on stderr, with it.
		w = e.Stderr
	}
	p := out.Plan
	if dryRun {
		fmt.Fprintln(w, "Dry run: nothing was changed. A restore would:")
	} else {
		fmt.Fprintln(w, "Restore plan:")
	}
	src := filepath.Base(p.Source)
	if m := p.Manifest; m != nil {
		state := "unverified"
		if m.Verified() {
			state = "verified " + localTime(*m.VerifiedAt)
		}
		fmt.Fprintf(w, "  from    %s (%s backup of %s, %s)\n", p.Source, m.Type, localTime(m.CreatedAt), state)
	} else {
		fmt.Fprintf(w, "  from    %s\n", p.Source)
	}
	printPointInTime(w, p)
	if p.Report != nil {
		var names []string
		for _, c := range p.Report.Checks {
			names = append(names, c.Name)
		}
		fmt.Fprintf(w, "  checks  all %d passed just now: %s\n", len(p.Report.Checks), strings.Join(names, ", "))
	}
	fmt.Fprintf(w, "  rows    %s\n", formatCounts(p.RowCounts))
	if p.SchemaFrom != p.SchemaTo {
		fmt.Fprintf(w, "  schema  %d, migrated to %d\n", p.SchemaFrom, p.SchemaTo)
	} else {
		fmt.Fprintf(w, "  schema  %d\n", p.SchemaTo)
	}
	if p.TargetExists {
		fmt.Fprintf(w, "  into    %s (%s now)\n", p.Target, formatBytes(p.TargetBytes))
		fmt.Fprintf(w, "  steps   1. keep a safety backup of the current database in %s (campfire_safety_…db)\n", p.SafetyDir)
		fmt.Fprintf(w, "          2. checkpoint it and remove its -wal and -shm files\n")
		fmt.Fprintf(w, "          3. rename the verified %s database (%s) over it, atomically\n", src, formatBytes(p.ReadyBytes))
	} else {
		fmt.Fprintf(w, "  into    %s (does not exist yet: no safety backup needed)\n", p.Target)
	}
	if o.client != nil {
		fmt.Fprintf(w, "  server  campfire serve (pid %d) pauses for the swap: requests answer 503, WebSockets reconnect\n", o.client.Status.PID)
	}
	return nil
}

func printRestored(e *env, out *admin.RestoreOutcome, o *owner, asJSON bool) error {
	if asJSON {
		return printJSON(e.Stdout, out)
	}
	w := e.Stdout
	p := out.Plan
	fmt.Fprintf(w, "Restored %s into %s.\n", p.Source, p.Target)
	printPointInTime(w, p)
	fmt.Fprintf(w, "  rows: %s\n", formatCounts(p.RowCounts))
	if r := out.Result; r != nil && r.Safety != nil {
		fmt.Fprintf(w, "  safety backup of the replaced database: %s\n", r.Safety.Path)
		fmt.Fprintf(w, "  to undo: campfire restore %s --auto-confirm\n", r.Safety.Path)
	} else if r != nil && r.SafetyRaw != "" {
		fmt.Fprintf(w, "  the replaced database could not be opened; it was copied byte for byte to %s\n", r.SafetyRaw)
	}
	if o.client != nil {
		fmt.Fprintf(w, "  campfire serve (pid %d) paused for %s and serves the restored data.\n",
			o.client.Status.PID, (time.Duration(out.PausedMS) * time.Millisecond).String())
	}
	return nil
}
