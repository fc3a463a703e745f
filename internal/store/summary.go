package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"pail/internal/imapmsg"
	"pail/internal/message"
)

// What IMAP reads instead of message files (internal/imapd):
//
//   - FETCH PREVIEW: KeptPreviews, the kept Info.Preview in SQL, once per
//     FETCH. SAVEDATE, EMAILID and THREADID are columns of the message
//     rows (objectIDMigration).
//   - FETCH ENVELOPE, BODYSTRUCTURE, BODY (non-extensible):
//     KeptWire (or MessageInfos) once per FETCH. imapd sends
//     Info.IMAPEnvelope and the root part's IMAPBodyStructure and IMAPBody
//     as they are: wire forms computed at delivery by internal/imapmsg,
//     the code that answers FETCH from a file, so they are byte for byte
//     the same (imapd's TestKeptWireEqualsFile checks it for every corpus
//     message). Info.Envelope and Structure are the decoded forms for
//     SEARCH, SORT, THREAD and the webmail. A summary kept before the wire
//     forms existed has none, and imapd parses the file for it. BODY[...]
//     sections still read the file.
//   - SEARCH: SearchUIDs for the conjunction of the keys a Query holds,
//     intersected with SearchText's candidates for each substring key
//     (fulltext.go), then header keys (FROM, TO, CC, BCC, SUBJECT)
//     matched against the decoded Info fields of the UIDs left, and
//     BODY/TEXT against the file.
//   - SORT and THREAD: SortFields (sortfields.go), Info's Date, Subject,
//     first From, To and Cc, MessageID, InReplyTo and References picked
//     out of the summary by SQL, with the row's size and internal date.
//   - STORE: SetFlags, already set-based.

// kept is what a message row keeps of its message.Info: the summary
// (everything but the structure) and the BODYSTRUCTURE tree as JSON, and
// the Date field's calendar day for SQL searches.
// The zero kept is no summary (NULL columns).
type kept struct {
	summary   sql.NullString
	structure sql.NullString
	sentDay   sql.NullInt64
	// threadRoot names the message's thread (threadRoot, for its
	// THREADID); emailID, when set, is the EMAILID its row gets, else a
	// new one (insertMessage).
	threadRoot string
	emailID    string
}

// keep encodes an Info for its row.
func keep(info *message.Info) (kept, error) {
	st, err := json.Marshal(info.Structure)
	if err != nil {
		return kept{}, fmt.Errorf("store: encode structure: %w", err)
	}
	sum := *info
	sum.Structure = nil
	b, err := json.Marshal(&sum)
	if err != nil {
		return kept{}, fmt.Errorf("store: encode summary: %w", err)
	}
	k := kept{summary: sql.NullString{String: string(b), Valid: true}, structure: sql.NullString{String: string(st), Valid: true},
		threadRoot: threadRoot(info.References, info.InReplyTo, info.MessageID)}
	if !info.Date.IsZero() {
		k.sentDay = sql.NullInt64{Int64: civilDay(info.Date), Valid: true}
	}
	return k, nil
}

// civilDay numbers t's calendar day in t's own zone, in days since
// 1970-01-01: RFC 9051 §6.4.4 SENTBEFORE/SENTON/SENTSINCE compare the
// Date field's date, disregarding time and zone.
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// keepFile reads and describes the message in path.
func keepFile(path string) (*message.Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("store: open message: %w", err)
	}
	defer f.Close()
	return message.ReadInfo(bufio.NewReaderSize(f, readBuffer)), nil
}

// decodeInfo rebuilds an Info from its row's columns; structure may be
// empty when the caller did not ask for it.
func decodeInfo(summary, structure string) (*message.Info, error) {
	info := new(message.Info)
	if err := json.Unmarshal([]byte(summary), info); err != nil {
		return nil, fmt.Errorf("store: decode summary: %w", err)
	}
	if structure != "" {
		if err := json.Unmarshal([]byte(structure), &info.Structure); err != nil {
			return nil, fmt.Errorf("store: decode structure: %w", err)
		}
	}
	return info, nil
}

// MessageInfo returns what the message says about itself (message.Info:
// envelope, body structure, decoded header fields, sizes, attachments,
// preview), as computed when it was stored. A message stored before pail
// kept it, and not yet reached by the fill that runs at Open, is read
// from its file instead.
func (s *Store) MessageInfo(ctx context.Context, m Message) (*message.Info, error) {
	var summary, structure sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT summary, structure FROM messages WHERE id = ?", m.ID).Scan(&summary, &structure)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if summary.Valid {
		return decodeInfo(summary.String, structure.String)
	}
	return keepFile(m.path)
}

