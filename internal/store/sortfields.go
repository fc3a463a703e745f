package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
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

// sortColumns pick the SortFields out of the kept summary in SQL, so that
// SORT over a large mailbox decodes a few fields per message instead of
// the whole summary (SQLite parses each row's JSON once for all of them).
const sortColumns = `m.uid, m.internal_date, m.size, m.summary IS NOT NULL,
	json_extract(m.summary, '$.Date'), json_extract(m.summary, '$.Subject'),
	json_extract(m.summary, '$.Envelope.From[0].Name'), json_extract(m.summary, '$.Envelope.From[0].Mailbox'), json_extract(m.summary, '$.Envelope.From[0].Host'),
	json_extract(m.summary, '$.Envelope.To[0].Name'), json_extract(m.summary, '$.Envelope.To[0].Mailbox'), json_extract(m.summary, '$.Envelope.To[0].Host'),
	json_extract(m.summary, '$.Envelope.Cc[0].Name'), json_extract(m.summary, '$.Envelope.Cc[0].Mailbox'), json_extract(m.summary, '$.Envelope.Cc[0].Host'),
	json_extract(m.summary, '$.MessageID'), json_extract(m.summary, '$.InReplyTo'), json_extract(m.summary, '$.References'),
	m.file, b.account_id`

// SortFields returns the SortFields of the messages of a mailbox whose
// UIDs are in uids, in UID order; UIDs that do not exist are skipped. A
// message without a kept summary (stored before pail kept them and not
// yet reached by the fill) is read from its file.
func (s *Store) SortFields(ctx context.Context, mailboxID int64, uids []uint32) ([]SortFields, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+sortColumns+" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid",
		mailboxID, slices.Min(uids), slices.Max(uids))
	if err != nil {
		return nil, fmt.Errorf("store: sort fields: %w", err)
	}
	defer rows.Close()
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	out := make([]SortFields, 0, len(uids))
	var missing []int // of out, with their files
	var files []string
	for rows.Next() {
		var f SortFields
		var date int64
		var kept bool
		var sent, subject, msgID, inReplyTo, refs sql.NullString
		var addr [9]sql.NullString
		var file string
		var account int64
		if err := rows.Scan(&f.UID, &date, &f.Size, &kept, &sent, &subject,
			&addr[0], &addr[1], &addr[2], &addr[3], &addr[4], &addr[5], &addr[6], &addr[7], &addr[8],
			&msgID, &inReplyTo, &refs, &file, &account); err != nil {
			return nil, fmt.Errorf("store: sort fields: %w", err)
		}
		if !want[f.UID] {
			continue
		}
		f.InternalDate = time.Unix(date, 0)
		if !kept {
			missing = append(missing, len(out))
			files = append(files, filepath.Join(s.accountDir(account), file))
			out = append(out, f)
			continue
		}
		if sent.Valid {
			if t, err := time.Parse(time.RFC3339Nano, sent.String); err == nil && !t.Equal(time.Time{}) {
				f.Date = t
			}
		}
		f.Subject, f.MessageID = subject.String, msgID.String
		f.From = message.EnvelopeAddress{Name: addr[0].String, Mailbox: addr[1].String, Host: addr[2].String}
		f.To = message.EnvelopeAddress{Name: addr[3].String, Mailbox: addr[4].String, Host: addr[5].String}
		f.Cc = message.EnvelopeAddress{Name: addr[6].String, Mailbox: addr[7].String, Host: addr[8].String}
		if f.InReplyTo, err = idList(inReplyTo); err != nil {
			return nil, err
		}
		if f.References, err = idList(refs); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sort fields: %w", err)
	}
	for i, o := range missing {
		info, err := keepFile(files[i])
		if err != nil {
			continue // expunged meanwhile: its fields stay empty
		}
		f := &out[o]
		f.Date, f.Subject, f.MessageID = info.Date, info.Subject, info.MessageID
		f.InReplyTo, f.References = info.InReplyTo, info.References
		first := func(l []message.EnvelopeAddress) message.EnvelopeAddress {
			if len(l) == 0 {
				return message.EnvelopeAddress{}
			}
			return l[0]
		}
		f.From, f.To, f.Cc = first(info.Envelope.From), first(info.Envelope.To), first(info.Envelope.Cc)
	}
	return out, nil
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
