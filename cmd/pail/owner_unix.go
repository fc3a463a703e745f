//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
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
	uid := int(st.Uid)
	gid, groups, err := ownerGroups(uid, int(st.Gid))
	if err != nil {
		return fmt.Errorf("data directory %s belongs to uid %d: %w", dataDir, uid, err)
	}
	// Groups first: once the user ID is not root, they cannot change.
	if err := syscall.Setgroups(groups); err != nil {
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

// ownerGroups is the primary group and the group list that the data
// directory's owner has: the user's own from the user database (the groups
// the server gets from systemd's User=), not the directory's group, which
// may be root's. Without a user database entry the directory's group
// stands in. Group 0 is refused either way: an admin command must not keep
// root's group while it writes the service user's files.
func ownerGroups(uid, dirGID int) (gid int, groups []int, err error) {
	gid, groups = dirGID, []int{dirGID}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		if g, err := strconv.Atoi(u.Gid); err == nil {
			gid, groups = g, []int{g}
		}
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if g, err := strconv.Atoi(id); err == nil && g != gid {
					groups = append(groups, g)
				}
			}
		}
	}
	for _, g := range groups {
		if g == 0 {
			return 0, nil, fmt.Errorf("its owner's groups include root's group 0; refusing to run with it (give the directory and its user a group of their own)")
		}
	}
	return gid, groups, nil
}
