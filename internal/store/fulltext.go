package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"pail/internal/message"
)

// Full-text search (for internal/imapd and the webmail):
//
//   - SearchText(ctx, mailboxID, field, needle) returns the UIDs that may
//     match one SEARCH key: field is "TEXT", "BODY", "SUBJECT", "FROM",
//     "TO", "CC", "BCC" or any other header field name (HEADER name needle).
//     The UIDs are a superset of the true matches (RFC 9051 §6.4.4: a
//     substring of the decoded header field or the decoded text, by
//     i;unicode-casemap as I18NLEVEL=1 has it, RFC 5255 §4); the caller confirms each by its exact check, on the kept
//     summary for header fields and on the file for BODY and TEXT. The exact
//     check must look at the decoded text (message.SearchText says which):
//     a match only in the undecoded bytes of a parseable message (say
//     "=3D" in a quoted-printable body) is not in the index.
//   - When narrowed is false the index could not narrow (a needle of fewer
//     than minNeedle characters once folded, which trigrams cannot look up,
//     or an empty one): the caller scans every message, as before the index.
//   - Messages not indexed yet (just delivered, or from before the index,
//     until the background fill reaches them) and messages whose text was
//     cut at message.MaxSearchText or did not parse are always candidates.
//
// The index is the FTS5 table message_text (trigram tokenizer, so that any
// substring of three characters or more can be looked up, including inside
// words), one row per message row (rowid = messages.id), over the folded
// (message.FoldSearch) text of message.ReadSearchText. It is filled after
// delivery's commit by a background indexer (indexTexts), which also fills
// the rows from before it and copies; a trigger drops a row's text when the
// message row goes (expunge, mailbox or account deletion). Reindex rebuilds
// an account's.

// minNeedle is the shortest folded needle the trigram index can look up.
const minNeedle = 3

// Text states of a message row (messages.text_state): NULL is not indexed
// yet.
const (
	textFull    = 1 // message_text holds all of its text
	textPartial = 2 // cut or unreadable: always a candidate
)

// textMigration adds the full-text index (see the comment above).
const textMigration = `
-- Full-text search: message_text holds the folded text of each message
-- (rowid = messages.id; columns as message.SearchText), indexed by
-- trigrams, without a copy of the text (content=''). text_state says how
-- far a row is indexed: NULL not yet, 1 fully, 2 partially (a candidate
-- for every search). messages_untexted finds the rows to index;
-- messages_text_unsure the rows of a mailbox that every search must
-- include.
CREATE VIRTUAL TABLE message_text USING fts5(hdr, subject, from_, to_, cc_, bcc_, body,
	tokenize = 'trigram case_sensitive 1', content = '', contentless_delete = 1);
ALTER TABLE messages ADD COLUMN text_state INTEGER;
CREATE INDEX messages_untexted ON messages (id) WHERE text_state IS NULL;
CREATE INDEX messages_text_unsure ON messages (mailbox_id, uid) WHERE text_state IS NOT 1;
CREATE TRIGGER messages_text_gone AFTER DELETE ON messages BEGIN
	DELETE FROM message_text WHERE rowid = old.id;
END;
`

// casemapMigration rebuilds the full-text index when its folding became
// i;unicode-casemap (message.FoldSearch; it was lower case before, which
// would miss "cafe" in "Café"): every row's text goes and the background
// indexer indexes it again, the rows being candidates of every search
// meanwhile. FTS5's delete-all empties the contentless table at once.
const casemapMigration = `
INSERT INTO message_text (message_text) VALUES ('delete-all');
UPDATE messages SET text_state = NULL;
`

// textColumns maps SearchText's fields to the columns of message_text.
var textColumns = map[string]string{
	"TEXT":    "{hdr body}",
	"BODY":    "{body}",
	"SUBJECT": "{subject}",
	"FROM":    "{from_}",
	"TO":      "{to_}",
	"CC":      "{cc_}",
	"BCC":     "{bcc_}",
}

