//go:build unix

package web

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

func diskUsage(name, path string) diskHealth {
	d := diskHealth{Name: name, Path: path}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		d.Error = "cannot read disk usage"
		return d
	}
	d.FreeBytes = st.Bavail * uint64(st.Bsize)
	d.TotalBytes = st.Blocks * uint64(st.Bsize)
	return d
}

// residentBytes reads the resident set size from /proc (0 where absent).
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
