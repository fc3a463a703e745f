package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"pail/internal/message"
)

// SortFields is what IMAP SORT and THREAD (RFC 5256) use of one message,
// read from the summary kept at delivery rather than from its file.
type SortFields struct {
	UID          uint32
	InternalDate time.Time
	Size         int64
	// Date is the Date field's, zero when missing or unparseable.
	Date time.Time
	// Subject is decoded from RFC 2047.
	Subject string
	// From, To and Cc are the first address of each field as the
	// ENVELOPE has it (a group's start marker if the field starts with
	// a group), zero when the field has none.
	From, To, Cc message.EnvelopeAddress
	// MessageID, InReplyTo and References are ids without angle brackets.
	MessageID             string
	InReplyTo, References []string
}

// SortWant says which of the SortFields a caller needs: UID,
// InternalDate and Size always come; the others only when asked for.
type SortWant uint8

// The parts of SortFields one may ask for.
const (
	SortDate       SortWant = 1 << iota // Date
	SortSubject                         // Subject
	SortFrom                            // From
	SortTo                              // To
	SortCc                              // Cc
	SortReferences                      // MessageID, InReplyTo, References
)

// sortPaths are where each wanted field is in the kept summary, picked
// out by SQL so that a SORT over a large mailbox reads a few fields per
// message instead of decoding the whole summary (SQLite parses each
// row's JSON once for all of them).
var sortPaths = []struct {
	want  SortWant
	paths []string
}{
	{SortDate, []string{"$.Date"}},
	{SortSubject, []string{"$.Subject"}},
	{SortFrom, []string{"$.Envelope.From[0].Name", "$.Envelope.From[0].Mailbox", "$.Envelope.From[0].Host"}},
	{SortTo, []string{"$.Envelope.To[0].Name", "$.Envelope.To[0].Mailbox", "$.Envelope.To[0].Host"}},
	{SortCc, []string{"$.Envelope.Cc[0].Name", "$.Envelope.Cc[0].Mailbox", "$.Envelope.Cc[0].Host"}},
	{SortReferences, []string{"$.MessageID", "$.InReplyTo", "$.References"}},
}

// SortFields calls fn with the SortFields of each message of a mailbox
// whose UID is in uids (ascending), with the fields want names: first in
// UID order those with a kept summary, then those without one (stored
// before pail kept them and not yet reached by the fill), read from their
// files. UIDs that do not exist are skipped. fn must not keep f.
func (s *Store) SortFields(ctx context.Context, mailboxID int64, uids []uint32, want SortWant, fn func(f *SortFields)) error {
	if len(uids) == 0 {
		return nil
	}
	if !slices.IsSorted(uids) {
		uids = slices.Sorted(slices.Values(uids))
	}
	// Only the wanted fields are selected and scanned: each column costs
	// per row even when NULL.
	cols := "uid, internal_date, size, summary IS NOT NULL"
	var vals []sql.NullString
	for _, p := range sortPaths {
		if want&p.want == 0 {
			continue
		}
		for _, path := range p.paths {
			cols += ", json_extract(summary, '" + path + "')"
			vals = append(vals, sql.NullString{})
		}
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+cols+" FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid",
		mailboxID, uids[0], uids[len(uids)-1])
	if err != nil {
		return fmt.Errorf("store: sort fields: %w", err)
	}
	defer rows.Close()
	var f SortFields
	var date int64
	var kept bool
	dest := []any{&f.UID, &date, &f.Size, &kept}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	var missing []SortFields
	next := 0 // uids[next] is the next UID wanted; rows come in UID order
	for rows.Next() {
		f = SortFields{}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("store: sort fields: %w", err)
		}
		for next < len(uids) && uids[next] < f.UID {
			next++
		}
		if next == len(uids) || uids[next] != f.UID {
			continue
		}
		f.InternalDate = time.Unix(date, 0)
		if !kept {
			missing = append(missing, f)
			continue
		}
		v := vals
		addr := func() message.EnvelopeAddress {
			a := message.EnvelopeAddress{Name: v[0].String, Mailbox: v[1].String, Host: v[2].String}
			v = v[3:]
			return a
		}
		if want&SortDate != 0 {
			if t, err := time.Parse(time.RFC3339Nano, v[0].String); err == nil && !t.Equal(time.Time{}) {
				f.Date = t
			}
			v = v[1:]
		}
		if want&SortSubject != 0 {
			f.Subject, v = v[0].String, v[1:]
		}
		if want&SortFrom != 0 {
			f.From = addr()
		}
		if want&SortTo != 0 {
			f.To = addr()
		}
		if want&SortCc != 0 {
			f.Cc = addr()
		}
		if want&SortReferences != 0 {
			f.MessageID = v[0].String
			if f.InReplyTo, err = idList(v[1]); err != nil {
				return err
			}
			if f.References, err = idList(v[2]); err != nil {
				return err
			}
		}
		fn(&f)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: sort fields: %w", err)
	}
	rows.Close()
	if len(missing) > 0 {
		return s.sortFieldsFromFiles(ctx, mailboxID, missing, fn)
	}
	return nil
}

// sortFieldsFromFiles completes the SortFields of messages without a
// kept summary from their files, and calls fn with each.
func (s *Store) sortFieldsFromFiles(ctx context.Context, mailboxID int64, missing []SortFields, fn func(*SortFields)) error {
	uids := make([]uint32, len(missing))
	for i, f := range missing {
		uids[i] = f.UID
	}
	msgs, err := s.MessagesByUID(ctx, mailboxID, uids)
	if err != nil {
		return err
	}
	first := func(l []message.EnvelopeAddress) message.EnvelopeAddress {
		if len(l) == 0 {
			return message.EnvelopeAddress{}
		}
		return l[0]
	}
	for _, m := range msgs {
		i, ok := slices.BinarySearchFunc(missing, m.UID, func(f SortFields, u uint32) int { return cmp.Compare(f.UID, u) })
		if !ok {
			continue
		}
		f := &missing[i]
		if info, err := keepFile(m.path); err == nil { // else expunged meanwhile: its fields stay empty
			f.Date, f.Subject, f.MessageID = info.Date, info.Subject, info.MessageID
			f.InReplyTo, f.References = info.InReplyTo, info.References
			f.From, f.To, f.Cc = first(info.Envelope.From), first(info.Envelope.To), first(info.Envelope.Cc)
		}
		fn(f)
	}
	return nil
}

// idList decodes a kept list of message ids (a JSON array, or NULL).
func idList(v sql.NullString) ([]string, error) {
	if !v.Valid || v.String == "" || v.String == "null" || v.String == "[]" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(v.String), &l); err != nil {
		return nil, fmt.Errorf("store: sort fields: decode ids: %w", err)
	}
	return l, nil
}
