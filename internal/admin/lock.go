package admin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

var errLocked = errors.New("locked")

// LockSuffix names the ownership lock beside the database file.
const LockSuffix = ".lock"

// LockPath returns the ownership lock file of the database at dbPath.
func LockPath(dbPath string) string {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		abs = dbPath
	}
	return abs + LockSuffix
}

// Holder is the process that holds a database's ownership lock, as it
// wrote itself into the lock file.
type Holder struct {
	PID  int    `json:"pid"`
	Role string `json:"role"` // "serve", "backup full", "restore", ...
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "an unknown process"
	}
	if h.Role == "" {
		return fmt.Sprintf("pid %d", h.PID)
	}
	return fmt.Sprintf("pid %d, campfire %s", h.PID, h.Role)
}

// Serving reports whether the holder is campfire serve.
func (h Holder) Serving() bool { return h.Role == RoleServe }

// RoleServe is the role campfire serve writes into the lock.
const RoleServe = "serve"

// BusyError is returned by LockDatabase when another process holds the
// lock.
type BusyError struct {
	Path   string // the database
	Holder Holder
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("the database %s is in use by %s", e.Path, e.Holder)
}

// DBLock is a database's ownership lock. campfire serve holds it for its
// lifetime; a command that works on the database while no server runs
// holds it while it works. flock belongs to the open file, so the lock is
// released when the process exits, however it exits.
type DBLock struct {
	f *os.File
}

// LockDatabase takes the ownership lock of the database at dbPath without
// waiting, creating the lock file (and the database's directory, 0700) if
// needed, and records this process's pid and role in it. When another
// process holds it, the error is a *BusyError naming that process.
func LockDatabase(dbPath, role string) (*DBLock, error) {
	path := LockPath(dbPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database lock: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, &BusyError{Path: strings.TrimSuffix(path, LockSuffix), Holder: ReadHolder(dbPath)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+" "+role+"\n"), 0)
	}
	return &DBLock{f: f}, nil
}

// ReadHolder reads who holds (or last held) the lock of the database at
// dbPath; the zero Holder when unknown.
func ReadHolder(dbPath string) Holder {
	b, err := os.ReadFile(LockPath(dbPath))
	if err != nil {
		return Holder{}
	}
	pid, role, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	n, err := strconv.Atoi(pid)
	if err != nil {
		return Holder{}
	}
	return Holder{PID: n, Role: role}
}

// Unlock releases the lock. The file stays: removing it would let two
// processes lock two different files of the same name.
func (l *DBLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
