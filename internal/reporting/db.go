package reporting

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"pail/internal/safeio"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// busyTimeout is how long a writer waits for another process's lock (the
// server and the `pail ... send` commands share a file).
const busyTimeout = 10 * time.Second

// OpenDB opens (creating it when needed) the SQLite database dir/file
// with the settings of pail's other databases: WAL, synchronous=FULL, a
// busy timeout for the other processes, write transactions locking at
// BEGIN; then applies the migrations not yet applied (PRAGMA
// user_version counts those done). name prefixes errors ("tlsrpt").
func OpenDB(ctx context.Context, name, dir, file string, migrations []string) (*sql.DB, error) {
	if err := safeio.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	path := filepath.Join(dir, file)
	dsn := "file:" + url.PathEscape(path) +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout.Milliseconds())) + ")&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", name, path, err)
	}
	db.SetMaxOpenConns(2)
	if err := migrate(ctx, name, db, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, name string, db *sql.DB, migrations []string) error {
	return Tx(ctx, name, db, func(tx *sql.Tx) error {
		var version int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return fmt.Errorf("%s: migrate: %w", name, err)
		}
		if version > len(migrations) {
			return fmt.Errorf("%s: database schema version %d is newer than this pail (%d)", name, version, len(migrations))
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("%s: migration %d: %w", name, i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(migrations))); err != nil {
			return fmt.Errorf("%s: migrate: %w", name, err)
		}
		return nil
	})
}

// Tx runs fn in a write transaction of db and commits it; name prefixes
// errors.
func Tx(ctx context.Context, name string, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", name, err)
	}
	return nil
}
