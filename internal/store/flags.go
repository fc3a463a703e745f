package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	err := s.db.QueryRowContext(ctx, "SELECT modseq FROM mailboxes WHERE id = ?", mailboxID).Scan(&modseq)
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
	rows, err := s.db.QueryContext(ctx, "SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? ORDER BY uid", mailboxID)
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
// exists. Every message whose flags change gets one new modification
// sequence, shared by the whole call (RFC 7162 §3.1). When unchangedSince is
// not zero, a message whose modification sequence is above it is left alone
// and its UID is returned in failed (RFC 7162 §3.1.3, UNCHANGEDSINCE).
//
// The work is set-based whatever the number of messages (STORE 1:* on a
// large mailbox): one query reads the messages' states and one statement
// writes every change.
func (s *Store) SetFlags(ctx context.Context, mailboxID int64, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (states []MessageState, failed []uint32, err error) {
	flags = normalizeFlags(flags)
	var accountID int64
	changed := false
	err = s.write(ctx, nil, func(tx *sql.Tx) error {
		states, failed, changed = states[:0], failed[:0], false
		var modseq uint64
		if err := tx.QueryRow("SELECT account_id, modseq FROM mailboxes WHERE id = ?", mailboxID).Scan(&accountID, &modseq); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if len(uids) == 0 {
			return nil
		}
		next := modseq + 1
		cur, err := statesOf(tx, mailboxID, uids)
		if err != nil {
			return err
		}
		// updates holds [id, flags] pairs for the one UPDATE.
		var updates [][2]any
		done := make(map[uint32]bool, len(cur))
		for _, uid := range uids {
			st, ok := cur[uid]
			if !ok {
				continue
			}
			if done[uid] {
				states = append(states, st)
				continue
			}
			done[uid] = true
			if unchangedSince != 0 && st.ModSeq > unchangedSince {
				failed = append(failed, uid)
				states = append(states, st)
				continue
			}
			nf := applyFlags(st.Flags, op, flags)
			if f := formatFlags(nf); f != strings.Join(st.Flags, " ") {
				updates = append(updates, [2]any{st.ID, f})
				st.Flags, st.ModSeq, changed = parseFlags(f), next, true
				cur[uid] = st
			}
			states = append(states, st)
		}
		if !changed {
			return nil
		}
		b, err := json.Marshal(updates)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE messages SET flags = json_extract(u.value, '$[1]'), modseq = ?
			FROM json_each(?) AS u WHERE messages.id = json_extract(u.value, '$[0]')`, next, string(b)); err != nil {
			return err
		}
		_, err = tx.Exec("UPDATE mailboxes SET modseq = ? WHERE id = ?", next, mailboxID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if changed {
		s.hub.publish(Event{AccountID: accountID, MailboxID: mailboxID, Kind: EventFlags})
	}
	return states, failed, nil
}

// statesOf reads, in one query, the states of the messages of a mailbox
// whose UIDs are in uids. A dense set is read as its UID range, a sparse
// one through the list itself.
func statesOf(tx *sql.Tx, mailboxID int64, uids []uint32) (map[uint32]MessageState, error) {
	lo, hi := slices.Min(uids), slices.Max(uids)
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	var rows *sql.Rows
	var err error
	if span := int64(hi) - int64(lo) + 1; int64(len(want))*2 >= span {
		rows, err = tx.Query("SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ?", mailboxID, lo, hi)
	} else {
		b, jerr := json.Marshal(uids)
		if jerr != nil {
			return nil, jerr
		}
		rows, err = tx.Query("SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))", mailboxID, string(b))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[uint32]MessageState, len(want))
	for rows.Next() {
		var st MessageState
		var f string
		if err := rows.Scan(&st.ID, &st.UID, &st.ModSeq, &f, &st.Recent); err != nil {
			return nil, err
		}
		if want[st.UID] {
			st.Flags = parseFlags(f)
			out[st.UID] = st
		}
	}
	return out, rows.Err()
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
	var uids []uint32
	err := s.write(ctx, nil, func(tx *sql.Tx) error {
		uids = uids[:0]
		rows, err := tx.Query("UPDATE messages SET recent = 0 WHERE mailbox_id = ? AND recent = 1 RETURNING uid", mailboxID)
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
