// The systems whose syscall package has no flock(2) (solaris and aix among
// the Unix systems, windows, plan9, js, wasip1).

//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package store

import "os"

// tryLock cannot lock on this system.
func tryLock(f *os.File) (bool, error) { return false, errNoLocks }
