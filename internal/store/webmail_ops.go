package store

import (
	"context"
)

// MessageOfAccount returns the message with the given id only when it
// lies in one of accountID's mailboxes, and ErrNotFound otherwise, so that
// a web page can look a message up by the id in its URL without ever
// reaching another account's mail.
func (s *Store) MessageOfAccount(ctx context.Context, accountID, id int64) (Message, error) {
	return s.scanMessage(s.db.QueryRowContext(ctx,
		"SELECT "+messageColumns+" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.id = ? AND b.account_id = ?",
		id, accountID))
}
