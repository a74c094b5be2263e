package admin_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

var ctx = context.Background()

func TestLockDatabase(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "data", "campfire.db")
	l, err := admin.LockDatabase(dbPath, "backup full")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(admin.LockPath(dbPath)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v", err)
	}
	_, err = admin.LockDatabase(dbPath, admin.RoleServe)
	var busy *admin.BusyError
	if !errors.As(err, &busy) || busy.Holder.PID != os.Getpid() || busy.Holder.Role != "backup full" || busy.Holder.Serving() {
		t.Fatalf("second lock = %v, want busy, held by this process's backup full", err)
	}
	if !strings.Contains(err.Error(), "campfire backup full") || !strings.Contains(err.Error(), dbPath) {
		t.Errorf("busy error %q does not name the holder and the database", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := admin.LockDatabase(dbPath, admin.RoleServe)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	if h := admin.ReadHolder(dbPath); h.PID != os.Getpid() || !h.Serving() {
		t.Errorf("holder = %+v", h)
	}
	l2.Unlock()
}

// shortDir is a temporary directory with a short path: socket paths are
// limited to about 100 bytes, and t.TempDir() under a long test name is
// not.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "cf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestListen(t *testing.T) {
	sock := filepath.Join(shortDir(t), admin.SocketName)
	// A stale socket (nobody listens) is replaced.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	ln, err := admin.Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v, mode %v; want 0600", err, fi.Mode())
	}
	go http.Serve(ln, http.NotFoundHandler())
	// A live one is refused.
	if _, err := admin.Listen(sock); err == nil || !strings.Contains(err.Error(), "another campfire serve") {
		t.Errorf("Listen over a live socket = %v", err)
	}
	ln.Close()
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("closing the listener left the socket (%v)", err)
	}
	// Something else at the path is left alone.
	os.WriteFile(sock, []byte("x"), 0o600)
	if _, err := admin.Listen(sock); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file = %v", err)
	}
	if _, err := admin.Listen("/" + strings.Repeat("x", 200) + "/campfire.sock"); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("Listen on a long path = %v", err)
	}
}

// host is a minimal admin.Host around one database: what web.Server does,
// without HTTP.
type host struct {
	mu          sync.Mutex
	db          *sqldb.DB
	maintaining bool
}

func (h *host) Use(ctx context.Context, fn func(*sqldb.DB) error) error {
	h.mu.Lock()
	db, m := h.db, h.maintaining
	h.mu.Unlock()
	if m {
		return admin.ErrMaintenance
	}
	return fn(db)
}

func (h *host) Maintain(ctx context.Context, fn func(context.Context) error) error {
	h.mu.Lock()
	h.maintaining = true
	old := h.db
	h.mu.Unlock()
	old.Close()
	err := fn(ctx)
	db := sqldb.New(old.Path)
	db.Logger = old.Logger
	if oerr := db.Open(ctx); oerr != nil {
		return errors.Join(err, oerr)
	}
	h.mu.Lock()
	h.db, h.maintaining = db, false
	h.mu.Unlock()
	return err
}

