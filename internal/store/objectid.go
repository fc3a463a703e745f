package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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
//     mail from before this migration, which FETCH answers NIL as §5.2
//     allows.
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