// SearchText returns, in ascending order, the UIDs of the mailbox's
// messages that may hold needle in field (see the comment at the top of
// fulltext.go): a superset of the true matches, which the caller
// confirms. When narrowed is false the index cannot narrow (needle shorter
// than three characters) and uids is nil: every message is a candidate.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, field, needle string) (uids []uint32, narrowed bool, err error) {
	if s.db.pg() {
		return nil, false, nil // no index on PostgreSQL yet: every message is a candidate
	}
	q, ok := textQuery(field, needle)
	if !ok {
		return nil, false, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT m.uid FROM message_text t JOIN messages m ON m.id = t.rowid
		WHERE message_text MATCH ? AND m.mailbox_id = ?
		UNION SELECT uid FROM messages WHERE mailbox_id = ? AND text_state IS NOT 1
		ORDER BY 1`, q, mailboxID, mailboxID)
	if err != nil {
		return nil, false, fmt.Errorf("store: search text: %w", err)
	}
	defer rows.Close()
	uids = []uint32{}
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, false, fmt.Errorf("store: search text: %w", err)
		}
		uids = append(uids, u)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: search text: %w", err)
	}
	return uids, true, nil
}

// SearchTextAccount is SearchText over all the mailboxes of an account: the
// candidate UIDs by mailbox id (mailboxes without candidates left out).
func (s *Store) SearchTextAccount(ctx context.Context, accountID int64, field, needle string) (map[int64][]uint32, bool, error) {
	if s.db.pg() {
		return nil, false, nil // no index on PostgreSQL yet: every message is a candidate
	}
	q, ok := textQuery(field, needle)
	if !ok {
		return nil, false, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT m.mailbox_id, m.uid FROM message_text t JOIN messages m ON m.id = t.rowid
		JOIN mailboxes b ON b.id = m.mailbox_id WHERE message_text MATCH ? AND b.account_id = ?
		UNION SELECT m.mailbox_id, m.uid FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
		WHERE b.account_id = ? AND m.text_state IS NOT 1
		ORDER BY 1, 2`, q, accountID, accountID)
	if err != nil {
		return nil, false, fmt.Errorf("store: search text: %w", err)
	}
	defer rows.Close()
	out := map[int64][]uint32{}
	for rows.Next() {
		var mb int64
		var u uint32
		if err := rows.Scan(&mb, &u); err != nil {
			return nil, false, fmt.Errorf("store: search text: %w", err)
		}
		out[mb] = append(out[mb], u)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: search text: %w", err)
	}
	return out, true, nil
}

// addressFields are the fields whose SEARCH key is matched against the
// addresses as parsed (imapd's matchKept: display name, mailbox@host,
// "Name <mailbox@host>"), not against the field's text that the index
// holds: parsing drops quotes, backslashes, comments and white space
// between the words, so a needle may span a place where the field's text
// has more than the parsed form. Within a run of letters and digits
// nothing is ever dropped, so only such runs are looked up.
var addressFields = map[string]bool{"FROM": true, "TO": true, "CC": true, "BCC": true}

// textQuery is the FTS5 query for needle in field, in field's columns;
// false when the needle has nothing the index can look up (fewer than
// minNeedle characters once folded: no trigram). For the text fields
// (TEXT, BODY, SUBJECT, other header fields) it is the folded needle as
// one phrase: its trigrams in a row, the substring. For the address
// fields it is every run of minNeedle or more letters and digits of the
// needle as a phrase, all of them (see addressFields): a needle such as
// "zoe@example.org" looks up "zoe", "example" and "org".
func textQuery(field, needle string) (string, bool) {
	n := message.FoldSearch(needle)
	field = strings.ToUpper(field)
	cols, ok := textColumns[field]
	if !ok {
		cols = "{hdr}" // HEADER name: the field's line holds the value
	}
	phrase := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	if !addressFields[field] {
		if utf8.RuneCountInString(n) < minNeedle {
			return "", false
		}
		return cols + ": " + phrase(n), true
	}
	var words []string
	for _, w := range strings.FieldsFunc(n, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if utf8.RuneCountInString(w) >= minNeedle {
			words = append(words, phrase(w))
		}
	}
	if len(words) == 0 {
		return "", false
	}
	return cols + ": (" + strings.Join(words, " AND ") + ")", true
}

// kickText wakes the indexer after new rows were committed.
func (s *Store) kickText() {
	select {
	case s.textKick <- struct{}{}:
	default:
	}
}