// MessageInfos returns the kept message.Info of the messages of a mailbox
// whose UIDs are in uids, by UID, for FETCH of many messages in one
// query (ENVELOPE, BODYSTRUCTURE, PREVIEW). With structure false the
// BODYSTRUCTURE is not decoded (Info.Structure is nil), which is what
// ENVELOPE alone needs. UIDs that do not exist are skipped; a message
// without a kept summary is read from its file.
func (s *Store) MessageInfos(ctx context.Context, mailboxID int64, uids []uint32, structure bool) (map[uint32]*message.Info, error) {
	out := make(map[uint32]*message.Info, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	cols := "m.uid, m.summary, '', m.file, b.account_id"
	if structure {
		cols = "m.uid, m.summary, m.structure, m.file, b.account_id"
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+cols+" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid",
		mailboxID, slices.Min(uids), slices.Max(uids))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	var missing []string
	var missingUIDs []uint32
	for rows.Next() {
		var uid uint32
		var summary, st sql.NullString
		var file string
		var account int64
		if err := rows.Scan(&uid, &summary, &st, &file, &account); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if !want[uid] {
			continue
		}
		if !summary.Valid {
			missing = append(missing, filepath.Join(s.accountDir(account), file))
			missingUIDs = append(missingUIDs, uid)
			continue
		}
		info, err := decodeInfo(summary.String, st.String)
		if err != nil {
			return nil, err
		}
		out[uid] = info
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	for i, p := range missing {
		info, err := keepFile(p)
		if err != nil {
			continue // expunged meanwhile
		}
		if !structure {
			info.Structure = nil
		}
		out[missingUIDs[i]] = info
	}
	return out, nil
}

// fillBatch is how many rows one step of the summary fill reads and
// writes: small enough that deliveries queued behind its commit wait
// little.
const fillBatch = 64

// fillSummaries computes the kept summary of the rows that have none
// (mail stored before pail kept them), a batch per transaction, until none
// is left or the store closes. It is resumable by construction: each batch
// commits on its own and the next run starts from the rows still without
// one. A row whose file cannot be read is skipped until the next Open.
func (s *Store) fillSummaries(ctx context.Context) {
	defer close(s.fillDone)
	var after int64
	for ctx.Err() == nil {
		n, last, err := s.fillStep(ctx, after)
		if err != nil {
			return
		}
		if n == 0 {
			// The THREADIDs of mail from before migration 11 come from
			// the summaries, so they follow.
			s.fillThreads(ctx)
			return
		}
		after = last
	}
}

// fillQuery reads the next rows to fill, along the partial index
// messages_unkept.
const fillQuery = `SELECT m.id, m.file, b.account_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
	WHERE m.summary IS NULL AND m.id > ? ORDER BY m.id LIMIT ?`

// messageFile is a message row a background pass (the summary fill, the
// text indexer) works on: its id and the path of its file.
type messageFile struct {
	id   int64
	path string
}

// messageFiles runs query, whose rows are (id, file, account id), and
// returns the rows with their files' paths; what names the pass in errors.
func (s *Store) messageFiles(ctx context.Context, what, query string, args ...any) ([]messageFile, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var batch []messageFile
	for rows.Next() {
		var t messageFile
		var file string
		var account int64
		if err := rows.Scan(&t.id, &file, &account); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		t.path = filepath.Join(s.accountDir(account), file)
		batch = append(batch, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return batch, nil
}

// fillStep fills one batch of rows with an id above after; it returns how
// many rows it looked at and the last id.
func (s *Store) fillStep(ctx context.Context, after int64) (int, int64, error) {
	batch, err := s.messageFiles(ctx, "fill summaries", fillQuery, after, fillBatch)
	if err != nil {
		return 0, after, err
	}
	if len(batch) == 0 {
		return 0, after, nil
	}
	ids := make([]int64, 0, len(batch))
	ks := make([]kept, 0, len(batch))
	for _, t := range batch {
		if ctx.Err() != nil {
			break
		}
		info, err := keepFile(t.path)
		if err != nil {
			continue
		}
		k, err := keep(info)
		if err != nil {
			continue
		}
		ids = append(ids, t.id)
		ks = append(ks, k)
	}
	if len(ids) > 0 {
		err = s.write(ctx, nil, func(tx *dbTx) error {
			for i, id := range ids {
				if _, err := tx.Exec("UPDATE messages SET summary = ?, structure = ?, sent_day = ? WHERE id = ? AND summary IS NULL",
					ks[i].summary, ks[i].structure, ks[i].sentDay, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, after, fmt.Errorf("store: fill summaries: %w", err)
		}
	}
	return len(batch), batch[len(batch)-1].id, nil
}

// readBuffer is the read size for describing a message file: a few reads
// for most mail.
const readBuffer = 16 << 10

// summaryOf describes a spooled message for delivery.
func summaryOf(sp *fileSpool) (kept, error) {
	return keep(message.ReadInfoSize(bufio.NewReaderSize(io.NewSectionReader(sp.f, 0, sp.size), readBuffer), sp.size))
}

// KeptWire returns, by UID, the IMAP wire forms kept at delivery of the
// messages of a mailbox whose UIDs are in uids: the ENVELOPE, and with
// structure the BODYSTRUCTURE and BODY (imapmsg.Described). They are read
// out of the kept summary in SQL (json_extract), so that FETCH of a whole
// mailbox decodes nothing else. A message without them (no summary yet,
// a summary from before they were kept, a message over
// message.ReadInfo's bound) is absent, and the caller reads its file.
func (s *Store) KeptWire(ctx context.Context, mailboxID int64, uids []uint32, structure bool) (map[uint32]imapmsg.Described, error) {
	out := make(map[uint32]imapmsg.Described, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	cols := "uid, json_extract(summary, '$.IMAPEnvelope.Plain'), json_extract(summary, '$.IMAPEnvelope.UTF8'), NULL, NULL, NULL, NULL"
	if structure {
		cols = `uid, json_extract(summary, '$.IMAPEnvelope.Plain'), json_extract(summary, '$.IMAPEnvelope.UTF8'),
			json_extract(structure, '$.IMAPBodyStructure.Plain'), json_extract(structure, '$.IMAPBodyStructure.UTF8'),
			json_extract(structure, '$.IMAPBody.Plain'), json_extract(structure, '$.IMAPBody.UTF8')`
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+cols+" FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? AND summary IS NOT NULL ORDER BY uid",
		mailboxID, slices.Min(uids), slices.Max(uids))
	if err != nil {
		return nil, fmt.Errorf("store: kept wire: %w", err)
	}
	defer rows.Close()
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	wire := func(plain, utf8 sql.NullString) *imapmsg.Wire {
		if !plain.Valid {
			return nil
		}
		return &imapmsg.Wire{Plain: plain.String, UTF8: utf8.String}
	}
	for rows.Next() {
		var uid uint32
		var v [6]sql.NullString
		if err := rows.Scan(&uid, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
			return nil, fmt.Errorf("store: kept wire: %w", err)
		}
		d := imapmsg.Described{Envelope: wire(v[0], v[1]), BodyStructure: wire(v[2], v[3]), Body: wire(v[4], v[5])}
		if !want[uid] || d.Envelope == nil || structure && (d.BodyStructure == nil || d.Body == nil) {
			continue
		}
		out[uid] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: kept wire: %w", err)
	}
	return out, nil
}

// KeptPreviews returns, by UID, the RFC 8970 preview of the messages of
// a mailbox whose UIDs are in uids: the text computed at delivery
// (message.Info.Preview), read out of the kept summary in SQL, so that
// FETCH PREVIEW neither reads files nor decodes whole summaries. A
// message without a kept summary yet (see fillSummaries) has its preview
// computed from its file, unless lazy (PREVIEW (LAZY), RFC 8970 §3.2:
// what is not at hand is NIL, and the client asks again later); then it
// is absent.
func (s *Store) KeptPreviews(ctx context.Context, mailboxID int64, uids []uint32, lazy bool) (map[uint32]string, error) {
	out := make(map[uint32]string, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT m.uid, m.summary IS NOT NULL, coalesce(json_extract(m.summary, '$.Preview'), ''), m.file, b.account_id
		FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`,
		mailboxID, slices.Min(uids), slices.Max(uids))
	if err != nil {
		return nil, fmt.Errorf("store: previews: %w", err)
	}
	defer rows.Close()
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	missing := map[uint32]string{}
	for rows.Next() {
		var uid uint32
		var have bool
		var preview, file string
		var account int64
		if err := rows.Scan(&uid, &have, &preview, &file, &account); err != nil {
			return nil, fmt.Errorf("store: previews: %w", err)
		}
		switch {
		case !want[uid]:
		case have:
			out[uid] = preview
		case !lazy:
			missing[uid] = filepath.Join(s.accountDir(account), file)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: previews: %w", err)
	}
	for uid, p := range missing {
		if info, err := keepFile(p); err == nil {
			out[uid] = info.Preview
		}
	}
	return out, nil
}
