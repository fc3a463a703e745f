//go:build !unix

package store

import "os"

// tryLock cannot lock on this system.
func tryLock(f *os.File) (bool, error) { return false, errNoLocks }