// indexTexts indexes the rows without text (text_state NULL), a batch per
// transaction, then waits for the next kick, until the store closes. It
// is resumable by construction, like fillSummaries.
func (s *Store) indexTexts(ctx context.Context) {
	defer close(s.textDone)
	for {
		var after int64
		for ctx.Err() == nil {
			n, last, err := s.indexStep(ctx, 0, after)
			if err != nil || n == 0 {
				break
			}
			after = last
		}
		select {
		case <-ctx.Done():
			return
		case <-s.textKick:
		}
		// Let deliveries gather: FTS5 writes a new segment per batch and
		// merges small ones, so batches of one message cost several
		// times what larger batches do.
		select {
		case <-ctx.Done():
			return
		case <-time.After(textSettle):
		}
	}
}

// textSettle is how long the indexer lets new mail gather after a kick
// before indexing it (meanwhile those messages are candidates of every
// search, so results are the same, only costlier for a moment).
const textSettle = 200 * time.Millisecond

// textBatch is how many rows one step of the indexer indexes: few enough
// that deliveries queued behind its commit wait little (about 1 ms of
// text indexing per 4 KiB message).
const textBatch = 128

// textTodo reads the next rows to index, along messages_untexted;
// account 0 means any.
const textTodo = `SELECT m.id, m.file, b.account_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
	WHERE m.text_state IS NULL AND m.id > ? AND (? = 0 OR b.account_id = ?) ORDER BY m.id LIMIT ?`

// indexStep indexes one batch of rows with an id above after (of one
// account, or any for 0); it returns how many rows it looked at and the
// last id.
func (s *Store) indexStep(ctx context.Context, account, after int64) (int, int64, error) {
	batch, err := s.messageFiles(ctx, "index text", textTodo, after, account, account, textBatch)
	if err != nil {
		return 0, after, err
	}
	if len(batch) == 0 {
		return 0, after, nil
	}
	texts := make([]*message.SearchText, len(batch))
	for i, t := range batch {
		if ctx.Err() != nil {
			batch = batch[:i]
			break
		}
		texts[i] = readSearchText(t.path) // nil: unreadable, partial
	}
	if len(batch) == 0 {
		return 0, after, nil
	}
	err = s.write(ctx, nil, func(tx *dbTx) error {
		for i, t := range batch {
			state := textFull
			if texts[i] == nil || texts[i].Partial {
				state = textPartial
			}
			res, err := tx.Exec("UPDATE messages SET text_state = ? WHERE id = ? AND text_state IS NULL", state, t.id)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 || texts[i] == nil {
				continue // gone, or indexed meanwhile
			}
			st := texts[i]
			if _, err := tx.Exec("INSERT INTO message_text (rowid, hdr, subject, from_, to_, cc_, bcc_, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				t.id, st.Header, st.Subject, st.From, st.To, st.Cc, st.Bcc, st.Body); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, after, fmt.Errorf("store: index text: %w", err)
	}
	return len(batch), batch[len(batch)-1].id, nil
}

// readSearchText reads the text of the message in path, nil if the file
// cannot be read.
func readSearchText(path string) *message.SearchText {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st := message.ReadSearchText(bufio.NewReaderSize(f, readBuffer))
	return &st
}

// Reindex rebuilds the full-text index of an account's messages: it drops
// their text and indexes every one again from its file (itself or by the
// background indexer, whichever reaches a row first), returning how many
// messages were indexed again. Searches meanwhile treat the rows not yet done as
// candidates, so they stay correct.
func (s *Store) Reindex(ctx context.Context, accountID int64) (int, error) {
	if s.db.pg() {
		return 0, errNotOnPG("Reindex")
	}
	var reset int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		const mine = "SELECT m.id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = ?"
		if _, err := tx.Exec("DELETE FROM message_text WHERE rowid IN ("+mine+")", accountID); err != nil {
			return err
		}
		res, err := tx.Exec("UPDATE messages SET text_state = NULL WHERE id IN ("+mine+")", accountID)
		if err != nil {
			return err
		}
		reset, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: reindex: %w", err)
	}
	// The background indexer may take some of the rows first; either
	// way a row is done once its text_state is set (in the same
	// transaction as its text), so the loop ends when none is left.
	var after int64
	for {
		n, last, err := s.indexStep(ctx, accountID, after)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			return int(reset), nil
		}
		after = last
	}
}

// textPending reports how many of the store's messages are not indexed
// yet, for tests and benchmarks that wait for the indexer.
func (s *Store) textPending(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE text_state IS NULL").Scan(&n)
	return n, err
}
