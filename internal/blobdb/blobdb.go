// Package blobdb keeps the small state that every node of a pail cluster
// must share, in the cluster's database: named blobs (a name, its bytes
// and a version that every write raises) and named leases (the right to
// do one job, held by one node at a time, that expires when its holder
// stops renewing it). The DKIM keys and the ACME account and
// certificates of a cluster live here, so that every node signs with the
// same keys and serves the same certificates, and one node at a time
// talks to the CA.
//
// It is built on internal/sqldb: a SQLite file or a PostgreSQL database,
// where its tables live in a schema of their own ("blobdb"). The SQL is
// kept to what CockroachDB and YugabyteDB also accept: TEXT, BIGINT and
// BYTEA columns, INSERT ... ON CONFLICT, SELECT ... FOR UPDATE; no
// advisory locks and no large objects. A blob is read and written whole,
// so it is meant for kilobytes (a key, a certificate chain), not mail.
//
// Schema migrations are counted in the table schema_version; concurrent
// starts serialize on its one row (SELECT ... FOR UPDATE), and a schema
// from a newer pail is refused (ErrNewerSchema).
package blobdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"pail/internal/sqldb"
)

// pgSchema is the PostgreSQL schema of blobdb's tables.
const pgSchema = "blobdb"

// migrations are applied in order, on either dialect; bytes is the
// dialect's type for a byte string (BLOB, BYTEA). Times are Unix
// milliseconds.
var migrations = []func(bytes string) string{
	func(bytes string) string {
		return `
CREATE TABLE blobs (
	name    TEXT PRIMARY KEY,
	data    ` + bytes + ` NOT NULL,
	version BIGINT NOT NULL
);
CREATE TABLE leases (
	name   TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	until  BIGINT NOT NULL
);`
	},
}

// Errors.
var (
	// ErrNotFound is returned for a blob that does not exist.
	ErrNotFound = errors.New("blobdb: no such blob")
	// ErrConflict is returned by Swap when the blob is not at the
	// version the caller last read.
	ErrConflict = errors.New("blobdb: the blob changed meanwhile")
	// ErrNewerSchema is wrapped by Open's error for a database that a
	// newer pail has migrated.
	ErrNewerSchema = errors.New("blobdb: the database schema is newer than this pail: upgrade pail")
)

// DB is the shared state of a cluster. It is safe for concurrent use.
type DB struct {
	db *sqldb.DB
}

