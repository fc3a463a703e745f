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
// token in their names. A file without a row whose owner no longer holds
// its lock can never be committed: the process that made it is gone (a
// crash, kill -9) or has closed the store. Such files are leftovers and may
// be removed at once, whatever their age; a file whose owner is alive may
// be a delivery about to commit in another process (`pail import` while the
// server runs, or the server while `pail check --repair` runs) and is left
// alone.

// locksDir is the data directory's subdirectory of owner lock files.
const locksDir = "locks"

// tokenSep separates the owner token from the rest of a file name.
const tokenSep = "."

// errNoLocks says that this system has no flock(2): owners are unknown,
// and leftovers are told by age alone.
var errNoLocks = errors.New("store: no file locks on this system")

// maxOwnerTries bounds the attempts to take a fresh owner token (a clash
// with a lock being removed at the same moment, or a random collision).
const maxOwnerTries = 8

// owner is this process's claim on the files it creates.
type owner struct {
	token string
	path  string
	f     *os.File // holds the lock while the store is open
}

// takeOwner creates and locks a fresh owner token in dir/locks.
func takeOwner(dir string) (*owner, error) {
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
		ok, err := tryLock(f)
		if errors.Is(err, errNoLocks) {
			// Nothing to hold: this process's files are told by age.
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
		return &owner{token: token, path: path, f: f}, nil
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
	ownerUnknown ownerState = iota // no token (older pail) or no locking on this system
	ownerAlive                     // the owner holds its lock: the file may be about to commit
	ownerGone                      // the owner is gone: the file can never be committed
)

// owners answers ownerState for the tokens in file names, asking each
// token's lock once.
type owners struct {
	dir   string // the data directory
	self  string // this process's token
	known map[string]ownerState
	// sweep, when set, unlinks the lock files of owners found gone (while
	// holding their locks).
	sweep bool
}

func newOwners(dir, self string, sweep bool) *owners {
	return &owners{dir: dir, self: self, known: map[string]ownerState{}, sweep: sweep}
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
	token := tokenOf(name)
	switch {
	case token == "":
		return ownerUnknown
	case token == o.self:
		return ownerAlive
	}
	if st, ok := o.known[token]; ok {
		return st
	}
	st := o.probe(token)
	o.known[token] = st
	return st
}

// probe asks the lock of token whether its owner still holds it.
func (o *owners) probe(token string) ownerState {
	path := filepath.Join(o.dir, locksDir, token)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// Released (the owner closed the store) or swept after a crash.
		return ownerGone
	}
	if err != nil {
		return ownerUnknown
	}
	defer f.Close()
	ok, err := tryLock(f)
	switch {
	case err != nil:
		return ownerUnknown
	case !ok:
		return ownerAlive
	}
	if o.sweep {
		os.Remove(path)
	}
	return ownerGone
}
