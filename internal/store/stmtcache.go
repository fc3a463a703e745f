package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// stmtCache keeps the statements that every IMAP command runs prepared:
// SQLite takes about as long to parse a small statement as to run it, and a
// command runs several (its mailbox's mod-sequence, the changes since the
// last look, the rows it reads). database/sql prepares a cached statement
// once on each connection that runs it and keeps it there.
//
// Queries are cached by their text with ? placeholders and prepared as
// the dialect writes them (see dialect.go); on PostgreSQL, pgx prepares
// each on its connection as well.
//
// Only query texts fixed in the code go through it (constants, or a
// constant with one of a few constant endings), so it holds at most as many
// statements as the store has such queries.
type stmtCache struct {
	db    *sqlDB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// newStmtCache returns an empty cache over db.
func newStmtCache(db *sqlDB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt)}
}

// cached returns the statement of query if it is prepared.
func (c *stmtCache) cached(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	return st, ok
}

// get returns the statement of query, preparing it on first use.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.cached(query); ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.stmts[query]; ok {
		// Another goroutine prepared it meanwhile: keep one.
		st.Close()
		return old, nil
	}
	c.stmts[query] = st
	return st, nil
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(errs...)
}

// query runs a cached statement that returns rows.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, s.db.args(args)...)
}

// queryRow runs a cached statement that returns at most one row.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.stmts.get(ctx, query)
	if err != nil {
		// sql.Row cannot be made to carry err: running the query uncached
		// reports the same failure through Scan.
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, s.db.args(args)...)
}

// txStmt returns a cached statement bound to tx (closed with it; the
// statement prepared on tx's connection stays cached). The first time a
// query is seen it is prepared on tx alone while the cache prepares it in
// the background: preparing it for the cache here would wait for a second
// connection while holding the first, which a busy pool never gives.
func (s *Store) txStmt(tx *dbTx, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.cached(query); ok {
		return tx.Stmt(st), nil
	}
	go s.stmts.get(context.Background(), query) //nolint:errcheck // a failed warm-up is retried on next use
	st, err := tx.Prepare(query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return st, nil
}

// txQuery is query within tx.
func (s *Store) txQuery(tx *dbTx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.txStmt(tx, query)
	if err != nil {
		return nil, err
	}
	return st.Query(s.db.args(args)...)
}

// txQueryRow is queryRow within tx.
func (s *Store) txQueryRow(tx *dbTx, query string, args ...any) *sql.Row {
	st, err := s.txStmt(tx, query)
	if err != nil {
		return tx.QueryRow(query, args...)
	}
	return st.QueryRow(s.db.args(args)...)
}

// txExec runs a cached statement that returns no rows within tx.
func (s *Store) txExec(tx *dbTx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(tx, query)
	if err != nil {
		return nil, err
	}
	return st.Exec(s.db.args(args)...)
}
