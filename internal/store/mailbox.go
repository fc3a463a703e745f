package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mailbox is a folder of messages owned by one account (an IMAP mailbox).
type Mailbox struct {
	ID          int64
	AccountID   int64
	Name        string
	UIDValidity uint32 // RFC 9051 §2.3.1.1: fixed for the life of the mailbox
	UIDNext     uint32 // the UID the next message will get
	ModSeq      uint64 // highest modification sequence (RFC 7162)
	SpecialUse  string // RFC 6154 attribute such as `\Sent`, or ""
	Subscribed  bool
	// ObjectID is the RFC 8474 MAILBOXID: made at creation, kept by
	// RENAME, never used again for another mailbox.
	ObjectID string
}

// Inbox is the name of the mailbox new mail is delivered to. RFC 9051
// §5.1: the name INBOX is case-insensitive.
const Inbox = "INBOX"

// canonicalName folds any case of "inbox" to INBOX.
func canonicalName(name string) string {
	if strings.EqualFold(name, Inbox) {
		return Inbox
	}
	return name
}

const mailboxColumns = "id, account_id, name, uidvalidity, uidnext, modseq, special_use, subscribed, objectid"

func scanMailbox(row interface{ Scan(...any) error }) (Mailbox, error) {
	var m Mailbox
	var objectID sql.NullString
	err := row.Scan(&m.ID, &m.AccountID, &m.Name, &m.UIDValidity, &m.UIDNext, &m.ModSeq, &m.SpecialUse, &m.Subscribed, &objectID)
	m.ObjectID = objectID.String
	if errors.Is(err, sql.ErrNoRows) {
		return Mailbox{}, ErrNotFound
	}
	if err != nil {
		return Mailbox{}, fmt.Errorf("store: %w", err)
	}
	return m, nil
}

// Mailboxes lists an account's mailboxes ordered by name, INBOX first.
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error) {
	rows, err := s.query(ctx, "SELECT "+mailboxColumns+" FROM mailboxes WHERE account_id = ? ORDER BY name != 'INBOX', name", accountID)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MailboxByName returns an account's mailbox by name.
func (s *Store) MailboxByName(ctx context.Context, accountID int64, name string) (Mailbox, error) {
	return scanMailbox(s.queryRow(ctx, "SELECT "+mailboxColumns+" FROM mailboxes WHERE account_id = ? AND name = ?", accountID, canonicalName(name)))
}

// MailboxByID returns a mailbox by id.
func (s *Store) MailboxByID(ctx context.Context, id int64) (Mailbox, error) {
	return scanMailbox(s.queryRow(ctx, "SELECT "+mailboxColumns+" FROM mailboxes WHERE id = ?", id))
}

// CreateMailbox creates a mailbox for an account.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (Mailbox, error) {
	var id int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		var err error
		id, err = createMailbox(tx, accountID, canonicalName(name), specialUse)
		return err
	})
	if err != nil {
		return Mailbox{}, err
	}
	s.hub.publish(Event{AccountID: accountID, MailboxID: id, Kind: EventMailboxes})
	return s.MailboxByID(ctx, id)
}

// createMailbox inserts a mailbox with a fresh UIDVALIDITY. UIDVALIDITY
// values come from one counter per store, seeded by the clock, so that a
// mailbox deleted and created again never repeats an old value (RFC 9051
// §2.3.1.1).
func createMailbox(tx *dbTx, accountID int64, name, specialUse string) (int64, error) {
	var last int64
	err := tx.QueryRow("SELECT value FROM meta WHERE key = 'uidvalidity'" + sqlDialect(tx.db.dialect).forUpdate).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	next := max(time.Now().Unix()&0x7fffffff, last+1)
	if _, err := tx.Exec("INSERT INTO meta (key, value) VALUES ('uidvalidity', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", strconv.FormatInt(next, 10)); err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRow("INSERT INTO mailboxes (account_id, name, uidvalidity, special_use, objectid) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
		accountID, name, next, specialUse, newObjectID('M')).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: mailbox %s", ErrExists, name)
	}
	return id, err
}
