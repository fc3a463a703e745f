package store

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// orphanAge is how long ago a file without a row and without a known owner
// (a file named by an older pail, one whose lock file is missing, or any on
// a system or filesystem without file locks) must have been placed before
// it counts as a leftover: a delivery or a COPY links its file before it
// commits its row.
const orphanAge = time.Minute

// scannedKey is the meta key set once a complete scan has looked at every
// message file. From then on start-up scans only when a lock file says that
// a process may have left something; the first start after an upgrade from
// a pail without owner tokens scans once for the files it left.
const scannedKey = "leftovers_scanned"

// leftover is a message file without a row that no live process can commit.
type leftover struct {
	path string
	// reportOnly: its owner is unknown and this system cannot tell when the
	// file was linked (a hard link keeps its source's modification time,
	// so a COPY in flight would look old): Check reports it and
	// RemoveLeftovers leaves it.
	reportOnly bool
}

// RemoveLeftovers removes what a crashed process left behind: message
// files that no committed row names and that no live process may still
// commit (see owner.go), spool files and lock files of processes that are
// gone. It looks at every file. It returns the message and spool files
// removed. It is safe while other processes use the store; `pail check
// --repair` runs it.
func (s *Store) RemoveLeftovers(ctx context.Context) ([]string, error) {
	if s.db.pg() {
		return nil, nil // no files: a crash leaves nothing but rolled-back transactions
	}
	return s.removeLeftovers(ctx, s.lockStates())
}

// RemoveCrashLeftovers is RemoveLeftovers at a cost that does not grow with
// the store, for start-up (`pail serve`): it reads the lock files first,
// and scans the message directories only when one of them says that a
// process may have left something (its owner is gone, or cannot be asked),
// or when no complete scan was ever done (the first start after an upgrade).
// It reports whether it scanned. Leftovers of a process whose lock file was
// removed from under it wait for `pail check --repair`.
func (s *Store) RemoveCrashLeftovers(ctx context.Context) (removed []string, scanned bool, err error) {
	if s.db.pg() {
		return nil, false, nil // no files
	}
	locks := s.lockStates()
	if locks.clean() {
		done, err := s.scannedOnce(ctx)
		if err != nil {
			return nil, false, err
		}
		if done {
			return nil, false, nil
		}
	}
	removed, err = s.removeLeftovers(ctx, locks)
	return removed, true, err
}

// removeLeftovers removes the leftovers; locks are the states of the other
// owners' lock files, read before any message file.
func (s *Store) removeLeftovers(ctx context.Context, locks lockStates) ([]string, error) {
	s.cleanSpool()
	found, _, err := s.leftovers(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, l := range found {
		if l.reportOnly {
			continue
		}
		if err := os.Remove(l.path); err != nil && !os.IsNotExist(err) {
			return removed, fmt.Errorf("store: remove leftover: %w", err)
		}
		removed = append(removed, l.path)
	}
	// Lock files go last, and only those of owners found gone before the
	// scan: their files are gone now. An owner that died during the scan
	// keeps its lock file, so that the next start-up scans again.
	own := s.newOwners()
	for token, st := range locks {
		if st == ownerGone {
			own.probe(token, true)
		}
	}
	err = s.write(ctx, nil, func(tx *dbTx) error {
		_, err := tx.Exec("INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO NOTHING", scannedKey)
		return err
	})
	if err != nil {
		return removed, fmt.Errorf("store: leftovers: %w", err)
	}
	return removed, nil
}

// scannedOnce reports whether a complete scan for leftovers was ever done.
func (s *Store) scannedOnce(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM meta WHERE key = ?", scannedKey).Scan(&n); err != nil {
		return false, fmt.Errorf("store: leftovers: %w", err)
	}
	return n > 0, nil
}

// lockStates maps the tokens of other processes' lock files to the states
// of their owners.
type lockStates map[string]ownerState

// clean reports whether every other owner holds its lock: no process has
// left anything since the last scan (an unreadable locks/ is not clean).
func (l lockStates) clean() bool {
	if l == nil {
		return false
	}
	for _, st := range l {
		if st != ownerAlive {
			return false
		}
	}
	return true
}

// lockStates asks the lock of every other owner in locks/; nil if the
// directory cannot be read.
func (s *Store) lockStates() lockStates {
	entries, err := os.ReadDir(filepath.Join(s.dir, locksDir))
	if err != nil {
		return nil
	}
	own := s.newOwners()
	out := lockStates{}
	for _, e := range entries {
		if token := tokenOf(e.Name() + tokenSep); token != "" && token != s.owner.token {
			out[token] = own.ofToken(token)
		}
	}
	return out
}

// leftovers lists the message files that no committed row names and that
// can never be committed, and the entries of the mail directory that are
// not account directories.
func (s *Store) leftovers(ctx context.Context) (files []leftover, unexpected []string, err error) {
	mail := filepath.Join(s.dir, "mail")
	accounts, err := os.ReadDir(mail)
	if err != nil {
		return nil, nil, fmt.Errorf("store: leftovers: %w", err)
	}
	own := s.newOwners()
	type candidate struct {
		e       fs.DirEntry
		unknown bool // no known owner: told by age
	}
	for _, a := range accounts {
		id, err := strconv.ParseInt(a.Name(), 10, 64)
		if err != nil || !a.IsDir() {
			unexpected = append(unexpected, filepath.Join(mail, a.Name()))
			continue
		}
		dir := filepath.Join(mail, a.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("store: leftovers: %w", err)
		}
		// Owners are asked before the rows are read: a file whose owner
		// is gone gets no row later, so a file missing from the rows read
		// afterwards is missing for good.
		var candidates []candidate
		for _, e := range entries {
			switch own.of(e.Name()) {
			case ownerAlive:
				continue
			case ownerUnknown:
				candidates = append(candidates, candidate{e, true})
			default:
				candidates = append(candidates, candidate{e, false})
			}
		}
		if len(candidates) == 0 {
			continue
		}
		named, err := s.accountFiles(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range candidates {
			if named[c.e.Name()] {
				continue
			}
			l := leftover{path: filepath.Join(dir, c.e.Name())}
			if c.unknown {
				// Only files without a row get an lstat.
				info, err := c.e.Info()
				if err != nil {
					continue
				}
				placed, known := placedAt(info)
				if time.Since(placed) <= s.leftoverAge {
					continue
				}
				l.reportOnly = !known
			}
			files = append(files, l)
		}
	}
	return files, unexpected, nil
}

// placedAt returns when the file was last written, linked or renamed: the
// later of its modification and status change times. known is false when
// this system has no status change time; then a link made a moment ago
// carries its source's old modification time.
func placedAt(fi fs.FileInfo) (t time.Time, known bool) {
	t = fi.ModTime()
	c, known := changeTime(fi)
	if known && c.After(t) {
		t = c
	}
	return t, known
}

// accountFiles returns the names of the files that the account's message
// rows name.
func (s *Store) accountFiles(ctx context.Context, accountID int64) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT m.file FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = ?", accountID)
	if err != nil {
		return nil, fmt.Errorf("store: leftovers: %w", err)
	}
	defer rows.Close()
	named := map[string]bool{}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, fmt.Errorf("store: leftovers: %w", err)
		}
		named[f] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: leftovers: %w", err)
	}
	return named, nil
}
