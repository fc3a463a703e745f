package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrInbox is returned for an operation that INBOX does not allow, such as
// DELETE (RFC 9051 §6.3.5).
var ErrInbox = errors.New("store: not allowed on INBOX")

// HierarchySep separates the levels of mailbox names ("Work/2026").
const HierarchySep = "/"

// CreateMailboxPath creates a mailbox and any missing parents of it in one
// transaction (RFC 9051 §6.3.4: the server SHOULD create the superior
// names). It fails with ErrExists if the mailbox itself exists.
func (s *Store) CreateMailboxPath(ctx context.Context, accountID int64, name, specialUse string) (Mailbox, error) {
	name = canonicalName(name)
	var id int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		if err := createParents(tx, accountID, name); err != nil {
			return err
		}
		var err error
		id, err = createMailbox(tx, accountID, name, specialUse)
		return err
	})
	if err != nil {
		return Mailbox{}, err
	}
	s.hub.publish(Event{AccountID: accountID, MailboxID: id, Kind: EventMailboxes})
	return s.MailboxByID(ctx, id)
}

// createParents creates every missing superior name of name.
func createParents(tx *dbTx, accountID int64, name string) error {
	parts := strings.Split(name, HierarchySep)
	for i := 1; i < len(parts); i++ {
		parent := canonicalName(strings.Join(parts[:i], HierarchySep))
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM mailboxes WHERE account_id = ? AND name = ?", accountID, parent).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := createMailbox(tx, accountID, parent, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteMailbox removes a mailbox with its messages. Children ("name/x")
// stay (RFC 9051 §6.3.5 allows deleting a name that has inferiors; the name
// then no longer exists but is shown as a \Noselect parent). INBOX cannot
// be deleted.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	name = canonicalName(name)
	if name == Inbox {
		return ErrInbox
	}
	var id int64
	var paths []string
	dir := s.accountDir(accountID)
	err := s.write(ctx, nil, func(tx *dbTx) error {
		paths = paths[:0]
		var bodies []int64 // PostgreSQL: the bodies its messages named
		if err := tx.QueryRow("SELECT id FROM mailboxes WHERE account_id = ? AND name = ?", accountID, name).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		rows, err := tx.Query("SELECT file FROM messages WHERE mailbox_id = ?", id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err != nil {
				rows.Close()
				return err
			}
			if tx.pg() {
				id, _ := strconv.ParseInt(f, 10, 64)
				bodies = append(bodies, id)
			} else {
				paths = append(paths, filepath.Join(dir, f))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// RFC 9051 §6.3.7: the subscription stays after the mailbox
		// is gone (RFC 5258 lists it as \NonExistent).
		if _, err := tx.Exec("INSERT INTO lone_subscriptions (account_id, name) SELECT account_id, name FROM mailboxes WHERE id = ? AND subscribed <> 0 ON CONFLICT DO NOTHING", id); err != nil {
			return err
		}
		if _, err = tx.Exec("DELETE FROM mailboxes WHERE id = ?", id); err != nil {
			return err
		}
		return gcBodies(tx, bodies)
	})
	if err != nil {
		return err
	}
	removeFiles(paths)
	s.hub.publish(Event{AccountID: accountID, MailboxID: id, Kind: EventMailboxes})
	return nil
}

// RenameMailbox renames a mailbox and its children ("old/x" becomes
// "new/x"), creating missing parents of the new name, in one transaction.
// UIDVALIDITY and UIDs stay. RFC 9051 §6.3.6: renaming INBOX instead moves
// all its messages to a new mailbox with the new name and leaves INBOX
// empty; INBOX's children are not renamed.
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error {
	oldName, newName = canonicalName(oldName), canonicalName(newName)
	if newName == Inbox {
		return fmt.Errorf("%w: mailbox INBOX", ErrExists)
	}
	if oldName == newName {
		return fmt.Errorf("%w: mailbox %s", ErrExists, newName)
	}
	var inboxID int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		inboxID = 0 // a batch run again starts over
		var id int64
		if err := tx.QueryRow("SELECT id FROM mailboxes WHERE account_id = ? AND name = ?", accountID, oldName).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM mailboxes WHERE account_id = ? AND name = ?", accountID, newName).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: mailbox %s", ErrExists, newName)
		}
		if strings.HasPrefix(newName, oldName+HierarchySep) {
			return fmt.Errorf("%w: cannot rename %s into itself", ErrExists, oldName)
		}
		if err := createParents(tx, accountID, newName); err != nil {
			return err
		}
		if oldName == Inbox {
			inboxID = id
			return moveAllMessages(tx, accountID, id, newName)
		}
		// Children first would collide on nothing: names are unique and the
		// new prefix is free (checked above for the top, by UNIQUE below).
		prefix := oldName + HierarchySep
		if _, err := tx.Exec("UPDATE mailboxes SET name = ? || substr(name, ?) WHERE account_id = ? AND substr(name, 1, ?) = ?",
			newName+HierarchySep, len(prefix)+1, accountID, len(prefix), prefix); err != nil {
			if isUnique(err) {
				return fmt.Errorf("%w: a child of %s", ErrExists, newName)
			}
			return err
		}
		_, err := tx.Exec("UPDATE mailboxes SET name = ? WHERE id = ?", newName, id)
		return err
	})
	if err != nil {
		return err
	}
	if inboxID != 0 {
		s.hub.publish(Event{AccountID: accountID, MailboxID: inboxID, Kind: EventExpunge})
	}
	s.hub.publish(Event{AccountID: accountID, Kind: EventMailboxes})
	return nil
}

// moveAllMessages creates mailbox name and moves every message of the
// mailbox fromID into it with new UIDs.
func moveAllMessages(tx *dbTx, accountID, fromID int64, name string) error {
	toID, err := createMailbox(tx, accountID, name, "")
	if err != nil {
		return err
	}
	rows, err := tx.Query("SELECT id FROM messages WHERE mailbox_id = ? ORDER BY uid", fromID)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = moveRows(tx, fromID, toID, ids)
	return err
}

// SetSubscribed subscribes a name or ends its subscription (RFC 9051
// §6.3.7-8). A name with no mailbox may be subscribed (§6.3.7 leaves it
// to the server; RFC 5258 §3 lists such names as \NonExistent);
// unsubscribing a name that is not subscribed and has no mailbox is
// ErrNotFound.
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	name = canonicalName(name)
	err := s.write(ctx, nil, func(tx *dbTx) error {
		res, err := tx.Exec("UPDATE mailboxes SET subscribed = ? WHERE account_id = ? AND name = ?", subscribed, accountID, name)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if subscribed && n == 0 {
			_, err := tx.Exec("INSERT INTO lone_subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING", accountID, name)
			return err
		}
		res, err = tx.Exec("DELETE FROM lone_subscriptions WHERE account_id = ? AND name = ?", accountID, name)
		if err != nil {
			return err
		}
		if m, _ := res.RowsAffected(); n == 0 && m == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err == nil {
		s.hub.publish(Event{AccountID: accountID, Kind: EventSubscriptions})
	}
	return err
}

// LoneSubscriptions returns the subscribed names that have no mailbox
// (after a DELETE, or subscribed before they were made), sorted.
func (s *Store) LoneSubscriptions(ctx context.Context, accountID int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT l.name FROM lone_subscriptions l WHERE l.account_id = ? AND NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.account_id = l.account_id AND m.name = l.name) ORDER BY l.name", accountID)
	if err != nil {
		return nil, fmt.Errorf("store: lone subscriptions: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: lone subscriptions: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: lone subscriptions: %w", err)
	}
	return names, nil
}