// Open opens target (a postgres:// URL, or the path of a SQLite file,
// created if missing) and brings its schema up to date.
func Open(ctx context.Context, target string) (*DB, error) {
	db, err := sqldb.Open(ctx, target, sqldb.Options{Schema: pgSchema})
	if err != nil {
		return nil, fmt.Errorf("blobdb: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// migrate applies the migrations not yet applied, in one transaction
// that holds schema_version's row, so that nodes starting together
// migrate one after the other.
func migrate(ctx context.Context, db *sqldb.DB) error {
	bytes, lock := "BLOB", ""
	if db.Dialect() == sqldb.Postgres {
		bytes, lock = "BYTEA", " FOR UPDATE"
	}
	// Two nodes creating the table at once: the loser's duplicate
	// means it exists.
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)"); err != nil && !duplicate(err) {
		return fmt.Errorf("blobdb: migrate: %w", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"); err != nil {
		return fmt.Errorf("blobdb: migrate: %w", err)
	}
	return db.Tx(ctx, func(tx *sqldb.Tx) error {
		var version int
		if err := tx.QueryRowContext(ctx, "SELECT version FROM schema_version WHERE id = 1"+lock).Scan(&version); err != nil {
			return fmt.Errorf("blobdb: migrate: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("blobdb: schema version %d, this pail knows %d: %w", version, len(migrations), ErrNewerSchema)
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i](bytes)); err != nil {
				return fmt.Errorf("blobdb: migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE schema_version SET version = ? WHERE id = 1", len(migrations)); err != nil {
			return fmt.Errorf("blobdb: migrate: %w", err)
		}
		return nil
	})
}

// duplicate reports whether err is PostgreSQL's answer to creating what
// another session has just created: a unique violation in its catalog
// (23505), a duplicate table (42P07) or type (42710).
func duplicate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42710")
}

// querier is a *sqldb.DB or a *sqldb.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Blob is a stored value with its version: 1 when first written, one more
// at each write since.
type Blob struct {
	Data    []byte
	Version int64
}

// Get returns the bytes of the blob name, or ErrNotFound.
func (d *DB) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := load(ctx, d.db, name)
	return b.Data, err
}

// Load returns the blob name with its version, or ErrNotFound.
func (d *DB) Load(ctx context.Context, name string) (Blob, error) { return load(ctx, d.db, name) }

// Version returns the version of the blob name without its bytes; 0 when
// it does not exist.
func (d *DB) Version(ctx context.Context, name string) (int64, error) {
	var v int64
	err := d.db.QueryRowContext(ctx, "SELECT version FROM blobs WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("blobdb: version of %s: %w", name, err)
	}
	return v, nil
}

// Put stores data as the blob name, replacing what was there.
func (d *DB) Put(ctx context.Context, name string, data []byte) error {
	return put(ctx, d.db, name, data)
}

// Swap stores data as the blob name only if the blob is still at version
// (0: only if it does not exist), and returns the new version; otherwise
// it returns ErrConflict and changes nothing.
func (d *DB) Swap(ctx context.Context, name string, data []byte, version int64) (int64, error) {
	return swap(ctx, d.db, name, data, version)
}

// Delete removes the blob name; removing one that does not exist is not
// an error.
func (d *DB) Delete(ctx context.Context, name string) error { return del(ctx, d.db, name) }

// Update runs fn in one transaction: its writes are all committed or
// none. A transaction that fails for a reason unrelated to it (a
// serialization failure, a deadlock) is run again, so fn must do
// nothing outside it that cannot be repeated.
func (d *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return d.db.Tx(ctx, func(tx *sqldb.Tx) error { return fn(&Tx{tx: tx}) })
}

// Tx is a transaction of Update.
type Tx struct {
	tx *sqldb.Tx
}

// Load returns the blob name with its version, or ErrNotFound.
func (t *Tx) Load(ctx context.Context, name string) (Blob, error) { return load(ctx, t.tx, name) }

// Put stores data as the blob name, replacing what was there.
func (t *Tx) Put(ctx context.Context, name string, data []byte) error {
	return put(ctx, t.tx, name, data)
}

// Swap is DB.Swap inside the transaction. On PostgreSQL a Swap waits for
// another transaction writing the same blob, and then fails with
// ErrConflict if that one committed.
func (t *Tx) Swap(ctx context.Context, name string, data []byte, version int64) (int64, error) {
	return swap(ctx, t.tx, name, data, version)
}

// Delete removes the blob name, if it exists.
func (t *Tx) Delete(ctx context.Context, name string) error { return del(ctx, t.tx, name) }

func load(ctx context.Context, q querier, name string) (Blob, error) {
	var b Blob
	err := q.QueryRowContext(ctx, "SELECT data, version FROM blobs WHERE name = ?", name).Scan(&b.Data, &b.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Blob{}, ErrNotFound
	}
	if err != nil {
		return Blob{}, fmt.Errorf("blobdb: get %s: %w", name, err)
	}
	if b.Data == nil {
		b.Data = []byte{}
	}
	return b, nil
}

func put(ctx context.Context, q querier, name string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	_, err := q.ExecContext(ctx, "INSERT INTO blobs (name, data, version) VALUES (?, ?, 1) "+
		"ON CONFLICT (name) DO UPDATE SET data = excluded.data, version = blobs.version + 1", name, data)
	if err != nil {
		return fmt.Errorf("blobdb: put %s: %w", name, err)
	}
	return nil
}

func swap(ctx context.Context, q querier, name string, data []byte, version int64) (int64, error) {
	if data == nil {
		data = []byte{}
	}
	var res sql.Result
	var err error
	if version == 0 {
		res, err = q.ExecContext(ctx, "INSERT INTO blobs (name, data, version) VALUES (?, ?, 1) ON CONFLICT (name) DO NOTHING", name, data)
	} else {
		res, err = q.ExecContext(ctx, "UPDATE blobs SET data = ?, version = version + 1 WHERE name = ? AND version = ?", data, name, version)
	}
	if err != nil {
		return 0, fmt.Errorf("blobdb: put %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("blobdb: put %s: %w", name, err)
	}
	if n != 1 {
		return 0, ErrConflict
	}
	return version + 1, nil
}

func del(ctx context.Context, q querier, name string) error {
	if _, err := q.ExecContext(ctx, "DELETE FROM blobs WHERE name = ?", name); err != nil {
		return fmt.Errorf("blobdb: delete %s: %w", name, err)
	}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
