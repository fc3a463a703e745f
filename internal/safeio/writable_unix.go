//go:build unix

package safeio

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// access(2) modes.
const (
	accessWrite  = 0x2 // W_OK
	accessSearch = 0x1 // X_OK
)

// CheckWritable tells, before SQLite does with "attempt to write a
// readonly database", which of dir and the files names in it this process
// cannot write, who owns it and who this process is: most often an admin
// command run as root left files that the service user cannot change.
// Names not there yet are fine: they will be created.
func CheckWritable(dir string, names ...string) error {
	for _, name := range append([]string{""}, names...) {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		mode := uint32(accessWrite)
		if fi.IsDir() {
			mode |= accessSearch
		}
		err = syscall.Access(p, mode)
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) {
			return &os.PathError{Op: "access", Path: p, Err: err}
		}
		owner := "an unknown user"
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = userName(int(st.Uid))
		}
		return fmt.Errorf("%s is owned by %s, mode %04o; this process runs as %s and cannot write it "+
			"(give the files to the user pail runs as: chown -R %d %s): %w",
			p, owner, fi.Mode().Perm(), userName(os.Geteuid()), os.Geteuid(), dir, err)
	}
	return nil
}

// userName names a user ID as "name (uid N)", or "uid N" when it has no
// name.
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}
