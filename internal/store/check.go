package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Problem is one inconsistency found by Check.
type Problem struct {
	Kind   string // "missing-file", "size-mismatch", "orphan-file", "uid-order", "uidnext"
	Detail string
}

func (p Problem) String() string { return p.Kind + ": " + p.Detail }

// Check verifies the store: every message row has its file with the right
// size, every file has its row (or may still get it: a
// delivery in progress in a live process), UIDs are ascending and below UIDNEXT. It
// only reads; it is safe while the server runs.
func (s *Store) Check(ctx context.Context) ([]Problem, error) {
	if s.db.pg() {
		return nil, errNotOnPG("Check")
	}
	var problems []Problem
	add := func(kind, format string, args ...any) {
		problems = append(problems, Problem{Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
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
	// A file without a row is a problem once no live process can still
	// commit it (see leftovers); `pail check --repair` removes such files.
	files, unexpected, err := s.leftovers(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	for _, p := range unexpected {
		add("orphan-file", "unexpected entry %s in mail directory", p)
	}
	for _, l := range files {
		if l.reportOnly {
			add("orphan-file", "%s has no message row (--repair leaves it: this system cannot tell when a file was linked)", l.path)
			continue
		}
		add("orphan-file", "%s has no message row", l.path)
	}
	return problems, nil
}
