package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"pail/internal/message"
)

// ListKey is a message's place in a mailbox's newest-first order: its
// internal date (Unix seconds, as stored), then its UID. The zero ListKey
// is no place.
type ListKey struct {
	Date int64
	UID  uint32
}

// IsZero reports whether k is no place.
func (k ListKey) IsZero() bool { return k == ListKey{} }

// ListQuery asks for one page of a mailbox's messages, newest first by
// internal date, then by UID. Older or Newer (at most one) picks the page
// by keyset: the rows just after or just before a key, so that the cost of
// a page does not depend on how many messages the mailbox holds or on how
// far into it the page is. Offset skips rows from the newest, for a client
// that asks by page number; it costs what it skips.
type ListQuery struct {
	Older  ListKey // the page starts just after this key (older messages)
	Newer  ListKey // the page ends just before this key (newer messages)
	Offset int
	Limit  int // at most this many rows; 0 means maxListLimit
	// UIDs, when not nil, keeps only the messages with these UIDs (the
	// candidates of a search, from SearchText).
	UIDs []uint32
}

// maxListLimit bounds one page of ListMessages.
const maxListLimit = 1000

// Listed is one row of a message list: the message and what it says about
// itself.
type Listed struct {
	Message
	// Info is the kept summary (without the body structure); for a message
	// stored before pail kept them and not yet filled, it is read from the
	// file, and nil if that fails.
	Info *message.Info
}

// Key is the message's place in the list order.
func (l Listed) Key() ListKey { return ListKey{Date: l.InternalDate.Unix(), UID: l.UID} }

// ListMessages returns one page of a mailbox's messages, newest first (see
// ListQuery). It reads the rows of the page only, in the order of the index
// messages_arrival.
func (s *Store) ListMessages(ctx context.Context, mailboxID int64, q ListQuery) ([]Listed, error) {
	query, args, asc := listSQL(s.d, mailboxID, q)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	defer rows.Close()
	var out []Listed
	for rows.Next() {
		var l Listed
		var date, account int64
		var flags, file string
		var summary, emailID, threadID sql.NullString
		var saved sql.NullInt64
		if err := rows.Scan(&l.ID, &l.MailboxID, &l.UID, &l.ModSeq, &date, &l.Size, &flags, &l.Recent, &file, &account, &saved, &emailID, &threadID, &summary); err != nil {
			return nil, fmt.Errorf("store: list: %w", err)
		}
		l.InternalDate = time.Unix(date, 0)
		l.Flags = parseFlags(flags)
		l.path = filepath.Join(s.accountDir(account), file)
		if saved.Valid {
			l.SaveDate = time.Unix(saved.Int64, 0)
		}
		l.EmailID, l.ThreadID = emailID.String, threadID.String
		if summary.Valid {
			if l.Info, err = decodeInfo(summary.String, ""); err != nil {
				return nil, err
			}
		} else if info, err := keepFile(l.path); err == nil {
			info.Structure = nil
			l.Info = info
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	if asc {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// listSQL is the query of ListMessages, and whether it reads in ascending
// order (a Newer page, reversed after).
func listSQL(d *dialect, mailboxID int64, q ListQuery) (string, []any, bool) {
	limit := q.Limit
	if limit <= 0 || limit > maxListLimit {
		limit = maxListLimit
	}
	where, order := "", "DESC"
	args := []any{mailboxID}
	switch {
	case !q.Older.IsZero():
		where = " AND (m.internal_date, m.uid) < (?, ?)"
		args = append(args, q.Older.Date, q.Older.UID)
	case !q.Newer.IsZero():
		where, order = " AND (m.internal_date, m.uid) > (?, ?)", "ASC"
		args = append(args, q.Newer.Date, q.Newer.UID)
	}
	if q.UIDs != nil {
		js, _ := json.Marshal(q.UIDs) // cannot fail for []uint32; [] for none
		where += " AND m.uid " + d.uidsIn
		args = append(args, string(js))
	}
	args = append(args, limit, max(q.Offset, 0))
	return "SELECT " + messageColumns + ", m.summary FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ?" + where +
		" ORDER BY m.internal_date " + order + ", m.uid " + order + " LIMIT ? OFFSET ?", args, order == "ASC"
}
