//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// becomeDataOwner makes an admin command run as root on a data directory
// that belongs to another user (the service user, say) take that user's
// identity before it opens anything in the directory. Every file it then
// creates, including the SQLite -wal and -shm files that appear later, the
// spool and the mailbox directories, belongs to the directory's owner, so
// the server running as that user can still write them. Changing identity
// rather than chowning each file covers the files that libraries create.
// On Linux, Go applies Setuid and Setgid to every thread (Go 1.16 and
// later). Not root, or a directory owned by root or not there yet: nothing
// changes.
func becomeDataOwner(dataDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	uid, gid := int(st.Uid), int(st.Gid)
	// Groups first: once the user ID is not root, they cannot change.
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("data directory %s belongs to uid %d: setgroups: %w", dataDir, uid, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("data directory %s belongs to uid %d: setgid %d: %w", dataDir, uid, gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("data directory %s belongs to uid %d: setuid: %w", dataDir, uid, err)
	}
	return nil
}
