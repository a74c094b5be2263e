//go:build unix

package monitor

import "syscall"

// DiskOf returns the free (for unprivileged users) and total space of the
// file system holding path.
func DiskOf(path string) (*Disk, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return nil, err
	}
	return &Disk{Path: path, FreeBytes: st.Bavail * uint64(st.Bsize), TotalBytes: st.Blocks * uint64(st.Bsize)}, nil
}
