package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"pail/internal/message"
)

// UIDRange is an inclusive range of UIDs.
type UIDRange struct{ Lo, Hi uint32 }

// Query is a conjunction of the SEARCH keys (RFC 9051 §6.4.4) that the
// database answers from a mailbox's rows without reading any message: UID
// ranges, flags, internal date, Date field day, size and modification
// sequence. A zero field is no condition. A protocol evaluates NOT, OR and
// the text keys itself, on the UIDs a Query narrowed to.
type Query struct {
	// UIDs, when set, keeps the messages in any of the ranges; a client's
	// "*" must be resolved to the highest UID first, and sequence numbers
	// mapped to UIDs.
	UIDs []UIDRange
	// Flags must all be set, NotFlags all unset (compared without regard
	// to case, as IMAP flags are). \Recent is a session's, not the
	// store's: it is not a stored flag.
	Flags, NotFlags []string
	// Since and Before bound the internal date's day (SINCE, BEFORE; ON d
	// is Since d, Before d+1): only the year, month and day of the given
	// times count, and the message's day is taken in Location.
	Since, Before time.Time
	// Location is the zone in which internal dates have their day; nil
	// means time.Local, the zone imapd gives internal dates.
	Location *time.Location
	// SentSince and SentBefore bound the Date field's day in the field's
	// own zone (SENTSINCE, SENTBEFORE, SENTON); a message without a
	// readable Date field never matches them.
	SentSince, SentBefore time.Time
	// Larger and Smaller bound the size in octets, exclusive (LARGER,
	// SMALLER).
	Larger, Smaller int64
	// ModSeq keeps messages whose modification sequence is at least it
	// (RFC 7162 §3.1.5 MODSEQ).
	ModSeq uint64
	// SavedSince and SavedBefore bound the save date's day like Since and
	// Before (RFC 8514 §5 SAVEDSINCE, SAVEDBEFORE, SAVEDON); a message
	// without a save date is taken by its internal date.
	SavedSince, SavedBefore time.Time
	// From and Until bound the internal date to the second: at or after
	// From, before Until (RFC 5032 WITHIN: YOUNGER, OLDER).
	From, Until time.Time
	// EmailID and ThreadID keep the messages with that RFC 8474 EMAILID
	// or THREADID (§6).
	EmailID, ThreadID string
}