// TestSocketRoundTrip runs every operation through a real socket, as the
// CLI does with a running server.
func TestSocketRoundTrip(t *testing.T) {
	dir := shortDir(t)
	dbPath := filepath.Join(dir, "data", "campfire.db")
	db := sqldbtest.MustOpenFile(t, dbPath, nil)
	adminUser, room := sqldbtest.MustFirstRun(t, db)
	sqldbtest.MustPost(t, db, adminUser.ID, room.ID, "in the backup")
	h := &host{db: db}
	t.Cleanup(func() { h.db.Close() })

	backupDir := filepath.Join(dir, "backups")
	ops := &admin.Ops{
		Config:     admin.Config{Dir: backupDir, Policy: backup.DefaultPolicy(), Host: "test-host"},
		AppVersion: "test",
		Logger:     slog.New(slog.DiscardHandler),
	}
	sock := admin.SocketPath(dbPath)
	ln, err := admin.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.NewHandler(h, ops, admin.Status{PID: 42, Version: "test", Database: dbPath, BackupDir: backupDir})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c, err := admin.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.PID != 42 || c.Status.Database != dbPath {
		t.Errorf("status = %+v", c.Status)
	}
	if _, err := admin.Dial(ctx, filepath.Join(dir, "nothing.sock")); err == nil {
		t.Error("Dial to a missing socket succeeded")
	}

	var progress int
	res, err := c.Backup(ctx, admin.BackupRequest{Type: "full", Verify: true, Actor: "cli:test@host"}, func(p admin.Progress) {
		if p.Stage != "backup" || p.Total <= 0 || p.Done > p.Total {
			t.Errorf("progress %+v", p)
		}
		progress++
	})
	if err != nil || res == nil || !res.Manifest.Verified() || res.Manifest.RowCounts["messages"] != 1 {
		t.Fatalf("Backup = %+v, %v", res, err)
	}
	if progress == 0 {
		t.Error("no progress was streamed")
	}
	if _, err := c.Backup(ctx, admin.BackupRequest{Type: "incremental"}, nil); chat.ErrorCode(err) != chat.EUNAVAILABLE ||
		!strings.Contains(err.Error(), "Continuous backup is off in the running server") || strings.HasPrefix(err.Error(), "unavailable:") {
		t.Errorf("incremental = %v", err)
	}

	rep, err := c.Verify(ctx, admin.VerifyRequest{File: filepath.Base(res.Path), Actor: "cli:test@host"}, nil)
	if err != nil || !rep.OK {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
	plan, err := c.Prune(ctx, admin.PruneRequest{DryRun: true})
	if err != nil || len(plan.Decisions) != 1 || !plan.Decisions[0].Keep {
		t.Errorf("Prune = %+v, %v", plan, err)
	}

	h.Use(ctx, func(db *sqldb.DB) error {
		sqldbtest.MustPost(t, db, adminUser.ID, room.ID, "not in the backup")
		return nil
	})
	dry, err := c.Restore(ctx, admin.RestoreRequest{File: res.Path, DryRun: true}, nil)
	if err != nil || !dry.DryRun || dry.Plan.Target != dbPath || dry.Result != nil {
		t.Fatalf("Restore dry run = %+v, %v", dry, err)
	}
	var notices []string
	c.Notice = func(s string) { notices = append(notices, s) }
	out, err := c.Restore(ctx, admin.RestoreRequest{File: res.Path, Actor: "cli:test@host"}, nil)
	if err != nil || out.Result == nil || out.Result.Safety == nil {
		t.Fatalf("Restore = %+v, %v", out, err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "503") {
		t.Errorf("notices = %q", notices)
	}
	h.Use(ctx, func(db *sqldb.DB) error {
		msgs, err := db.FindMessages(ctx, adminUser.ID, room.ID, chat.Page{})
		if err != nil || len(msgs) != 1 || msgs[0].Body != "in the backup" {
			t.Errorf("after the restore the room holds %v (%v)", msgs, err)
		}
		evs, err := db.BackupEvents(ctx, 1)
		if err != nil || len(evs) != 1 || evs[0].Action != "restore" || evs[0].Actor != "cli:test@host" || evs[0].Status != "success" {
			t.Errorf("the restored database's newest event = %+v (%v)", evs, err)
		}
		return nil
	})

	// A damaged backup: refused, nothing changes, the error says why.
	b, _ := os.ReadFile(res.Path)
	b[len(b)/2] ^= 1
	os.WriteFile(res.Path, b, 0o600)
	if _, err := c.Restore(ctx, admin.RestoreRequest{File: res.Path}, nil); err == nil || !strings.Contains(err.Error(), "failed verification") {
		t.Errorf("restore of a damaged backup = %v", err)
	}
	// During maintenance the operations that need the database wait their turn: 503.
	h.mu.Lock()
	h.maintaining = true
	h.mu.Unlock()
	if _, err := c.Backup(ctx, admin.BackupRequest{Type: "full"}, nil); chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("backup during maintenance = %v", err)
	}
	h.mu.Lock()
	h.maintaining = false
	h.mu.Unlock()
}
