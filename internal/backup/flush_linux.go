package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// flushRange starts writing [off, off+n) of f to the disk and waits until
// everything before off is written: the writer runs at most flushEvery
// bytes ahead of the disk, and the page cache never holds a large backlog
// of f for the final fsync (or the kernel's writeback) to push at once.
// Errors are ignored: the final fsync reports real failures.
func flushRange(f *os.File, off, n int64) {
	fd := int(f.Fd())
	if off > 0 {
		_ = unix.SyncFileRange(fd, 0, off, unix.SYNC_FILE_RANGE_WAIT_BEFORE)
	}
	_ = unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
}
