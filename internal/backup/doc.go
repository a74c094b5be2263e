// Package backup takes, verifies, lists, prunes and restores Campfire's
// SQLite backups. It is the library under `campfire backup …`,
// `campfire restore …` and the server's admin socket: they parse flags and
// environment, decide who does the work (the server when it runs, the CLI
// under the directory lock when it does not) and print; this package does
// the work.
//
// # Commands and calls
//
//	backup full|hot|schema   Engine{Source, Dir, Host, AppVersion}.Backup(ctx, Request{…})
//	                         Source: the server's *sqldb.DB, or FileSource(path) with no server
//	backup incremental       ParseType or Backup → ErrIncrementalUnavailable
//	backup list [--json]     List(dir)
//	backup verify FILE       Verify(ctx, Find(dir, FILE), VerifyOptions{Identities})
//	backup prune [--dry-run] Prune(ctx, dir, Policy, time.Now(), dryRun, wait)
//	restore --list           List(dir)
//	restore latest|FILE      Latest(List(dir)) or Find(dir, FILE); then
//	                         PrepareRestore (= --verify-only/--dry-run output) and Plan.Apply
//	--encrypt/--recipient    Request.Recipients (CAMPFIRE_BACKUP_AGE_RECIPIENTS, key files)
//	--identity               LoadIdentities (CAMPFIRE_BACKUP_AGE_IDENTITY_FILE)
//
// Errors carry a chat error code (chat.ErrorCode) and match the sentinels
// of errors.go with errors.Is; Report and PrunePlan marshal to JSON.
//
// # Artifacts
//
// A backup is one consistent snapshot of the live database streamed
// through zstd (default) or gzip, then age or OpenPGP, into
//
//	campfire_<type>_<host>_backup_<YYYYMMDD_HHMMSS>[_<n>].db[.zst|.gz][.age|.gpg]
//
// with <base>.manifest.json beside it (Manifest). Once decoded with the
// standard zstd, gunzip, age or gpg tools it is a plain SQLite database
// that the sqlite3 shell opens. Every file is written under a hidden
// temporary name (.campfire-tmp-…), fsynced, made 0600 and renamed, and
// the directory is fsynced. Large files are pushed to the disk every 8 MiB
// while they are written (sync_file_range on Linux), so no final fsync of
// hundreds of MiB makes the live database's commits wait behind it.
//
// # Snapshots
//
// The snapshot is SQLite's online backup API in one step (Step(-1)) inside
// a read transaction of one of the server's read-only connections
// (sqldb.DB.SnapshotTo): a WAL reader never blocks the writer, the row
// counts and the source position are read in the same transaction, and it
// is never a stepped loop (that restarts after every write and never
// finishes on a busy database). VACUUM INTO (sqldb.SnapshotVacuumInto) was
// measured as well. On 200 MB, with a writer posting every 5 ms, the backup
// API took 0.30-0.40 s and VACUUM INTO 0.45-0.87 s
// (BenchmarkSnapshotUnderWrites in internal/sqldb). Neither ever made a
// writer wait for a lock: TestSnapshotTo_NeverBlocksWriter commits with no
// busy timeout during the snapshot. The writer stalls that remain come
// from the disk and the CPUs. The snapshot's output is written without a
// journal or fsync, because it is scratch and the artifact is what gets
// synced. Before that change, the backup API's final fsync of 200 MB held
// up commits for 75-100 ms.
//
// # Verification and restore
//
// Verify checks the SHA-256 of the stored bytes before it decodes
// anything, so any damage to the file is caught there (the codecs' own
// checksums miss some: see TestCorruption_Bare), then the decoded
// database: integrity_check, foreign keys, tables, schema version, row
// counts, consistency. A restore verifies into a temporary file in the
// target's directory, migrates it forward, keeps a safety copy of the
// current database and swaps the files so that a crash at any moment
// leaves the old database or the new one (Plan.Apply).
//
// # Not here yet
//
// Incremental backups and point-in-time restore (continuous WAL shipping),
// remote destinations, and the backup scheduler.
package backup
