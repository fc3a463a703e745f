package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// quotaMigration gives each account its own storage quota: accounts.quota
// is a limit in octets, 0 for none, NULL for the default the server is
// configured with (SetDefaultQuota). messages_size makes an account's
// usage (the sum of its message sizes) a walk of an index alone.
const quotaMigration = `
ALTER TABLE accounts ADD COLUMN quota INTEGER;
CREATE INDEX messages_size ON messages (mailbox_id, size);
`

// QuotaDefault, given to SetQuota, gives the account the server's default
// quota again.
const QuotaDefault int64 = -1

// ErrOverQuota is returned by Room's callers (delivery, IMAP APPEND and
// COPY) when a message does not fit in its account's quota.
var ErrOverQuota = errors.New("store: over quota")

// Quota is an account's storage quota and what it uses of it, in octets.
type Quota struct {
	Limit int64 // 0: no limit
	Used  int64
	Own   bool // the account's own limit, not the default
}

// SetDefaultQuota sets the storage quota in octets of accounts without one
// of their own (config [limits] quota_bytes; 0: none). It may be called
// while the store is in use (a reload).
func (s *Store) SetDefaultQuota(octets int64) { s.defaultQuota.Store(max(octets, 0)) }

// SetQuota sets the storage quota of the account with the normalised
// address, in octets (0: no limit), or QuotaDefault for the server's
// default. Messages already stored stay: an account over its new quota
// receives nothing more until it is under.
func (s *Store) SetQuota(ctx context.Context, address string, octets int64) error {
	var v any = octets
	if octets < 0 {
		v = nil
	}
	return s.write(ctx, nil, func(tx *dbTx) error {
		res, err := tx.Exec("UPDATE accounts SET quota = ? WHERE address = ?", v, address)
		if err != nil {
			return fmt.Errorf("store: set quota: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// limit is the account's quota in octets (0: none) and whether it is the
// account's own.
func (s *Store) limit(ctx context.Context, accountID int64) (int64, bool, error) {
	var own sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT quota FROM accounts WHERE id = ?", accountID).Scan(&own)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, ErrNotFound
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: quota of account %d: %w", accountID, err)
	}
	if own.Valid {
		return own.Int64, true, nil
	}
	return s.defaultQuota.Load(), false, nil
}

// Usage is the storage the account uses: the sum of the sizes of its
// messages, in octets (one query over messages_size).
func (s *Store) Usage(ctx context.Context, accountID int64) (int64, error) {
	var used int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(m.size), 0) FROM mailboxes b
		JOIN messages m ON m.mailbox_id = b.id WHERE b.account_id = ?`, accountID).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("store: usage of account %d: %w", accountID, err)
	}
	return used, nil
}

// Quota returns the account's quota and usage.
func (s *Store) Quota(ctx context.Context, accountID int64) (Quota, error) {
	lim, own, err := s.limit(ctx, accountID)
	if err != nil {
		return Quota{}, err
	}
	used, err := s.Usage(ctx, accountID)
	if err != nil {
		return Quota{}, err
	}
	return Quota{Limit: lim, Used: used, Own: own}, nil
}

// Room is how many octets the account may still store and whether it has
// a quota at all (without one, room is 0 and means nothing). An account
// without a quota costs one lookup by primary key, not the sum. The check
// is made before a message is stored, outside its transaction: messages
// arriving at once may together pass the limit by their sizes, as with
// any quota checked at admission.
func (s *Store) Room(ctx context.Context, accountID int64) (room int64, limited bool, err error) {
	lim, _, err := s.limit(ctx, accountID)
	if err != nil || lim == 0 {
		return 0, false, err
	}
	used, err := s.Usage(ctx, accountID)
	if err != nil {
		return 0, false, err
	}
	return lim - used, true, nil
}
