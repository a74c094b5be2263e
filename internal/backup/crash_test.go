package backup_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

const helperEnv = "CAMPFIRE_BACKUP_TEST_HELPER"

// TestHelperProcess is not a test: TestRestore_Killed runs the test binary
// again with helperEnv set, and this function then plays a process that
// dies with SIGKILL at a chosen moment.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	target := os.Getenv("TARGET")
	switch mode {
	case "write-and-die":
		// A server that commits and is killed: the commits are only in
		// the WAL.
		db := sqldb.New(target)
		db.Logger = slog.New(slog.DiscardHandler)
		db.AutoCheckpoint = false
		if err := db.Open(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		n, _ := strconv.Atoi(os.Getenv("POSTS"))
		for i := range n {
			if _, _, err := db.CreateMessage(ctx, 1, sqldbtest.NewMessage(1, fmt.Sprintf("only in the WAL %d", i))); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "restore":
		plan, err := backup.PrepareRestore(ctx, os.Getenv("ARTIFACT"), target, backup.RestoreOptions{BackupDir: os.Getenv("BACKUPS"), Host: "crash"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		kill := os.Getenv("KILL_AT")
		plan.SetHook(func(step string) error {
			if step == kill {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
			return nil
		})
		if _, err := plan.Apply(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
}

func runHelper(t *testing.T, env ...string) error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return errKilled
		}
	}
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

var errKilled = errors.New("killed")

// TestRestore_Killed kills a restore (SIGKILL, a real process) before each
// step of Apply and checks that the database a server then opens holds
// exactly the old data (including commits that were only in its WAL) or
// exactly the new data, is intact, and that a second restore then works.
func TestRestore_Killed(t *testing.T) {
	const oldMessages, walMessages = 50, 7
	newState := map[string]bool{"replace": true, "sync-dir": true, "": true}
	for _, step := range append(append([]string(nil), backup.RestoreSteps...), "") {
		name := step
		if name == "" {
			name = "NotKilled"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "data", "campfire.db")
			backups := filepath.Join(dir, "backups")
			f := newFixtureAt(t, target)
			e := &backup.Engine{Source: f.db, Dir: backups, Host: "h"}
			res := mustBackup(t, e, backup.Request{Type: backup.TypeFull})
			newCount := res.Manifest.RowCounts["messages"]
			f.post(t, oldMessages-int(newCount), "old")
			if err := f.db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := runHelper(t, helperEnv+"=write-and-die", "TARGET="+target, "POSTS="+strconv.Itoa(walMessages)); !errors.Is(err, errKilled) {
				t.Fatalf("writer: %v", err)
			}
			if fi, err := os.Stat(target + "-wal"); err != nil || fi.Size() == 0 {
				t.Fatalf("no hot WAL to protect: %v", err)
			}

			err := runHelper(t, helperEnv+"=restore", "TARGET="+target, "ARTIFACT="+res.Path, "BACKUPS="+backups, "KILL_AT="+step)
			if step == "" && err != nil || step != "" && !errors.Is(err, errKilled) {
				t.Fatalf("restore killed at %q: %v", step, err)
			}

			// What a server finds when it starts.
			db := sqldb.New(target)
			db.Logger = slog.New(slog.DiscardHandler)
			if err := db.Open(ctx); err != nil {
				t.Fatalf("open after a restore killed at %q: %v", step, err)
			}
			db.Close()
			got := countRows(t, target)
			sdb := openPlain(t, target)
			var ic string
			sdb.QueryRow(`PRAGMA integrity_check`).Scan(&ic)
			var fromWAL int64
			sdb.QueryRow(`SELECT COUNT(*) FROM messages WHERE body LIKE 'only in the WAL %'`).Scan(&fromWAL)
			sdb.Close()
			if ic != "ok" {
				t.Errorf("integrity_check = %q", ic)
			}
			if newState[step] {
				if got["messages"] != newCount || fromWAL != 0 {
					t.Errorf("killed at %q: %d messages (%d from the old WAL), want the backup's %d", step, got["messages"], fromWAL, newCount)
				}
			} else if got["messages"] != oldMessages+walMessages || fromWAL != walMessages {
				t.Errorf("killed at %q: %d messages (%d from the WAL), want the old %d (+%d from the WAL)", step, got["messages"], fromWAL, oldMessages, walMessages)
			}

			// A restore after the crash works and cleans up.
			plan, err := backup.PrepareRestore(ctx, res.Path, target, backup.RestoreOptions{BackupDir: backups})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := plan.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, target)["messages"]; n != newCount {
				t.Errorf("second restore: %d messages", n)
			}
			if _, err := os.Stat(target + ".restore-ready"); err == nil {
				t.Error(".restore-ready left after a successful restore")
			}
			// Every safety copy taken holds the old data.
			list, _ := backup.List(backups)
			for _, e := range list {
				if e.Type == backup.TypeSafety {
					if n := e.Manifest.RowCounts["messages"]; n != oldMessages+walMessages && n != newCount {
						t.Errorf("safety copy %s has %d messages", e.Name, n)
					}
				}
			}
		})
	}
}
