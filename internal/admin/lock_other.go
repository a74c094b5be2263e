//go:build !unix

package admin

import (
	"errors"
	"os"
)

func tryLock(f *os.File) error {
	return errors.New("the database lock needs a Unix system")
}

func unlock(f *os.File) error { return nil }
