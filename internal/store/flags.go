package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// FlagOp says how SetFlags combines the given flags with a message's.
type FlagOp int

// The flag operations of IMAP STORE (RFC 9051 §6.4.6).
const (
	FlagsAdd     FlagOp = iota + 1 // +FLAGS
	FlagsRemove                    // -FLAGS
	FlagsReplace                   // FLAGS
)

// MessageState is the changeable part of a message, enough for a client
// view of a mailbox: which UIDs exist and their flags.
type MessageState struct {
	ID     int64
	UID    uint32
	ModSeq uint64
	Flags  []string
	Recent bool
}

// MailboxModSeq returns the mailbox's highest modification sequence. Every
// change to the mailbox's messages (new, flags, expunge) raises it, so a
// reader that remembers it can tell cheaply whether to look again.
func (s *Store) MailboxModSeq(ctx context.Context, mailboxID int64) (uint64, error) {
	var modseq uint64
	err := s.queryRow(ctx, "SELECT modseq FROM mailboxes WHERE id = ?", mailboxID).Scan(&modseq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return modseq, nil
}

// MessageStates returns the mailbox's modification sequence and the state
// of every message in UID order. The modification sequence is read first,
// so the messages are at least as new as it says.
func (s *Store) MessageStates(ctx context.Context, mailboxID int64) (uint64, []MessageState, error) {
	modseq, err := s.MailboxModSeq(ctx, mailboxID)
	if err != nil {
		return 0, nil, err
	}
	rows, err := s.query(ctx, statesSQL, mailboxID)
	if err != nil {
		return 0, nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []MessageState
	for rows.Next() {
		var m MessageState
		var flags string
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &flags, &m.Recent); err != nil {
			return 0, nil, fmt.Errorf("store: %w", err)
		}
		m.Flags = parseFlags(flags)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("store: %w", err)
	}
	return modseq, out, nil
}

// MessagesByUID returns the messages of a mailbox whose UIDs are in uids,
// in UID order. UIDs that do not exist are skipped.
func (s *Store) MessagesByUID(ctx context.Context, mailboxID int64, uids []uint32) ([]Message, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	lo, hi := slices.Min(uids), slices.Max(uids)
	rows, err := s.db.QueryContext(ctx, "SELECT "+messageColumns+" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid",
		mailboxID, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	var out []Message
	for rows.Next() {
		m, err := s.scanMessage(rows)
		if err != nil {
			return nil, err
		}
		if want[m.UID] {
			out = append(out, m)
		}
	}
	return out, rows.Err()
}

// SetFlags changes the flags of the messages with the given UIDs in one
// durable transaction and returns the resulting state of each message that
// exists, and the UIDs UNCHANGEDSINCE left alone (ChangeFlags).
func (s *Store) SetFlags(ctx context.Context, mailboxID int64, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (states []MessageState, failed []uint32, err error) {
	res, err := s.ChangeFlags(ctx, mailboxID, uids, op, flags, unchangedSince)
	return res.States, res.Failed, err
}

// FlagsResult is what ChangeFlags did.
type FlagsResult struct {
	// States is the resulting state of each message that exists, in UID
	// order.
	States []MessageState
	// Failed are the UIDs UNCHANGEDSINCE left alone, in UID order.
	Failed []uint32
	// Before and After are the mailbox's mod-sequence before and after
	// the change (equal when nothing changed): a reader whose view was
	// current at Before and takes States is current at After.
	Before, After uint64
}

// ChangeFlags changes the flags of the messages with the given UIDs in one
// durable transaction. Every message whose flags change gets one new
// modification sequence, shared by the whole call (RFC 7162 §3.1). When
// unchangedSince is not zero, a message whose modification sequence is
// above it is left alone and its UID is returned in Failed (RFC 7162
// §3.1.3, UNCHANGEDSINCE).
//
// The work is set-based whatever the number of messages (STORE 1:* on a
// large mailbox): one query reads the messages' states in UID order and
// one statement writes every change; no map the size of the set is built.
func (s *Store) ChangeFlags(ctx context.Context, mailboxID int64, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (FlagsResult, error) {
	flags = normalizeFlags(flags)
	if !slices.IsSorted(uids) {
		uids = slices.Compact(slices.Sorted(slices.Values(uids)))
	}
	var res FlagsResult
	var accountID int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		res = FlagsResult{States: res.States[:0], Failed: res.Failed[:0]}
		if err := s.txQueryRow(tx, "SELECT account_id, modseq FROM mailboxes WHERE id = ?"+s.d.forUpdate, mailboxID).Scan(&accountID, &res.Before); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		res.After = res.Before
		if len(uids) == 0 {
			return nil
		}
		next := res.Before + 1
		cur, err := s.statesOf(tx, mailboxID, uids)
		if err != nil {
			return err
		}
		// updates is the JSON array of [id, flags] pairs for the one
		// UPDATE, built without reflection.
		updates := []byte{'['}
		for _, st := range cur {
			if unchangedSince != 0 && st.ModSeq > unchangedSince {
				res.Failed = append(res.Failed, st.UID)
				res.States = append(res.States, st)
				continue
			}
			nf := normalizeFlags(applyFlags(st.Flags, op, flags))
			if !slices.Equal(nf, st.Flags) {
				if len(updates) > 1 {
					updates = append(updates, ',')
				}
				updates = append(updates, '[')
				updates = strconv.AppendInt(updates, st.ID, 10)
				updates = append(updates, ',')
				updates = appendJSONString(updates, strings.Join(nf, " "))
				updates = append(updates, ']')
				st.Flags, st.ModSeq = nf, next
				if len(nf) == 0 {
					st.Flags = nil
				}
			}
			res.States = append(res.States, st)
		}
		if len(updates) == 1 {
			return nil
		}
		updates = append(updates, ']')
		if _, err := s.txExec(tx, s.d.flagsUpdate, next, string(updates)); err != nil {
			return err
		}
		res.After = next
		_, err = s.txExec(tx, "UPDATE mailboxes SET modseq = ? WHERE id = ?", next, mailboxID)
		return err
	})
	if err != nil {
		return FlagsResult{}, err
	}
	if res.After != res.Before {
		s.hub.publish(Event{AccountID: accountID, MailboxID: mailboxID, Kind: EventFlags})
	}
	return res, nil
}

// appendJSONString appends s as a JSON string. Flags are atoms (RFC 9051
// §9 flag-keyword), but the system flags' backslash needs escaping.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// statesOf reads, in one query, the states of the messages of a mailbox
// whose UIDs are in uids (sorted, without duplicates), in UID order. A
// dense set is read as its UID range, a sparse one through the list
// itself.
func (s *Store) statesOf(tx *dbTx, mailboxID int64, uids []uint32) ([]MessageState, error) {
	var rows *sql.Rows
	var err error
	if dense(uids) {
		rows, err = s.txQuery(tx, "SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ?", mailboxID, uids[0], uids[len(uids)-1])
	} else {
		rows, err = s.txQuery(tx, "SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? AND uid "+s.d.uidsIn, mailboxID, uidList(uids))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]MessageState, 0, len(uids))
	for rows.Next() {
		var st MessageState
		var f string
		if err := rows.Scan(&st.ID, &st.UID, &st.ModSeq, &f, &st.Recent); err != nil {
			return nil, err
		}
		st.Flags = parseFlags(f)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// In UID order (the index gives it; sorting what is sorted is one
	// pass), keeping only the UIDs asked for: both lists are walked
	// together.
	slices.SortFunc(out, func(a, b MessageState) int { return cmp.Compare(a.UID, b.UID) })
	next := 0 // uids[next] is the lowest UID not yet passed
	return slices.DeleteFunc(out, func(st MessageState) bool {
		for next < len(uids) && uids[next] < st.UID {
			next++
		}
		return next == len(uids) || uids[next] != st.UID
	}), nil
}

// applyFlags returns cur changed by op with flags.
func applyFlags(cur []string, op FlagOp, flags []string) []string {
	switch op {
	case FlagsReplace:
		return slices.Clone(flags)
	case FlagsAdd:
		return append(slices.Clone(cur), flags...)
	case FlagsRemove:
		return slices.DeleteFunc(slices.Clone(cur), func(f string) bool { return slices.Contains(flags, f) })
	}
	return cur
}

// ClaimRecent clears the recent mark of every message in the mailbox that
// still has it and returns their UIDs. RFC 3501 §2.3.2: exactly one session
// sees a message as \Recent; the session that claims it is that one.
func (s *Store) ClaimRecent(ctx context.Context, mailboxID int64) ([]uint32, error) {
	// Most SELECTs find nothing to claim; the mailbox's count says so
	// without taking the writer.
	var recent int64
	err := s.queryRow(ctx, "SELECT n_recent FROM mailboxes WHERE id = ?", mailboxID).Scan(&recent)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err == nil && recent == 0 {
		return nil, nil
	}
	var uids []uint32
	err = s.write(ctx, nil, func(tx *dbTx) error {
		uids = uids[:0]
		rows, err := s.txQuery(tx, claimRecentSQL, mailboxID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var uid uint32
			if err := rows.Scan(&uid); err != nil {
				return err
			}
			uids = append(uids, uid)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(uids)
	return uids, nil
}
