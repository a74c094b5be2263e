package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite"
)

// loss compares what the clients were told was stored with what a
// restore brought back.
type loss struct {
	Acked      int     `json:"acked"`
	Restored   int     `json:"restored_rows"`
	Lost       int     `json:"lost_acked"`
	Holes      int     `json:"holes"` // lost acks older than a restored one: must be 0
	WindowMS   float64 `json:"window_ms"`
	RestoreSec float64 `json:"restore_s"`
	Err        string  `json:"error,omitempty"`
}

// measureLoss: window = ack time of the last acknowledged message − ack
// time of the newest acknowledged message that was restored (0 when all
// are there).
func measureLoss(acks []ack, ids map[int64]bool) loss {
	l := loss{Acked: len(acks), Restored: len(ids)}
	var last, lastKept time.Time
	var newestKeptID int64
	for _, a := range acks {
		if a.At.After(last) {
			last = a.At
		}
		if ids[a.ID] {
			if a.At.After(lastKept) {
				lastKept = a.At
			}
			newestKeptID = max(newestKeptID, a.ID)
		}
	}
	for _, a := range acks {
		if !ids[a.ID] {
			l.Lost++
			if a.ID < newestKeptID {
				l.Holes++
			}
		}
	}
	if l.Lost > 0 {
		l.WindowMS = ms(last.Sub(lastKept))
	}
	return l
}

// messageIDs reads the ids of every message in the database at path.
func messageIDs(ctx context.Context, path string) (map[int64]bool, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id FROM messages`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}

// run runs a command to completion and returns its wall time; the output
// goes to logPath.
func run(cmd *exec.Cmd, logPath string) (time.Duration, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	start := time.Now()
	if err := startChild(cmd); err != nil {
		return 0, err
	}
	err = cmd.Wait()
	children.Lock()
	delete(children.m, cmd.Process.Pid)
	children.Unlock()
	el := time.Since(start)
	if err != nil {
		b, _ := os.ReadFile(logPath)
		return el, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(b)))
	}
	return el, nil
}

// restoreCampfire copies the dead server's backup directory and runs
// `campfire restore latest --auto-confirm` into a new database.
func restoreCampfire(ctx context.Context, bin, backups, into string) (string, time.Duration, error) {
	if err := os.MkdirAll(into, 0o700); err != nil {
		return "", 0, err
	}
	copyDir := filepath.Join(into, "backups")
	if out, err := exec.Command("cp", "-a", backups, copyDir).CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("copy backups: %v: %s", err, out)
	}
	dbPath := filepath.Join(into, "restored.db")
	cmd := exec.CommandContext(ctx, bin, "restore", "latest", "--auto-confirm")
	cmd.Env = serverEnv(dbPath, copyDir, true)
	d, err := run(cmd, filepath.Join(into, "restore.log"))
	return dbPath, d, err
}

// restoreLitestream runs `litestream restore -o NEW file://REPLICA`.
func restoreLitestream(ctx context.Context, bin, replica, into string) (string, time.Duration, error) {
	if err := os.MkdirAll(into, 0o700); err != nil {
		return "", 0, err
	}
	dbPath := filepath.Join(into, "restored.db")
	cmd := exec.CommandContext(ctx, bin, "restore", "-o", dbPath, "file://"+replica)
	d, err := run(cmd, filepath.Join(into, "restore.log"))
	return dbPath, d, err
}
