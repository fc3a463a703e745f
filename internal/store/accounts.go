package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Account is a mail account: a login and the owner of mailboxes.
type Account struct {
	ID           int64
	Address      string // normalised address, also the login name
	PasswordHash string // encoded hash; never the password
	Admin        bool
	Created      time.Time
}

// DefaultMailboxes are created with every account, with their RFC 6154
// special-use attributes.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Sent", `\Sent`},
	{"Drafts", `\Drafts`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// AddAccount creates an account with its default mailboxes. address must
// already be normalised. The first account created is an admin.
func (s *Store) AddAccount(ctx context.Context, address, passwordHash string, admin bool) (Account, error) {
	acct := Account{Address: address, PasswordHash: passwordHash, Admin: admin, Created: time.Now().UTC().Truncate(time.Second)}
	err := s.write(ctx, nil, func(tx *dbTx) error {
		acct.Admin = admin // a batch run again starts over
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM aliases WHERE address = ?", address).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s is an alias", ErrExists, address)
		}
		if err := tx.QueryRow("SELECT count(*) FROM accounts").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			acct.Admin = true
		}
		err := tx.QueryRow("INSERT INTO accounts (address, password, admin, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
			address, passwordHash, acct.Admin, acct.Created.Unix()).Scan(&acct.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: account %s", ErrExists, address)
		}
		if err != nil {
			return err
		}
		for _, mb := range DefaultMailboxes {
			if _, err := createMailbox(tx, acct.ID, mb.Name, mb.SpecialUse); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

const accountColumns = "id, address, password, admin, created"

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var created int64
	err := row.Scan(&a.ID, &a.Address, &a.PasswordHash, &a.Admin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: %w", err)
	}
	a.Created = time.Unix(created, 0).UTC()
	return a, nil
}

// AccountByAddress returns the account with the normalised address.
func (s *Store) AccountByAddress(ctx context.Context, address string) (Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, "SELECT "+accountColumns+" FROM accounts WHERE address = ?", address))
}

// AccountByID returns the account with the id.
func (s *Store) AccountByID(ctx context.Context, id int64) (Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id = ?", id))
}

// FirstAdmin returns the admin account created first.
func (s *Store) FirstAdmin(ctx context.Context) (Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, "SELECT "+accountColumns+" FROM accounts ORDER BY admin DESC, id LIMIT 1"))
}

// Accounts lists all accounts ordered by address.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+accountColumns+" FROM accounts ORDER BY address")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetPassword replaces an account's password hash.
func (s *Store) SetPassword(ctx context.Context, address, passwordHash string) error {
	return s.write(ctx, nil, func(tx *dbTx) error {
		res, err := tx.Exec("UPDATE accounts SET password = ? WHERE address = ?", passwordHash, address)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// ErrLastAdmin refuses a change that would leave accounts but no admin
// among them: nobody could then use the webmail's admin page, and no
// later account would become one (only the first account is made admin).
var ErrLastAdmin = errors.New("store: it is the last admin account")

// keepsAnAdmin checks, inside a write transaction that has just removed
// an account or its admin flag, that accounts remain only with an admin
// among them; otherwise the transaction is refused with ErrLastAdmin.
func keepsAnAdmin(tx *dbTx) error {
	var accounts, admins int
	if err := tx.QueryRow("SELECT count(*), coalesce(sum(CASE WHEN admin <> 0 THEN 1 ELSE 0 END), 0) FROM accounts").Scan(&accounts, &admins); err != nil {
		return err
	}
	if accounts > 0 && admins == 0 {
		return ErrLastAdmin
	}
	return nil
}

// SetAdmin sets or clears an account's admin flag. Clearing the flag of
// the last admin is refused with ErrLastAdmin.
func (s *Store) SetAdmin(ctx context.Context, address string, admin bool) error {
	return s.write(ctx, nil, func(tx *dbTx) error {
		res, err := tx.Exec("UPDATE accounts SET admin = ? WHERE address = ?", admin, address)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return keepsAnAdmin(tx)
	})
}

// DeleteAccount removes an account with all its mailboxes and messages.
// Deleting the last admin while other accounts remain is refused with
// ErrLastAdmin; deleting the only account is not (the next account
// added is then an admin again).
func (s *Store) DeleteAccount(ctx context.Context, address string) error {
	var id int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		if err := tx.QueryRow("SELECT id FROM accounts WHERE address = ?", address).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		var bodies []int64
		if tx.pg() {
			var err error
			if bodies, err = bodyIDs(tx, "SELECT m.file FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = ?", id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec("DELETE FROM accounts WHERE id = ?", id); err != nil {
			return err
		}
		if err := gcBodies(tx, bodies); err != nil {
			return err
		}
		return keepsAnAdmin(tx)
	})
	if err != nil {
		return err
	}
	// The rows are gone for good; the files follow. A crash here leaves
	// orphan files that start-up (or `pail check --repair`) removes.
	if !s.db.pg() { // a PostgreSQL store has nothing on disk
		if err := os.RemoveAll(s.accountDir(id)); err != nil {
			return fmt.Errorf("store: remove mail of %s: %w", address, err)
		}
	}
	s.hub.publish(Event{AccountID: id, Kind: EventAccountDeleted})
	return nil
}

// Alias is one alias address and the addresses it expands to.
type Alias struct {
	Address string
	Targets []string
}

// AddAlias adds targets to alias (creating it). Addresses must already be
// normalised.
func (s *Store) AddAlias(ctx context.Context, alias string, targets []string) error {
	return s.write(ctx, nil, func(tx *dbTx) error {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM accounts WHERE address = ?", alias).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s is an account", ErrExists, alias)
		}
		for _, t := range targets {
			if _, err := tx.Exec("INSERT INTO aliases (address, target) VALUES (?, ?) ON CONFLICT DO NOTHING", alias, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteAlias removes an alias, or only the named targets of it.
func (s *Store) DeleteAlias(ctx context.Context, alias string, targets ...string) error {
	return s.write(ctx, nil, func(tx *dbTx) error {
		var res sql.Result
		var err error
		if len(targets) == 0 {
			res, err = tx.Exec("DELETE FROM aliases WHERE address = ?", alias)
		} else {
			res, err = tx.Exec("DELETE FROM aliases WHERE address = ? AND target IN (?"+strings.Repeat(",?", len(targets)-1)+")",
				append([]any{alias}, toAny(targets)...)...)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// AliasTargets returns the targets of alias, or nil if it is not an alias.
func (s *Store) AliasTargets(ctx context.Context, alias string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT target FROM aliases WHERE address = ? ORDER BY target", alias)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AliasesOf returns the aliases that have target among their targets,
// ordered: the other addresses mail reaches target by (Sieve's vacation
// takes them as the user's own, RFC 5230 §4.5).
func (s *Store) AliasesOf(ctx context.Context, target string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT address FROM aliases WHERE target = ? ORDER BY address", target)
	if err != nil {
		return nil, fmt.Errorf("store: aliases of %s: %w", target, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("store: aliases of %s: %w", target, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Aliases lists every alias with its targets, ordered by address.
func (s *Store) Aliases(ctx context.Context) ([]Alias, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT address, target FROM aliases ORDER BY address, target")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Alias
	for rows.Next() {
		var a, t string
		if err := rows.Scan(&a, &t); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].Address == a {
			out[n-1].Targets = append(out[n-1].Targets, t)
		} else {
			out = append(out, Alias{Address: a, Targets: []string{t}})
		}
	}
	return out, rows.Err()
}

func toAny[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
