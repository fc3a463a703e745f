package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// GreylistTriple is what the store keeps of one greylisting triple (see
// package greylist): when it was first seen, when last, and whether a
// retry has passed. Times have a resolution of one second.
type GreylistTriple struct {
	First  time.Time
	Last   time.Time
	Passed bool
}

// GreylistTriple returns the record of triple, or ErrNotFound.
func (s *Store) GreylistTriple(ctx context.Context, triple string) (GreylistTriple, error) {
	var first, last int64
	var passed bool
	err := s.db.QueryRowContext(ctx, "SELECT first, last, passed FROM greylist WHERE triple = ?", triple).Scan(&first, &last, &passed)
	if errors.Is(err, sql.ErrNoRows) {
		return GreylistTriple{}, ErrNotFound
	}
	if err != nil {
		return GreylistTriple{}, fmt.Errorf("store: greylist triple: %w", err)
	}
	return GreylistTriple{First: time.Unix(first, 0), Last: time.Unix(last, 0), Passed: passed}, nil
}

// SaveGreylistTriple stores the record of triple, replacing any, durably.
func (s *Store) SaveGreylistTriple(ctx context.Context, triple string, t GreylistTriple) error {
	err := s.write(ctx, nil, func(tx *dbTx) error {
		_, err := tx.Exec(`INSERT INTO greylist (triple, first, last, passed) VALUES (?, ?, ?, ?)
			ON CONFLICT (triple) DO UPDATE SET first = excluded.first, last = excluded.last, passed = excluded.passed`,
			triple, t.First.Unix(), t.Last.Unix(), t.Passed)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: saving greylist triple: %w", err)
	}
	return nil
}

// ExpireGreylist removes the triples that passed and were last seen
// before passedBefore, and those that never passed and were last seen
// before pendingBefore; then, while more than max are left, those that
// never passed, oldest first. It returns how many it removed.
func (s *Store) ExpireGreylist(ctx context.Context, passedBefore, pendingBefore time.Time, max int) (int64, error) {
	var n int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		n = 0
		for _, q := range []struct {
			query string
			args  []any
		}{
			{"DELETE FROM greylist WHERE passed = 1 AND last < ?", []any{passedBefore.Unix()}},
			{"DELETE FROM greylist WHERE passed = 0 AND last < ?", []any{pendingBefore.Unix()}},
			{`DELETE FROM greylist WHERE triple IN (SELECT triple FROM greylist WHERE passed = 0 ORDER BY last
				LIMIT (SELECT CASE WHEN count(*) > ? THEN count(*) - ? ELSE 0 END FROM greylist))`, []any{max, max}},
		} {
			res, err := tx.Exec(q.query, q.args...)
			if err != nil {
				return err
			}
			d, _ := res.RowsAffected()
			n += d
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: expiring greylist triples: %w", err)
	}
	return n, nil
}
