// The systems whose syscall.Stat_t names the status change time Ctim.

//go:build aix || dragonfly || linux || openbsd || solaris

package store

import (
	"io/fs"
	"syscall"
	"time"
)

// changeTime returns the file's status change time (st_ctime), which
// link(2) and rename(2) set: a hard link made a moment ago is young by it,
// however old its bytes.
func changeTime(fi fs.FileInfo) (time.Time, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(st.Ctim.Unix()), true
}
