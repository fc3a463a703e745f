// The systems whose syscall package has flock(2) with LOCK_NB.

//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock(2) on f without waiting. It reports
// false when another open file description holds a lock on it: its owner
// is alive (the kernel drops the lock when a process dies, however it dies).
// A filesystem that refuses flock (ENOTSUP, EOPNOTSUPP: some FUSE and 9p
// mounts; ENOLCK: NFS without a lock manager) gives an error wrapping
// errNoLocks.
func tryLock(f *os.File) (bool, error) { return flockNB(f, syscall.Flock) }

// flockNB is tryLock with the given flock(2) (tests give the answer of a
// filesystem that refuses it).
func flockNB(f *os.File, flock func(fd, how int) error) (bool, error) {
	for {
		err := flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOLCK):
			return false, fmt.Errorf("%w: flock: %w", errNoLocks, err)
		}
		return false, fmt.Errorf("flock: %w", err)
	}
}
