package store

import (
	"context"
	"fmt"
)

// countsMigration (migration 12) keeps each mailbox's figures in its row,
// so that IMAP STATUS (RFC 9051 §6.3.11) and the webmail's folder list cost
// one row read instead of a scan of the mailbox's messages:
// mailboxes.n_messages, n_unseen (no \Seen), n_deleted (\Deleted),
// n_recent (the recent mark) and total_size (the sum of the sizes, RFC
// 8438 STATUS SIZE).
//
// Triggers on messages keep them exact on every path that changes a
// mailbox's rows, whatever Go code runs it: an INSERT (delivery, APPEND,
// COPY), a DELETE (EXPUNGE, the cascade of a mailbox's or an account's
// DELETE) and an UPDATE of mailbox_id, flags, recent or size (MOVE,
// RENAME of INBOX, STORE, the claim of the recent marks). A flag counts as
// set as MailboxStatus counted it before: the word in the space-separated
// flags column. The UPDATE trigger of a row that stays in its mailbox
// fires only when one of the figures changes, as one UPDATE of the row.
//
// The figures of the mail already stored are counted by the migration
// itself, in its transaction.
const countsMigration = `
ALTER TABLE mailboxes ADD COLUMN n_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN n_unseen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN n_deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN n_recent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN total_size INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET (n_messages, n_unseen, n_deleted, n_recent, total_size) = (SELECT count(*),
	coalesce(sum(instr(' ' || flags || ' ', ' \Seen ') = 0), 0),
	coalesce(sum(instr(' ' || flags || ' ', ' \Deleted ') > 0), 0),
	coalesce(sum(recent <> 0), 0),
	coalesce(sum(size), 0)
	FROM messages WHERE mailbox_id = mailboxes.id);
CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
	UPDATE mailboxes SET n_messages = n_messages + 1,
		n_unseen = n_unseen + (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0),
		n_deleted = n_deleted + (instr(' ' || NEW.flags || ' ', ' \Deleted ') > 0),
		n_recent = n_recent + (NEW.recent <> 0),
		total_size = total_size + NEW.size
		WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
	UPDATE mailboxes SET n_messages = n_messages - 1,
		n_unseen = n_unseen - (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0),
		n_deleted = n_deleted - (instr(' ' || OLD.flags || ' ', ' \Deleted ') > 0),
		n_recent = n_recent - (OLD.recent <> 0),
		total_size = total_size - OLD.size
		WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER messages_count_move AFTER UPDATE OF mailbox_id ON messages
	WHEN OLD.mailbox_id <> NEW.mailbox_id BEGIN
	UPDATE mailboxes SET n_messages = n_messages - 1,
		n_unseen = n_unseen - (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0),
		n_deleted = n_deleted - (instr(' ' || OLD.flags || ' ', ' \Deleted ') > 0),
		n_recent = n_recent - (OLD.recent <> 0),
		total_size = total_size - OLD.size
		WHERE id = OLD.mailbox_id;
	UPDATE mailboxes SET n_messages = n_messages + 1,
		n_unseen = n_unseen + (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0),
		n_deleted = n_deleted + (instr(' ' || NEW.flags || ' ', ' \Deleted ') > 0),
		n_recent = n_recent + (NEW.recent <> 0),
		total_size = total_size + NEW.size
		WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER messages_count_change AFTER UPDATE OF flags, recent, size ON messages
	WHEN OLD.mailbox_id = NEW.mailbox_id AND (
		(instr(' ' || OLD.flags || ' ', ' \Seen ') = 0) <> (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0) OR
		(instr(' ' || OLD.flags || ' ', ' \Deleted ') > 0) <> (instr(' ' || NEW.flags || ' ', ' \Deleted ') > 0) OR
		(OLD.recent <> 0) <> (NEW.recent <> 0) OR OLD.size <> NEW.size) BEGIN
	UPDATE mailboxes SET
		n_unseen = n_unseen + (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0) - (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0),
		n_deleted = n_deleted + (instr(' ' || NEW.flags || ' ', ' \Deleted ') > 0) - (instr(' ' || OLD.flags || ' ', ' \Deleted ') > 0),
		n_recent = n_recent + (NEW.recent <> 0) - (OLD.recent <> 0),
		total_size = total_size + NEW.size - OLD.size
		WHERE id = NEW.mailbox_id;
END;
`

// MailboxCounts are the figures IMAP STATUS reports.
type MailboxCounts struct {
	Messages, Unseen, Deleted, Recent uint32
	Size                              int64
}

// MailboxStatus returns a mailbox's figures, kept in its row by the
// triggers of countsMigration: one row read, whatever the mailbox holds.
// A mailbox that does not exist has none (all zero), as before.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (MailboxCounts, error) {
	var c MailboxCounts
	err := s.queryRow(ctx, `SELECT coalesce(sum(n_messages), 0), coalesce(sum(n_unseen), 0), coalesce(sum(n_deleted), 0),
		coalesce(sum(n_recent), 0), coalesce(sum(total_size), 0) FROM mailboxes WHERE id = ?`, mailboxID).Scan(&c.Messages, &c.Unseen, &c.Deleted, &c.Recent, &c.Size)
	if err != nil {
		return MailboxCounts{}, fmt.Errorf("store: mailbox status: %w", err)
	}
	return c, nil
}
