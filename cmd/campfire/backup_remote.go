package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/remote"
)

// Off-site (--remote) parts of the backup and restore commands.

// remoteListTimeout bounds a listing of the destination.
const remoteListTimeout = 2 * time.Minute

func errNoRemoteConfigured() error {
	return usageErrorf("--remote needs an off-site destination: set CAMPFIRE_BACKUP_REMOTE (s3://BUCKET/PREFIX?region=…, gs://BUCKET/PREFIX or file:///DIR), or CAMPFIRE_S3_BUCKET (+ CAMPFIRE_S3_REGION) or CAMPFIRE_GCS_BUCKET")
}

// printUpload says where a backup's off-site copy went.
func printUpload(w io.Writer, res *backup.Result) {
	if up := res.Upload; up != nil {
		fmt.Fprintf(w, "  off-site: %s copied to %s in %s (%d objects, manifest last)\n", formatBytes(up.Bytes), up.Destination,
			(time.Duration(up.DurationMS) * time.Millisecond).String(), len(up.Keys))
	}
}

// listRemoteBackups lists the destination's backups, newest first.
func listRemoteBackups(ctx context.Context, cfg Config) ([]backup.Entry, string, error) {
	if cfg.BackupRemote == "" {
		return nil, "", errNoRemoteConfigured()
	}
	ctx, cancel := context.WithTimeout(ctx, remoteListTimeout)
	defer cancel()
	st, err := remote.Open(ctx, cfg.BackupRemote)
	if err != nil {
		return nil, "", err
	}
	defer st.Close()
	entries, err := backup.ListRemote(ctx, st)
	return entries, st.String(), err
}

// runListRemote is backup list --remote.
func runListRemote(ctx context.Context, e *env, cfg Config, asJSON bool) error {
	entries, where, err := listRemoteBackups(ctx, cfg)
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
		fmt.Fprintf(e.Stdout, "No backups in %s.\n", where)
		return nil
	}
	fmt.Fprintf(e.Stdout, "Backups in %s:\n", where)
	printEntries(e.Stdout, entries, "")
	return nil
}
