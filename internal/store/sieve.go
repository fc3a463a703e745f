package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxSieveNameBytes bounds a script name; RFC 5804 §1.6 lets servers
// limit it (Dovecot allows 256).
const maxSieveNameBytes = 255

// ValidSieveName checks a script name as RFC 5804 §1.6 defines it: not
// empty, UTF-8 without control characters (U+0000–U+001F, U+007F–U+009F)
// or line and paragraph separators (U+2028, U+2029), here at most
// maxSieveNameBytes octets. It returns ErrBadName wrapped with why.
func ValidSieveName(name string) error {
	if name == "" || len(name) > maxSieveNameBytes || !utf8.ValidString(name) {
		return fmt.Errorf("%w: a script name is 1 to %d octets of UTF-8", ErrBadName, maxSieveNameBytes)
	}
	if strings.IndexFunc(name, func(r rune) bool {
		return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029
	}) >= 0 {
		return fmt.Errorf("%w: a script name has no control characters", ErrBadName)
	}
	return nil
}

// Sieve script errors.
var (
	// ErrSieveActive refuses to delete the active script (RFC 5804 §2.10).
	ErrSieveActive = errors.New("store: the script is active")
	// ErrSieveQuota refuses a script past the account's count or size
	// limit (RFC 5804 §2.6: QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE).
	ErrSieveQuota = errors.New("store: sieve script quota exceeded")
)

// SieveScript is one of an account's Sieve scripts.
type SieveScript struct {
	Name    string
	Text    []byte // nil in SieveScripts' listing
	Size    int
	Active  bool
	Updated time.Time
}

// SieveLimits bound an account's scripts; zero means no bound.
type SieveLimits struct {
	MaxScripts int // scripts per account
	MaxBytes   int // octets per script
}

// SieveScripts lists an account's scripts by name, without their text.
func (s *Store) SieveScripts(ctx context.Context, accountID int64) ([]SieveScript, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, length(text), active, updated FROM sieve_scripts WHERE account_id = ? ORDER BY name", accountID)
	if err != nil {
		return nil, fmt.Errorf("store: sieve scripts: %w", err)
	}
	defer rows.Close()
	var out []SieveScript
	for rows.Next() {
		var sc SieveScript
		var updated int64
		if err := rows.Scan(&sc.Name, &sc.Size, &sc.Active, &updated); err != nil {
			return nil, fmt.Errorf("store: sieve scripts: %w", err)
		}
		sc.Updated = time.Unix(updated, 0)
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sieve scripts: %w", err)
	}
	return out, nil
}

// SieveScript returns one script with its text, or ErrNotFound.
func (s *Store) SieveScript(ctx context.Context, accountID int64, name string) (SieveScript, error) {
	sc := SieveScript{Name: name}
	var updated int64
	err := s.db.QueryRowContext(ctx, "SELECT text, active, updated FROM sieve_scripts WHERE account_id = ? AND name = ?", accountID, name).
		Scan(&sc.Text, &sc.Active, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return sc, fmt.Errorf("store: sieve script %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return sc, fmt.Errorf("store: sieve script %q: %w", name, err)
	}
	sc.Size, sc.Updated = len(sc.Text), time.Unix(updated, 0)
	return sc, nil
}

// ActiveSieveScripts returns the active script of each of accounts that
// has one, by account: one query for every local recipient of a message.
func (s *Store) ActiveSieveScripts(ctx context.Context, accounts []int64) (map[int64]SieveScript, error) {
	out := map[int64]SieveScript{}
	for len(accounts) > 0 {
		// SQLite's default bound on host parameters is far above this.
		const batch = 500
		part := accounts[:min(batch, len(accounts))]
		accounts = accounts[len(part):]
		args := make([]any, len(part))
		q := "SELECT account_id, name, text, updated FROM sieve_scripts WHERE active = 1 AND account_id IN ("
		for i, id := range part {
			if i > 0 {
				q += ","
			}
			q += "?"
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, q+")", args...)
		if err != nil {
			return nil, fmt.Errorf("store: active sieve scripts: %w", err)
		}
		for rows.Next() {
			var id, updated int64
			var sc SieveScript
			if err := rows.Scan(&id, &sc.Name, &sc.Text, &updated); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: active sieve scripts: %w", err)
			}
			sc.Active, sc.Size, sc.Updated = true, len(sc.Text), time.Unix(updated, 0)
			out[id] = sc
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: active sieve scripts: %w", err)
		}
	}
	return out, nil
}

