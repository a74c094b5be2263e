//go:build !unix

package monitor

import "errors"

// DiskOf is not implemented here: the low_disk check then passes.
func DiskOf(path string) (*Disk, error) {
	return nil, errors.New("disk space unknown on this platform")
}