// SearchUIDs returns, in UID order, the UIDs of the messages of a mailbox
// that match every condition of q, evaluated in one SQL query.
func (s *Store) SearchUIDs(ctx context.Context, mailboxID int64, q Query) ([]uint32, error) {
	where, args := q.sql()
	rows, err := s.db.QueryContext(ctx, "SELECT m.uid, m.summary IS NULL, m.file, b.account_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ?"+where+" ORDER BY m.uid",
		append([]any{mailboxID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	sent := !q.SentSince.IsZero() || !q.SentBefore.IsZero()
	var out []uint32
	for rows.Next() {
		var uid uint32
		var unkept bool
		var file string
		var account int64
		if err := rows.Scan(&uid, &unkept, &file, &account); err != nil {
			return nil, fmt.Errorf("store: search: %w", err)
		}
		if unkept && sent {
			info, err := keepFile(filepath.Join(s.accountDir(account), file))
			if err != nil || info.Date.IsZero() {
				continue
			}
			day := civilDay(info.Date)
			if !q.SentSince.IsZero() && day < civilDay(q.SentSince) || !q.SentBefore.IsZero() && day >= civilDay(q.SentBefore) {
				continue
			}
		}
		out = append(out, uid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	return out, nil
}

// Empty reports whether q has no condition: every message of the
// mailbox matches it, and a caller that knows the mailbox's UIDs need not
// ask.
func (q Query) Empty() bool {
	where, _ := q.sql()
	return where == ""
}

// sql renders q as " AND ..." conditions with their arguments.
func (q Query) sql() (string, []any) {
	var b strings.Builder
	var args []any
	if len(q.UIDs) > 0 {
		b.WriteString(" AND (")
		for i, r := range q.UIDs {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("m.uid BETWEEN ? AND ?")
			args = append(args, min(r.Lo, r.Hi), max(r.Lo, r.Hi))
		}
		b.WriteString(")")
	}
	// Flags are stored space-separated; lower() folds ASCII, which is all
	// a flag may hold (RFC 9051 §9 flag-keyword is an atom).
	for _, f := range q.Flags {
		b.WriteString(" AND instr(' ' || lower(m.flags) || ' ', ?) > 0")
		args = append(args, " "+strings.ToLower(f)+" ")
	}
	for _, f := range q.NotFlags {
		b.WriteString(" AND instr(' ' || lower(m.flags) || ' ', ?) = 0")
		args = append(args, " "+strings.ToLower(f)+" ")
	}
	loc := q.Location
	if loc == nil {
		loc = time.Local
	}
	// RFC 9051 §6.4.4: the day of the internal date, disregarding time
	// and zone: on or after the day Since names, before the day Before
	// names, both in the zone the internal date is shown in.
	if !q.Since.IsZero() {
		b.WriteString(" AND m.internal_date >= ?")
		args = append(args, dayStart(q.Since, loc))
	}
	if !q.Before.IsZero() {
		b.WriteString(" AND m.internal_date < ?")
		args = append(args, dayStart(q.Before, loc))
	}
	// A row without its summary yet (see fillSummaries) has no sent_day:
	// it is kept, and SearchUIDs reads the Date from its file.
	if !q.SentSince.IsZero() {
		b.WriteString(" AND (m.summary IS NULL OR m.sent_day >= ?)")
		args = append(args, civilDay(q.SentSince))
	}
	if !q.SentBefore.IsZero() {
		b.WriteString(" AND (m.summary IS NULL OR m.sent_day < ?)")
		args = append(args, civilDay(q.SentBefore))
	}
	if q.Larger != 0 {
		b.WriteString(" AND m.size > ?")
		args = append(args, q.Larger)
	}
	if q.Smaller != 0 {
		b.WriteString(" AND m.size < ?")
		args = append(args, q.Smaller)
	}
	if q.ModSeq != 0 {
		b.WriteString(" AND m.modseq >= ?")
		args = append(args, q.ModSeq)
	}
	// The expression of the index messages_saved: RFC 8514 §4.2 has a
	// message without a save date searched by its internal date.
	if !q.SavedSince.IsZero() {
		b.WriteString(" AND coalesce(m.saved, m.internal_date) >= ?")
		args = append(args, dayStart(q.SavedSince, loc))
	}
	if !q.SavedBefore.IsZero() {
		b.WriteString(" AND coalesce(m.saved, m.internal_date) < ?")
		args = append(args, dayStart(q.SavedBefore, loc))
	}
	if !q.From.IsZero() {
		b.WriteString(" AND m.internal_date >= ?")
		args = append(args, q.From.Unix())
	}
	if !q.Until.IsZero() {
		b.WriteString(" AND m.internal_date < ?")
		args = append(args, q.Until.Unix())
	}
	if q.EmailID != "" {
		b.WriteString(" AND m.email_id = ?")
		args = append(args, q.EmailID)
	}
	if q.ThreadID != "" {
		b.WriteString(" AND m.thread_id = ?")
		args = append(args, q.ThreadID)
	}
	return b.String(), args
}

// dayStart is the first second, in loc, of the calendar day t names.
func dayStart(t time.Time, loc *time.Location) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc).Unix()
}

// sparseRatio is how much wider than the set of UIDs their range must be
// for SearchCandidates to look each row up by UID (one index probe each)
// rather than scan the range: a search's few candidates spread over a
// mailbox of 100 000 messages are found without visiting the others.
const sparseRatio = 8

// SearchCandidates returns, in UID order, the rows of the messages of a
// mailbox with the given UIDs (ascending), and with infos their kept
// summaries by UID (as MessageInfos, without structure). It visits only
// those rows when they are sparse in their range, which is what a search
// the full-text index narrowed has left, so that the exact check of its
// few candidates does not cost a read of the whole mailbox.
func (s *Store) SearchCandidates(ctx context.Context, mailboxID int64, uids []uint32, infos bool) ([]Message, map[uint32]*message.Info, error) {
	if len(uids) == 0 {
		return nil, map[uint32]*message.Info{}, nil
	}
	if span := int64(uids[len(uids)-1]) - int64(uids[0]) + 1; int64(len(uids))*sparseRatio > span {
		msgs, err := s.MessagesByUID(ctx, mailboxID, uids)
		if err != nil || !infos {
			return msgs, map[uint32]*message.Info{}, err
		}
		kept, err := s.MessageInfos(ctx, mailboxID, uids, false)
		return msgs, kept, err
	}
	list, err := json.Marshal(uids)
	if err != nil {
		return nil, nil, fmt.Errorf("store: search candidates: %w", err)
	}
	summary := "NULL"
	if infos {
		summary = "m.summary"
	}
	// CROSS JOIN keeps json_each outside: one probe of the (mailbox_id,
	// uid) index per UID.
	rows, err := s.db.QueryContext(ctx, "SELECT "+messageColumns+", "+summary+" FROM "+s.d.uidsTable+" CROSS JOIN messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? AND m.uid = j.value ORDER BY m.uid",
		string(list), mailboxID)
	if err != nil {
		return nil, nil, fmt.Errorf("store: search candidates: %w", err)
	}
	defer rows.Close()
	var msgs []Message
	kept := make(map[uint32]*message.Info, len(uids))
	var unkept []Message
	for rows.Next() {
		var sum sql.NullString
		m, err := s.scanMessage(extraScan{rows, &sum})
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, m)
		switch {
		case !infos:
		case sum.Valid:
			info, err := decodeInfo(sum.String, "")
			if err != nil {
				return nil, nil, err
			}
			kept[m.UID] = info
		default:
			unkept = append(unkept, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: search candidates: %w", err)
	}
	for _, m := range unkept {
		// Not summarised yet (see fillSummaries): read from the file.
		if info, err := keepFile(m.path); err == nil {
			info.Structure = nil
			kept[m.UID] = info
		}
	}
	return msgs, kept, nil
}

// extraScan scans a row into scanMessage's columns and then extra.
type extraScan struct {
	rows  *sql.Rows
	extra any
}

func (e extraScan) Scan(dest ...any) error { return e.rows.Scan(append(dest, e.extra)...) }
