package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"pail/internal/safeio"
)

// Every process that opens a store takes an owner token and holds a lock on
// locks/TOKEN for as long as the store is open. The files it creates before
// their rows are committed (spool files, message files, copies) carry the
// token in their names. A file without a row whose owner's lock file exists
// and can be locked can never be committed: the process that made it is gone
// (a crash, kill -9). Such files are leftovers and may be removed at once,
// whatever their age; a file whose owner is alive may be a delivery about to
// commit in another process (`pail import` while the server runs, or the
// server while `pail check --repair` runs) and is left alone. A file whose
// owner cannot be asked (no token, no lock file, a system or filesystem
// without flock) is told by age (see leftovers.go): an operator or a tmp
// cleaner may empty locks/ under a live process, so a missing lock file
// proves nothing.

// locksDir is the data directory's subdirectory of owner lock files.
const locksDir = "locks"

// tokenSep separates the owner token from the rest of a file name.
const tokenSep = "."

// errNoLocks says that this system or filesystem has no flock(2): owners
// are unknown, and leftovers are told by age alone.
var errNoLocks = errors.New("store: no file locks")

// maxOwnerTries bounds the attempts to take a fresh owner token (a clash
// with a lock being removed at the same moment, or a random collision).
const maxOwnerTries = 8

// lockFunc takes an exclusive lock on f without waiting: false when another
// open file description holds one, an error wrapping errNoLocks when the
// file cannot be locked at all. tryLock is the system's; tests give a
// filesystem that refuses locks.
type lockFunc func(f *os.File) (bool, error)

// owner is this process's claim on the files it creates.
type owner struct {
	token string
	path  string
	f     *os.File // holds the lock while the store is open
	// unlocked is nil while the lock is held, else why there is none
	// (wrapping errNoLocks): other processes then tell this one's files
	// by age.
	unlocked error
}

// takeOwner creates and locks a fresh owner token in dir/locks. A system or
// filesystem without flock (some FUSE, 9p or NFS mounts answer ENOTSUP or
// ENOLCK) is no failure: the token still names the files, and
// owner.unlocked says why nothing is held.
func takeOwner(dir string, lock lockFunc) (*owner, error) {
	locks := filepath.Join(dir, locksDir)
	if err := safeio.MkdirAll(locks, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	for range maxOwnerTries {
		var b [8]byte
		rand.Read(b[:])
		token := hex.EncodeToString(b[:])
		path := filepath.Join(locks, token)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: owner lock: %w", err)
		}
		ok, err := lock(f)
		var unlocked error
		if errors.Is(err, errNoLocks) {
			// Nothing to hold: this process's files are told by age.
			unlocked = fmt.Errorf("store: owner lock %s: %w", path, err)
			ok, err = true, nil
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("store: owner lock %s: %w", path, err)
		}
		// Another process sweeping dead owners may have locked and
		// unlinked the new file before we locked it; then our lock guards
		// nothing and we start again.
		if !ok || !samePath(f, path) {
			f.Close()
			continue
		}
		return &owner{token: token, path: path, f: f, unlocked: unlocked}, nil
	}
	return nil, errors.New("store: owner lock: no free token")
}

// release gives the token up. The file is unlinked while still locked, so
// that no other process can take the lock of a name about to vanish.
func (o *owner) release() {
	os.Remove(o.path)
	o.f.Close()
}

// name returns a fresh file name carrying the owner token.
func (o *owner) name() string { return o.token + tokenSep + safeio.RandomName() }

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// ownerState is what is known about the owner of a file.
type ownerState int

const (
	ownerUnknown ownerState = iota // no token, no lock file, or no locking: told by age
	ownerAlive                     // the owner holds its lock: the file may be about to commit
	ownerGone                      // the lock file is there and free: the file can never be committed
)

// owners answers ownerState for the tokens in file names, asking each
// token's lock once.
type owners struct {
	dir   string // the data directory
	self  string // this process's token
	lock  lockFunc
	known map[string]ownerState
}

func (s *Store) newOwners() *owners {
	return &owners{dir: s.dir, self: s.owner.token, lock: s.lock, known: map[string]ownerState{}}
}

// tokenOf returns the owner token in a file name, or "".
func tokenOf(name string) string {
	token, _, ok := strings.Cut(name, tokenSep)
	if !ok || len(token) != 16 {
		return ""
	}
	if _, err := hex.DecodeString(token); err != nil {
		return ""
	}
	return token
}

// of returns the state of the owner of the file called name.
func (o *owners) of(name string) ownerState {
	return o.ofToken(tokenOf(name))
}

// ofToken returns the state of the owner of token.
func (o *owners) ofToken(token string) ownerState {
	switch {
	case token == "":
		return ownerUnknown
	case token == o.self:
		return ownerAlive
	}
	if st, ok := o.known[token]; ok {
		return st
	}
	st, _ := o.probe(token, false)
	o.known[token] = st
	return st
}

// probe asks the lock of token whether its owner still holds it. remove
// unlinks the lock file of an owner found gone, while holding its lock, so
// that no process can take a name about to vanish; it reports whether it
// did.
func (o *owners) probe(token string, remove bool) (ownerState, bool) {
	path := filepath.Join(o.dir, locksDir, token)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		// No lock file: released by an owner that closed the store, or
		// removed under a live owner (an emptied locks/, a tmp cleaner).
		// Only the age of its files can tell.
		return ownerUnknown, false
	}
	defer f.Close()
	ok, err := o.lock(f)
	switch {
	case err != nil:
		return ownerUnknown, false
	case !ok:
		return ownerAlive, false
	}
	return ownerGone, remove && os.Remove(path) == nil
}
