package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SocketName is the admin socket's file name, in the database's directory.
const SocketName = "campfire.sock"

// SocketPath returns the admin socket of the server that owns the database
// at dbPath.
func SocketPath(dbPath string) string {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		abs = dbPath
	}
	return filepath.Join(filepath.Dir(abs), SocketName)
}

// maxSocketPath is the longest path a Unix socket address holds (108 bytes
// on Linux including the terminating NUL; 104 on the BSDs).
const maxSocketPath = 103

// Listen creates the admin socket at path, readable and writable by the
// owner only. A socket left behind by a server that crashed (nobody
// answers on it) is replaced; one a live server answers on is refused. On
// Linux, connections from other users than this process's (and root) are
// closed at once, whatever the file's mode. Closing the listener removes
// the socket file.
func Listen(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("admin socket path %s is too long for a Unix socket (%d bytes, at most %d): keep the database in a shorter path", path, len(path), maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("admin socket %s exists and is not a socket: move it away", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another campfire serve answers on %s: stop it first", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove the stale admin socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return &peerListener{Listener: ln}, nil
}

// peerListener accepts only connections whose peer may administer the
// server (see peerAllowed).
type peerListener struct {
	net.Listener
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if peerAllowed(c) {
			return c, nil
		}
		c.Close()
	}
}
