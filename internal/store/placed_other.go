// The systems without a status change time in os.FileInfo (windows,
// plan9, js, wasip1).

//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris)

package store

import (
	"io/fs"
	"time"
)

// changeTime is unknown here: a hard link keeps its source's modification
// time, so nothing tells when it was made, and leftovers without a known
// owner are reported, never removed.
func changeTime(fs.FileInfo) (time.Time, bool) { return time.Time{}, false }
