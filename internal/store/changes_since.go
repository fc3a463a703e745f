package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// changesMigration (13) indexes the mod-sequences: every IMAP session's
// look after each command (ChangesSince) asks for the rows and expunged
// UIDs of one mailbox past a mod-sequence, which without these read every
// row of the mailbox, large kept summaries included.
const changesMigration = `
CREATE INDEX messages_changes ON messages (mailbox_id, modseq);
CREATE INDEX expunged_changes ON expunged (mailbox_id, modseq);
`

// statesMigration (14) lets the per-message state be read without the
// rows: a message row carries its kept summary and structure (a few KiB),
// so a query that visits every row of a mailbox reads every page of it.
// messages_state covers what SELECT reads of each message (MessageStates),
// and two partial indexes name the few rows that ClaimRecent and
// DeletedMessages want, which otherwise meant a walk over the mailbox on
// every SELECT and EXPUNGE.
const statesMigration = `
CREATE INDEX messages_state ON messages (mailbox_id, uid, modseq, flags, recent);
CREATE INDEX messages_recent ON messages (mailbox_id, uid) WHERE recent = 1;
CREATE INDEX messages_deleted ON messages (mailbox_id, uid, modseq, flags, recent) WHERE flags LIKE '%\Deleted%';
`

// The queries of ChangesSince, read along messages_changes and
// expunged_changes; of MessageStates, DeletedMessages and ClaimRecent,
// along statesMigration's indexes.
const (
	changedSQL       = "SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? AND modseq > ?"
	expungedSinceSQL = "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ?"
	statesSQL        = "SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? ORDER BY uid"
	claimRecentSQL   = "UPDATE messages SET recent = 0 WHERE mailbox_id = ? AND recent = 1 RETURNING uid"
)

// ChangesSince returns what changed in a mailbox after modification
// sequence since (RFC 7162's model): the mailbox's current modseq, the
// messages added or whose flags changed, in UID order, and the UIDs
// expunged. Reading the mailbox's modseq first makes the result safe
// without a transaction: anything committed meanwhile has a higher modseq
// and is seen (again) by the next call with the returned modseq.
func (s *Store) ChangesSince(ctx context.Context, mailboxID int64, since uint64) (uint64, []MessageState, []uint32, error) {
	modseq, err := s.MailboxModSeq(ctx, mailboxID)
	if err != nil {
		return 0, nil, nil, err
	}
	if modseq == since {
		return modseq, nil, nil, nil
	}
	rows, err := s.query(ctx, changedSQL, mailboxID, since)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("store: %w", err)
	}
	var changed []MessageState
	for rows.Next() {
		var m MessageState
		var flags string
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &flags, &m.Recent); err != nil {
			rows.Close()
			return 0, nil, nil, fmt.Errorf("store: %w", err)
		}
		m.Flags = parseFlags(flags)
		changed = append(changed, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, nil, fmt.Errorf("store: %w", err)
	}
	// Sorted here, not by the query: ORDER BY uid would have the planner
	// walk the mailbox along messages_state instead of the few changed
	// rows along messages_changes.
	slices.SortFunc(changed, func(a, b MessageState) int { return cmp.Compare(a.UID, b.UID) })
	erows, err := s.query(ctx, expungedSinceSQL, mailboxID, since)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("store: %w", err)
	}
	defer erows.Close()
	var expunged []uint32
	for erows.Next() {
		var uid uint32
		if err := erows.Scan(&uid); err != nil {
			return 0, nil, nil, fmt.Errorf("store: %w", err)
		}
		expunged = append(expunged, uid)
	}
	slices.Sort(expunged)
	return modseq, changed, expunged, erows.Err()
}

// DeletedMessages returns the messages of a mailbox flagged \Deleted, in
// UID order (what EXPUNGE removes).
func (s *Store) DeletedMessages(ctx context.Context, mailboxID int64) ([]MessageState, error) {
	rows, err := s.query(ctx, s.d.deletedSQL, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []MessageState
	for rows.Next() {
		var m MessageState
		var flags string
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &flags, &m.Recent); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		m.Flags = parseFlags(flags)
		if slices.Contains(m.Flags, `\Deleted`) {
			out = append(out, m)
		}
	}
	return out, rows.Err()
}

// ExpungedSince returns the UIDs expunged from a mailbox after
// modification sequence since, in ascending order (the VANISHED (EARLIER)
// of RFC 7162 §3.2.5.1 and §3.2.6). The store keeps every expunged UID for
// as long as the mailbox exists, so the answer is exact back to the
// mailbox's creation (its UIDVALIDITY).
func (s *Store) ExpungedSince(ctx context.Context, mailboxID int64, since uint64) ([]uint32, error) {
	rows, err := s.query(ctx, expungedSinceSQL, mailboxID, since)
	if err != nil {
		return nil, fmt.Errorf("store: expunged since %d: %w", since, err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var uid uint32
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("store: expunged since %d: %w", since, err)
		}
		out = append(out, uid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: expunged since %d: %w", since, err)
	}
	slices.Sort(out)
	return out, nil
}
