package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
)

// objectIDMigration (migration 11) keeps what RFC 8474 (OBJECTID) and
// RFC 8514 (SAVEDATE) ask of each mailbox and message:
//
//   - mailboxes.objectid, the MAILBOXID: random, made when the mailbox is
//     created, kept by RENAME (the row stays), new after DELETE and
//     CREATE (a new row).
//   - messages.email_id, the EMAILID: random, one per delivered message
//     and account (the copies one delivery files into several mailboxes
//     of the account share it), kept by COPY (copied) and MOVE (the row
//     stays) (RFC 8474 §5.1).
//   - messages.thread_id, the THREADID (RFC 8474 §5.2), from the thread's
//     root as References and In-Reply-To name it (threadID); NULL for
//     mail from before this migration until the background fill
//     (fillThreads) reaches it, which FETCH answers NIL as §5.2 allows.
//     messages_unthreaded finds those rows without a scan; it is empty
//     once they are filled.
//   - messages.saved, the save date in Unix seconds: set by delivery,
//     APPEND, COPY and MOVE; NULL for mail from before, which FETCH
//     answers NIL and SAVED* searches take by its internal date (RFC
//     8514 §4.2, §5). messages_saved serves those searches.
//
// The random ids of the rows already there are made by SQLite's
// randomblob; both kinds say nothing about other accounts or about how
// much mail the store holds.
const objectIDMigration = `
ALTER TABLE mailboxes ADD COLUMN objectid TEXT;
UPDATE mailboxes SET objectid = 'M' || lower(hex(randomblob(12)));
ALTER TABLE messages ADD COLUMN email_id TEXT;
ALTER TABLE messages ADD COLUMN thread_id TEXT;
ALTER TABLE messages ADD COLUMN saved INTEGER;
UPDATE messages SET email_id = 'E' || lower(hex(randomblob(12)));
CREATE INDEX messages_saved ON messages (mailbox_id, coalesce(saved, internal_date));
CREATE INDEX messages_unthreaded ON messages (id) WHERE thread_id IS NULL;
`

// objectIDBytes is how many random bytes an id holds: 96 bits, which no
// one guesses and no two objects share, in 25 characters (RFC 8474 §3:
// 1 to 255 of ALPHA, DIGIT, "_" and "-").
const objectIDBytes = 12

// newObjectID returns a fresh random id: the prefix ('M' mailbox, 'E'
// message, 'T' thread) and objectIDBytes in lower-case hex.
func newObjectID(prefix byte) string {
	b := make([]byte, 1+2*objectIDBytes)
	b[0] = prefix
	var r [objectIDBytes]byte
	rand.Read(r[:])
	hex.Encode(b[1:], r[:])
	return string(b)
}

// threadRoot is the Message-ID of the first message of the thread a
// message belongs to, as its own header names it: the first of
// References (RFC 5322 §3.6.4: the parent's References followed by the
// parent's Message-ID, so the first is the thread's start), else the
// first In-Reply-To, else its own Message-ID; "" when it has none.
func threadRoot(references, inReplyTo []string, messageID string) string {
	switch {
	case len(references) > 0:
		return references[0]
	case len(inReplyTo) > 0:
		return inReplyTo[0]
	}
	return messageID
}

// threadID is the THREADID (RFC 8474 §5.2) of a message of the account
// whose thread root is root: a digest of the account and the root, so
// that every message of one thread gets the same id wherever and
// whenever it arrives, with no lookup at delivery, and the same thread
// in two accounts gets two unrelated ids. A message without any
// Message-ID is a thread of its own.
func threadID(accountID int64, root string) string {
	if root == "" {
		return newObjectID('T')
	}
	h := sha256.Sum256([]byte(strconv.FormatInt(accountID, 10) + "\x00" + root))
	b := make([]byte, 1+2*objectIDBytes)
	b[0] = 'T'
	hex.Encode(b[1:], h[:objectIDBytes])
	return string(b)
}

// threadFillQuery reads the next rows without a THREADID, along the
// partial index messages_unthreaded, with what threadRoot needs out of
// their kept summaries. A row without a summary yet waits for it.
const threadFillQuery = `SELECT m.id, b.account_id, json_extract(m.summary, '$.References[0]'),
	json_extract(m.summary, '$.InReplyTo[0]'), json_extract(m.summary, '$.MessageID')
	FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
	WHERE m.thread_id IS NULL AND m.id > ? AND m.summary IS NOT NULL ORDER BY m.id LIMIT ?`

// fillThreads gives the rows stored before migration 11 their THREADID,
// a batch (fillBatch rows) per transaction, until none is left or ctx
// ends; like fillSummaries it is resumable, each batch committing on
// its own.
func (s *Store) fillThreads(ctx context.Context) {
	var after int64
	for ctx.Err() == nil {
		n, last, err := s.threadStep(ctx, after)
		if err != nil || n == 0 {
			return
		}
		after = last
	}
}

// threadStep fills one batch of rows with an id above after; it returns
// how many it filled and the last id.
func (s *Store) threadStep(ctx context.Context, after int64) (int, int64, error) {
	rows, err := s.db.QueryContext(ctx, threadFillQuery, after, fillBatch)
	if err != nil {
		return 0, after, fmt.Errorf("store: fill threads: %w", err)
	}
	type row struct {
		id     int64
		thread string
	}
	var batch []row
	for rows.Next() {
		var id, account int64
		var ref, reply, msgID sql.NullString
		if err := rows.Scan(&id, &account, &ref, &reply, &msgID); err != nil {
			rows.Close()
			return 0, after, fmt.Errorf("store: fill threads: %w", err)
		}
		var refs, replies []string
		if ref.String != "" {
			refs = []string{ref.String}
		}
		if reply.String != "" {
			replies = []string{reply.String}
		}
		batch = append(batch, row{id, threadID(account, threadRoot(refs, replies, msgID.String))})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, after, fmt.Errorf("store: fill threads: %w", err)
	}
	if len(batch) == 0 {
		return 0, after, nil
	}
	err = s.write(ctx, nil, func(tx *dbTx) error {
		for _, r := range batch {
			if _, err := tx.Exec("UPDATE messages SET thread_id = ? WHERE id = ? AND thread_id IS NULL", r.thread, r.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, after, fmt.Errorf("store: fill threads: %w", err)
	}
	return len(batch), batch[len(batch)-1].id, nil
}
