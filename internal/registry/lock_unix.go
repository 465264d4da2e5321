//go:build unix

package registry

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockPath takes the exclusive lock bbolt itself takes on the store file (flock), so the
// file is not judged, renamed or rebuilt while another router has it open. No file: nothing
// to lock.
func lockPath(path string, timeout time.Duration) (unlock func(), err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s (is another router using it?): %w", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
