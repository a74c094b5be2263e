//go:build unix

package backup

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

var errLocked = errors.New("locked")

// tryLock takes an exclusive flock on f without waiting. flock belongs to
// the open file, so two goroutines of one process exclude each other too.
func tryLock(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

func unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// chownLike gives path the owner and group of like, when the process may
// (a restore run as root must not leave the server's database owned by
// root). Errors are ignored: without the right to chown, the file already
// belongs to the user who runs the restore.
func chownLike(path, like string) {
	fi, err := os.Stat(like)
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		_ = os.Lchown(path, int(st.Uid), int(st.Gid))
	}
}
