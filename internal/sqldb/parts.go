package sqldb

import (
	"context"
	"errors"
	"fmt"
)

// ErrNewerSchema is wrapped by MigratePart's error for a part whose tables
// a newer pail has migrated.
var ErrNewerSchema = errors.New("the database schema is newer than this pail: upgrade pail (or open a database of its own)")

// partAttempts bounds MigratePart's tries when nodes starting together
// race to create the version table.
const partAttempts = 5

// MigratePart brings the tables of one part of pail (a name such as
// "pop3_locks") up to date on either dialect: migrations are applied in
// order, each once, and the table schema_parts counts those done, a row
// per part, so that several parts may share one database (or one
// PostgreSQL schema) each with its own version. A part whose count is
// above len(migrations) was migrated by a newer pail: the error wraps
// ErrNewerSchema and nothing is changed.
//
// The migrations must be SQL that both dialects accept (plain types,
// CREATE TABLE and CREATE INDEX). Nodes that start together are
// serialized by the lock on the part's row, not by an advisory lock, so
// this works on CockroachDB and YugabyteDB as well: the first to insert
// the row migrates, the others wait for its commit and find the work done.
func (db *DB) MigratePart(ctx context.Context, part string, migrations []string) error {
	var err error
	for range partAttempts {
		if err = db.migratePart(ctx, part, migrations); err == nil || errors.Is(err, ErrNewerSchema) {
			return err
		}
		// Two nodes creating schema_parts at once: the loser's
		// unique_violation (23505), duplicate_table (42P07) or
		// duplicate_object (42710, its row type) means it exists now,
		// and the next try finds it.
		if !isCode(err, "23505", "42P07", "42710") && !IsRetryable(err) {
			return err
		}
	}
	return err
}

func (db *DB) migratePart(ctx context.Context, part string, migrations []string) error {
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_parts (part TEXT PRIMARY KEY, version INTEGER NOT NULL)"); err != nil {
		return fmt.Errorf("%s: migrate: %w", part, err)
	}
	return db.tx1(ctx, func(tx *Tx) error {
		// The row's lock (taken by the insert, or by FOR UPDATE when it
		// exists; on SQLite the transaction holds the write lock from
		// BEGIN) serializes the part's migrators.
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_parts (part, version) VALUES (?, 0) ON CONFLICT (part) DO NOTHING", part); err != nil {
			return fmt.Errorf("%s: migrate: %w", part, err)
		}
		lock := ""
		if tx.Dialect() == Postgres {
			lock = " FOR UPDATE"
		}
		var version int
		if err := tx.QueryRowContext(ctx, "SELECT version FROM schema_parts WHERE part = ?"+lock, part).Scan(&version); err != nil {
			return fmt.Errorf("%s: migrate: %w", part, err)
		}
		if version > len(migrations) {
			return fmt.Errorf("%s: schema version %d, this pail knows %d: %w", part, version, len(migrations), ErrNewerSchema)
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("%s: migration %d: %w", part, i+1, err)
			}
		}
		if version < len(migrations) {
			if _, err := tx.ExecContext(ctx, "UPDATE schema_parts SET version = ? WHERE part = ?", len(migrations), part); err != nil {
				return fmt.Errorf("%s: migrate: %w", part, err)
			}
		}
		return nil
	})
}
