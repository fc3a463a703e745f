package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// orphanAge is how old a file without a row must be before Check calls it an
// orphan: a delivery in progress links its file before it commits its row.
const orphanAge = time.Minute

// Problem is one inconsistency found by Check.
type Problem struct {
	Kind   string // "missing-file", "size-mismatch", "orphan-file", "uid-order", "uidnext"
	Detail string
}

func (p Problem) String() string { return p.Kind + ": " + p.Detail }

// Check verifies the store: every message row has its file with the right
// size, every file has its row, UIDs are ascending and below UIDNEXT. It
// only reads; it is safe while the server runs.
func (s *Store) Check(ctx context.Context) ([]Problem, error) {
	var problems []Problem
	add := func(kind, format string, args ...any) {
		problems = append(problems, Problem{Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	known := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, `SELECT b.account_id, b.id, b.name, b.uidnext, m.uid, m.size, m.file
		FROM mailboxes b LEFT JOIN messages m ON m.mailbox_id = b.id ORDER BY b.id, m.uid`)
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	defer rows.Close()
	var lastBox int64 = -1
	var lastUID uint32
	for rows.Next() {
		var acct, box int64
		var name string
		var uidnext uint32
		var uid *uint32
		var size *int64
		var file *string
		if err := rows.Scan(&acct, &box, &name, &uidnext, &uid, &size, &file); err != nil {
			return nil, fmt.Errorf("store: check: %w", err)
		}
		if box != lastBox {
			lastBox, lastUID = box, 0
		}
		if uid == nil {
			continue // an empty mailbox
		}
		if *uid <= lastUID {
			add("uid-order", "mailbox %d (%s): UID %d after %d", box, name, *uid, lastUID)
		}
		lastUID = *uid
		if *uid >= uidnext {
			add("uidnext", "mailbox %d (%s): UID %d not below UIDNEXT %d", box, name, *uid, uidnext)
		}
		path := filepath.Join(s.accountDir(acct), *file)
		known[path] = true
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			add("missing-file", "mailbox %d (%s) UID %d: %v", box, name, *uid, err)
		case fi.Size() != *size:
			add("size-mismatch", "mailbox %d (%s) UID %d: row says %d bytes, file has %d", box, name, *uid, *size, fi.Size())
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	accounts, err := os.ReadDir(filepath.Join(s.dir, "mail"))
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	for _, a := range accounts {
		if _, err := strconv.ParseInt(a.Name(), 10, 64); err != nil || !a.IsDir() {
			add("orphan-file", "unexpected entry %s in mail directory", a.Name())
			continue
		}
		dir := filepath.Join(s.dir, "mail", a.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("store: check: %w", err)
		}
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			if known[path] {
				continue
			}
			if info, err := f.Info(); err == nil && time.Since(info.ModTime()) > orphanAge {
				add("orphan-file", "%s has no message row", path)
			}
		}
	}
	return problems, nil
}
