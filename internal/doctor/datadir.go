package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// maxWalk bounds the entries of the data directory the ownership check
// looks at: the database, keys and certificates come first in a walk of
// the top level, and a mail store of millions of files is not read
// through.
const maxWalk = 10000

// checkDataDir checks that the data directory and what is in it belong
// to the user the server runs as (a file it cannot write stops it, or
// fails deliveries), and that none of it is world-writable (any local
// user could change mail, keys and the database).
func (d *doctor) checkDataDir() Result {
	const check = "data directory"
	dir := d.cfg.DataDir
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Result{Check: check, Status: Warn, Detail: dir + " does not exist yet", Fix: "run pail serve once as the server's user (it creates it), or create it owned by that user with mode 0700"}
	case err != nil:
		return Result{Check: check, Status: Fail, Detail: err.Error(), Fix: "make " + dir + " readable by the server's user"}
	case !fi.IsDir():
		return Result{Check: check, Status: Fail, Detail: dir + " is not a directory", Fix: "set data_dir to a directory"}
	}
	owner, ok := ownerOf(fi)
	if !ok {
		return Result{Check: check, Status: OK, Detail: "no file owners on this system"}
	}
	want := d.o.ServerUID
	if d.o.UIDGuessed && want == 0 && owner != 0 {
		// Root runs admin commands (and the doctor) as the directory's
		// owner; the server is that user under systemd's User=.
		want = owner
	}
	var foreign, writable []string
	n, more := 0, false
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			foreign = append(foreign, fmt.Sprintf("%s (unreadable: %v)", path, err))
			return nil
		}
		if n++; n > maxWalk {
			more = true
			return filepath.SkipAll
		}
		info, err := e.Info()
		if err != nil || info.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		if uid, ok := ownerOf(info); ok && uid != want && len(foreign) < 5 {
			foreign = append(foreign, fmt.Sprintf("%s (%s)", path, userName(uid)))
		}
		if info.Mode().Perm()&0o002 != 0 && len(writable) < 5 {
			writable = append(writable, fmt.Sprintf("%s (%04o)", path, info.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		return Result{Check: check, Status: Fail, Detail: err.Error(), Fix: "make " + dir + " readable by the server's user"}
	}
	who := userName(want)
	switch {
	case len(foreign) > 0:
		return Result{Check: check, Status: Fail,
			Detail: fmt.Sprintf("not owned by %s, the user the server runs as: %s", who, strings.Join(foreign, ", ")),
			Fix:    fmt.Sprintf("chown -R %d %s (or run pail doctor --user NAME naming the server's user)", want, dir)}
	case len(writable) > 0:
		return Result{Check: check, Status: Fail, Detail: "world-writable: " + strings.Join(writable, ", "), Fix: "chmod -R o-w " + dir}
	}
	detail := fmt.Sprintf("%s belongs to %s", dir, who)
	if want != d.o.ServerUID || d.o.UIDGuessed {
		detail += fmt.Sprintf(", the user it is assumed the server runs as (%s runs pail doctor; --user NAME names the server's)", userName(d.o.ServerUID))
	}
	if more {
		detail += fmt.Sprintf("; the first %d entries were checked", maxWalk)
	}
	return Result{Check: check, Status: OK, Detail: detail}
}

// userName names a user ID: "pail (uid 999)", or "uid 999".
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}
