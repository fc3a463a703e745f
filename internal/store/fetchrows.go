package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"

	"pail/internal/imapmsg"
)

// KeptForms says which IMAP wire forms kept at delivery EachMessage reads
// with the messages.
type KeptForms uint8

// The kept wire forms (imapmsg.Described).
const (
	KeptNone      KeptForms = iota // none
	KeptEnvelope                   // the ENVELOPE
	KeptStructure                  // the ENVELOPE, BODYSTRUCTURE and BODY
)

// EachMessage calls fn, in UID order, with each message of a mailbox whose
// UID is in uids (sorted, without duplicates, as an IMAP view resolves a
// set) and with the wire forms kept at delivery that kept asks for. The
// messages and their forms are read together, eachChunk UIDs a query, and
// the rows are streamed: FETCH 1:* of a large mailbox holds no structure
// the size of the mailbox, and no read transaction for the whole of a
// long fetch (a reader keeps SQLite's WAL from being checkpointed past
// it). A message without the forms asked for (see KeptWire) gets a zero
// imapmsg.Described, and the caller reads its file. fn must not use the
// store: a query's connection is held while it runs. An error from fn
// stops the walk and is returned as it is.
func (s *Store) EachMessage(ctx context.Context, mailboxID int64, uids []uint32, kept KeptForms, fn func(m *Message, d imapmsg.Described) error) error {
	if len(uids) == 0 {
		return nil
	}
	if !slices.IsSorted(uids) {
		uids = slices.Compact(slices.Sorted(slices.Values(uids)))
	}
	cols := "SELECT " + messageColumns + ", NULL, NULL, NULL, NULL, NULL, NULL"
	switch kept {
	case KeptEnvelope:
		cols = "SELECT " + messageColumns + `, json_extract(m.summary, '$.IMAPEnvelope.Plain'), json_extract(m.summary, '$.IMAPEnvelope.UTF8'),
			NULL, NULL, NULL, NULL`
	case KeptStructure:
		cols = "SELECT " + messageColumns + `, json_extract(m.summary, '$.IMAPEnvelope.Plain'), json_extract(m.summary, '$.IMAPEnvelope.UTF8'),
			json_extract(m.structure, '$.IMAPBodyStructure.Plain'), json_extract(m.structure, '$.IMAPBodyStructure.UTF8'),
			json_extract(m.structure, '$.IMAPBody.Plain'), json_extract(m.structure, '$.IMAPBody.UTF8')`
	}
	return s.eachMessage(ctx, cols+" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? AND ",
		mailboxID, uids, kept, eachBatch, fn)
}

// eachBatch is how many UIDs one query of EachMessage reads: enough that
// the queries cost little more than one, few enough that each read
// transaction lasts milliseconds (one ends between two batches).
const eachBatch = 1024

// eachMessage is EachMessage with the query's start and the batch size.
func (s *Store) eachMessage(ctx context.Context, query string, mailboxID int64, uids []uint32, kept KeptForms, batch int, fn func(m *Message, d imapmsg.Described) error) error {
	for len(uids) > 0 {
		chunk := uids[:min(len(uids), batch)]
		uids = uids[len(chunk):]
		if err := s.eachChunk(ctx, query, mailboxID, chunk, kept, fn); err != nil {
			return err
		}
	}
	return nil
}

// eachChunk is one query of EachMessage.
func (s *Store) eachChunk(ctx context.Context, query string, mailboxID int64, uids []uint32, kept KeptForms, fn func(m *Message, d imapmsg.Described) error) error {
	var rows *sql.Rows
	var err error
	lo, hi := uids[0], uids[len(uids)-1]
	if dense(uids) {
		rows, err = s.query(ctx, query+"m.uid BETWEEN ? AND ? ORDER BY m.uid", mailboxID, lo, hi)
	} else {
		rows, err = s.query(ctx, query+"m.uid "+s.d.uidsIn+" ORDER BY m.uid", mailboxID, uidList(uids))
	}
	if err != nil {
		return fmt.Errorf("store: each message: %w", err)
	}
	defer rows.Close()
	var v [6]sql.NullString
	row := &scanWith{rows: rows, extra: []any{&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]}}
	// wires holds a row's three forms: one allocation per message.
	var wires *[3]imapmsg.Wire
	wire := func(i int, plain, utf8 sql.NullString) *imapmsg.Wire {
		if !plain.Valid {
			return nil
		}
		if wires == nil {
			wires = new([3]imapmsg.Wire)
		}
		wires[i] = imapmsg.Wire{Plain: plain.String, UTF8: utf8.String}
		return &wires[i]
	}
	next := 0 // uids[next] is the lowest UID not yet passed
	for rows.Next() {
		m, err := s.scanMessage(row)
		if err != nil {
			return fmt.Errorf("store: each message: %w", err)
		}
		// Both in UID order: walk uids along the rows.
		for next < len(uids) && uids[next] < m.UID {
			next++
		}
		if next == len(uids) {
			break
		}
		if uids[next] != m.UID {
			continue
		}
		var d imapmsg.Described
		if kept != KeptNone {
			wires = nil
			d = imapmsg.Described{Envelope: wire(0, v[0], v[1]), BodyStructure: wire(1, v[2], v[3]), Body: wire(2, v[4], v[5])}
			if d.Envelope == nil || kept == KeptStructure && (d.BodyStructure == nil || d.Body == nil) {
				d = imapmsg.Described{}
			}
		}
		if err := fn(&m, d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: each message: %w", err)
	}
	return nil
}

// dense reports whether sorted uids cover at least half of their range, so
// that reading the range costs less than looking each one up.
func dense(uids []uint32) bool {
	span := int64(uids[len(uids)-1]) - int64(uids[0]) + 1
	return int64(len(uids))*2 >= span
}

// uidList is uids as a JSON array, for json_each.
func uidList(uids []uint32) string {
	b := make([]byte, 0, len(uids)*6+2)
	b = append(b, '[')
	for i, u := range uids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(u), 10)
	}
	return string(append(b, ']'))
}

// scanWith scans a row of message columns followed by more columns.
type scanWith struct {
	rows  *sql.Rows
	extra []any
	all   []any // dest and extra, reused from row to row
}

func (r *scanWith) Scan(dest ...any) error {
	r.all = append(append(r.all[:0], dest...), r.extra...)
	return r.rows.Scan(r.all...)
}
