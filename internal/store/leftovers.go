package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// orphanAge is how old a file without a row and without a known owner (a
// file named by an older pail, or on a system without file locks) must be
// before it counts as a leftover: a delivery in progress links its file
// before it commits its row.
const orphanAge = time.Minute

// RemoveLeftovers removes what a crashed process left behind: message
// files that no committed row names and that no live process may still
// commit (see owner.go), spool files and lock files of processes that are
// gone. It returns the message and spool files removed. It is safe while other processes use the
// store; `pail serve` runs it at start-up and `pail check --repair` on
// demand.
func (s *Store) RemoveLeftovers(ctx context.Context) ([]string, error) {
	s.cleanSpool()
	found, _, err := s.leftovers(ctx, true)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, p := range found {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return removed, fmt.Errorf("store: remove leftover: %w", err)
		}
		removed = append(removed, p)
	}
	s.sweepLocks()
	return removed, nil
}

// sweepLocks removes the lock files of owners that are gone.
func (s *Store) sweepLocks() {
	entries, err := os.ReadDir(filepath.Join(s.dir, locksDir))
	if err != nil {
		return
	}
	own := newOwners(s.dir, s.owner.token, true)
	for _, e := range entries {
		own.of(e.Name() + tokenSep)
	}
}

// leftovers lists the message files that no committed row names and that
// can never be committed, and the entries of the mail directory that are
// not account directories. sweep also unlinks the lock files of owners
// found gone.
func (s *Store) leftovers(ctx context.Context, sweep bool) (files, unexpected []string, err error) {
	mail := filepath.Join(s.dir, "mail")
	accounts, err := os.ReadDir(mail)
	if err != nil {
		return nil, nil, fmt.Errorf("store: leftovers: %w", err)
	}
	own := newOwners(s.dir, s.owner.token, sweep)
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
		var candidates []string
		for _, e := range entries {
			switch own.of(e.Name()) {
			case ownerAlive:
				continue
			case ownerUnknown:
				info, err := e.Info()
				if err != nil || time.Since(info.ModTime()) <= orphanAge {
					continue
				}
			}
			candidates = append(candidates, e.Name())
		}
		if len(candidates) == 0 {
			continue
		}
		named, err := s.accountFiles(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		for _, name := range candidates {
			if !named[name] {
				files = append(files, filepath.Join(dir, name))
			}
		}
	}
	return files, unexpected, nil
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