// PutSieveScript stores a script under name, replacing one of that name
// (which stays active if it was), within lim: ErrSieveQuota when the
// text is too large or a new name would pass the script count.
func (s *Store) PutSieveScript(ctx context.Context, accountID int64, name string, text []byte, lim SieveLimits) error {
	if err := ValidSieveName(name); err != nil {
		return err
	}
	if lim.MaxBytes > 0 && len(text) > lim.MaxBytes {
		return fmt.Errorf("store: sieve script %q is %d octets, more than %d: %w", name, len(text), lim.MaxBytes, ErrSieveQuota)
	}
	err := s.write(ctx, nil, func(tx *dbTx) error {
		var n int
		var exists bool
		if err := tx.QueryRow("SELECT count(*), coalesce(max(CASE WHEN name = ? THEN 1 ELSE 0 END), 0) FROM sieve_scripts WHERE account_id = ?", name, accountID).Scan(&n, &exists); err != nil {
			return err
		}
		if !exists && lim.MaxScripts > 0 && n >= lim.MaxScripts {
			return fmt.Errorf("%d scripts already: %w", n, ErrSieveQuota)
		}
		_, err := tx.Exec(`INSERT INTO sieve_scripts (account_id, name, text, updated) VALUES (?, ?, ?, ?)
			ON CONFLICT (account_id, name) DO UPDATE SET text = excluded.text, updated = excluded.updated`,
			accountID, name, text, time.Now().Unix())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put sieve script %q: %w", name, err)
	}
	return nil
}

// CheckSieveQuota reports ErrSieveQuota if putting size octets under
// name would pass lim (RFC 5804 §2.3 HAVESPACE).
func (s *Store) CheckSieveQuota(ctx context.Context, accountID int64, name string, size int, lim SieveLimits) error {
	if lim.MaxBytes > 0 && size > lim.MaxBytes {
		return fmt.Errorf("store: %d octets, more than %d: %w", size, lim.MaxBytes, ErrSieveQuota)
	}
	var n int
	var exists bool
	if err := s.db.QueryRowContext(ctx, "SELECT count(*), coalesce(max(CASE WHEN name = ? THEN 1 ELSE 0 END), 0) FROM sieve_scripts WHERE account_id = ?", name, accountID).Scan(&n, &exists); err != nil {
		return fmt.Errorf("store: sieve quota: %w", err)
	}
	if !exists && lim.MaxScripts > 0 && n >= lim.MaxScripts {
		return fmt.Errorf("store: %d scripts already: %w", n, ErrSieveQuota)
	}
	return nil
}

// SetActiveSieveScript makes name the account's one active script; ""
// deactivates all (RFC 5804 §2.8). A name that does not exist is
// ErrNotFound.
func (s *Store) SetActiveSieveScript(ctx context.Context, accountID int64, name string) error {
	err := s.write(ctx, nil, func(tx *dbTx) error {
		if name != "" {
			var n int
			if err := tx.QueryRow("SELECT count(*) FROM sieve_scripts WHERE account_id = ? AND name = ?", accountID, name).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
		}
		if _, err := tx.Exec("UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1", accountID); err != nil {
			return err
		}
		_, err := tx.Exec("UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?", accountID, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: activate sieve script %q: %w", name, err)
	}
	return nil
}

// DeleteSieveScript removes a script: ErrNotFound if there is none of
// that name, ErrSieveActive if it is the active one (RFC 5804 §2.10).
func (s *Store) DeleteSieveScript(ctx context.Context, accountID int64, name string) error {
	err := s.write(ctx, nil, func(tx *dbTx) error {
		var active bool
		err := tx.QueryRow("SELECT active FROM sieve_scripts WHERE account_id = ? AND name = ?", accountID, name).Scan(&active)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if active {
			return ErrSieveActive
		}
		_, err = tx.Exec("DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?", accountID, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete sieve script %q: %w", name, err)
	}
	return nil
}

// RenameSieveScript renames a script, keeping whether it is active (RFC
// 5804 §2.11.1): ErrNotFound without it, ErrExists if newName is taken.
func (s *Store) RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error {
	if err := ValidSieveName(newName); err != nil {
		return err
	}
	err := s.write(ctx, nil, func(tx *dbTx) error {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM sieve_scripts WHERE account_id = ? AND name = ?", accountID, newName).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		res, err := tx.Exec("UPDATE sieve_scripts SET name = ? WHERE account_id = ? AND name = ?", newName, accountID, oldName)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: rename sieve script %q: %w", oldName, err)
	}
	return nil
}

// sieveKey names a vacation or duplicate record by a digest, so that
// long keys cost a fixed size.
func sieveKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// VacationDue reports whether a vacation answer keyed by key (the
// sender and the handle, RFC 5230 §4.2) may be sent now, and if so
// records that it was, so that no other answer goes out within period:
// the check and the record are one transaction, so two deliveries at
// once send one answer.
func (s *Store) VacationDue(ctx context.Context, accountID int64, key string, period time.Duration) (bool, error) {
	now := time.Now()
	due := false
	err := s.write(ctx, nil, func(tx *dbTx) error {
		var until int64
		err := tx.QueryRow("SELECT until FROM sieve_vacation WHERE account_id = ? AND key = ?", accountID, sieveKey(key)).Scan(&until)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && until > now.Unix() {
			due = false
			return nil
		}
		due = true
		if _, err := tx.Exec(`INSERT INTO sieve_vacation (account_id, key, until) VALUES (?, ?, ?)
			ON CONFLICT (account_id, key) DO UPDATE SET until = excluded.until`, accountID, sieveKey(key), now.Add(period).Unix()); err != nil {
			return err
		}
		_, err = tx.Exec("DELETE FROM sieve_vacation WHERE account_id = ? AND until <= ?", accountID, now.Unix())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: vacation record: %w", err)
	}
	return due, nil
}

// SieveDuplicateSeen reports whether the duplicate-tracking key was
// recorded for the account and has not expired (RFC 7352 §3).
func (s *Store) SieveDuplicateSeen(ctx context.Context, accountID int64, key string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sieve_duplicates WHERE account_id = ? AND key = ? AND until > ?",
		accountID, sieveKey(key), time.Now().Unix()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: sieve duplicate: %w", err)
	}
	return n > 0, nil
}

// SieveDuplicateMark is one duplicate-tracking record to store.
type SieveDuplicateMark struct {
	Key     string
	Expiry  time.Duration
	Refresh bool // renew an existing record's expiry (:last)
}

// RecordSieveDuplicates stores duplicate-tracking keys once a message
// was delivered (RFC 7352 §3), and drops the account's expired ones.
func (s *Store) RecordSieveDuplicates(ctx context.Context, accountID int64, marks []SieveDuplicateMark) error {
	now := time.Now().Unix()
	err := s.write(ctx, nil, func(tx *dbTx) error {
		if _, err := tx.Exec("DELETE FROM sieve_duplicates WHERE account_id = ? AND until <= ?", accountID, now); err != nil {
			return err
		}
		for _, m := range marks {
			q := "INSERT INTO sieve_duplicates (account_id, key, until) VALUES (?, ?, ?) ON CONFLICT (account_id, key) DO NOTHING"
			if m.Refresh {
				q = "INSERT INTO sieve_duplicates (account_id, key, until) VALUES (?, ?, ?) ON CONFLICT (account_id, key) DO UPDATE SET until = excluded.until"
			}
			if _, err := tx.Exec(q, accountID, sieveKey(m.Key), now+int64(m.Expiry/time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record sieve duplicates: %w", err)
	}
	return nil
}
