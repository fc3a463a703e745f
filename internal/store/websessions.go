package store

import (
	"context"
	"fmt"
	"time"
)

// WebSession is a webmail login as the store keeps it, so that a restart
// does not log everyone out. The store never sees the session token
// itself, only a hash of it: a copy of the database does not let anyone
// into a session.
type WebSession struct {
	TokenHash   string // hex SHA-256 of the cookie's token
	CSRF        string // the token the session's forms carry
	AccountID   int64
	PasswordTag string // identifies the password the session logged in with
	Created     time.Time
	Seen        time.Time
}

// SaveWebSession stores a new session, durably.
func (s *Store) SaveWebSession(ctx context.Context, ws WebSession) error {
	err := s.write(ctx, nil, func(tx *dbTx) error {
		_, err := tx.Exec(`INSERT INTO web_sessions (token_hash, csrf, account_id, password_tag, created, seen) VALUES (?, ?, ?, ?, ?, ?)`,
			ws.TokenHash, ws.CSRF, ws.AccountID, ws.PasswordTag, ws.Created.UnixMilli(), ws.Seen.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: saving web session: %w", err)
	}
	return nil
}

// WebSessions returns every stored session.
func (s *Store) WebSessions(ctx context.Context) ([]WebSession, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token_hash, csrf, account_id, password_tag, created, seen FROM web_sessions`)
	if err != nil {
		return nil, fmt.Errorf("store: web sessions: %w", err)
	}
	defer rows.Close()
	var out []WebSession
	for rows.Next() {
		var ws WebSession
		var created, seen int64
		if err := rows.Scan(&ws.TokenHash, &ws.CSRF, &ws.AccountID, &ws.PasswordTag, &created, &seen); err != nil {
			return nil, fmt.Errorf("store: web sessions: %w", err)
		}
		ws.Created, ws.Seen = time.UnixMilli(created), time.UnixMilli(seen)
		out = append(out, ws)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: web sessions: %w", err)
	}
	return out, nil
}

// TouchWebSession records that a session was used at seen.
func (s *Store) TouchWebSession(ctx context.Context, tokenHash string, seen time.Time) error {
	err := s.write(ctx, nil, func(tx *dbTx) error {
		_, err := tx.Exec(`UPDATE web_sessions SET seen = ? WHERE token_hash = ?`, seen.UnixMilli(), tokenHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: touching web session: %w", err)
	}
	return nil
}

// DeleteWebSessions removes sessions by their token hashes.
func (s *Store) DeleteWebSessions(ctx context.Context, tokenHashes ...string) error {
	if len(tokenHashes) == 0 {
		return nil
	}
	err := s.write(ctx, nil, func(tx *dbTx) error {
		for _, h := range tokenHashes {
			if _, err := tx.Exec(`DELETE FROM web_sessions WHERE token_hash = ?`, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: deleting web sessions: %w", err)
	}
	return nil
}
