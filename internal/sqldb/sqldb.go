// Package sqldb opens pail's SQL databases: an embedded SQLite file (the
// default) or a PostgreSQL server named by a postgres:// or
// postgresql:// URL, both as a database/sql handle. It owns the one idea
// of "the same SQL on either": queries are written once with ? for their
// arguments and rebound to $1..$n for PostgreSQL (Dialect.Rebind, done by
// DB and Tx on every call), and errors are classified so that callers can
// tell a transaction worth running again (IsRetryable: a serialization
// failure or deadlock) from a database that is not there right now
// (IsUnavailable: refused or reset connections, an administrator's
// shutdown, a server still starting), which pail answers with 451 4.3.0
// and recovers from on its own when the database returns: database/sql
// opens new connections as they are needed.
//
// SQLite is opened with the store's durability settings: WAL,
// synchronous=FULL (a commit is on disk before it returns), foreign keys,
// a busy timeout for the other processes that share the file, and
// transactions that take the write lock at BEGIN, so that SQLite's one
// writer serializes them. PostgreSQL goes through pgx's database/sql
// driver (github.com/jackc/pgx/v5/stdlib); a commit is as durable as the
// server's synchronous_commit makes it.
//
// Callers keep to SQL that PostgreSQL-compatible distributed databases
// (CockroachDB, YugabyteDB) also accept: plain types (TEXT, BIGINT,
// INTEGER, BYTEA), INSERT ... ON CONFLICT, UPDATE ... RETURNING,
// SELECT ... FOR UPDATE SKIP LOCKED. What would differ there: Options.Schema
// relies on CREATE SCHEMA and search_path (both have them), CockroachDB
// runs every transaction SERIALIZABLE, so 40001 is common and DB.Tx's
// retries matter, and advisory locks (pg_advisory_xact_lock), which a
// caller may use to serialize its schema migrations, are not there.
package sqldb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// Dialect is the SQL flavour of a database.
type Dialect int

// The dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// String names the dialect.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// Rebind returns query with its ? placeholders written as the dialect
// wants them: unchanged for SQLite, $1, $2, ... for PostgreSQL. A ? inside
// a quoted string or identifier ('...', "...") or a -- comment is left
// alone.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte // the quote we are inside, 0 if none
	comment := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case comment:
			if c == '\n' {
				comment = false
			}
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			comment = true
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// NodeID makes a name for this process unique among the nodes that share
// a database, for the leases they take: host name, process id and a
// random part.
func NodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var r [6]byte
	rand.Read(r[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(r[:])
}

// IsURL reports whether target names a PostgreSQL server (postgres:// or
// postgresql://) rather than a SQLite file.
func IsURL(target string) bool {
	t := strings.ToLower(target)
	return strings.HasPrefix(t, "postgres://") || strings.HasPrefix(t, "postgresql://")
}

// Options tune Open.
type Options struct {
	// Schema, for PostgreSQL, is the schema that unqualified names
	// resolve to on this handle's connections (search_path); it is
	// created if missing. It lets several of pail's parts share one
	// database without their table names meeting. "" keeps the URL's
	// search_path. SQLite ignores it: each part has its own file.
	Schema string
	// MaxOpenConns bounds the open connections; 0 means 4 for SQLite
	// (one writer at a time anyway) and 10 for PostgreSQL.
	MaxOpenConns int
}

// sqliteBusyTimeout is how long a SQLite writer waits for another
// process's lock before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// DB is an open database: a database/sql handle and its dialect. Its
// query methods take ? placeholders.
type DB struct {
	db      *sql.DB
	dialect Dialect
}

// Open opens target: a PostgreSQL URL (see IsURL) or else the path of a
// SQLite file, created if missing. It checks that the database answers
// before returning.
func Open(ctx context.Context, target string, opts Options) (*DB, error) {
	if IsURL(target) {
		return openPostgres(ctx, target, opts)
	}
	return openSQLite(ctx, target, opts)
}

func openSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	dsn := "file:" + url.PathEscape(path) +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)" +
		"&_pragma=busy_timeout(" + strconv.Itoa(int(sqliteBusyTimeout.Milliseconds())) + ")&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(orDefault(opts.MaxOpenConns, 4))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: open %s: %w", path, err)
	}
	return &DB{db: db, dialect: SQLite}, nil
}

// pingAfterIdle is how long a pooled PostgreSQL connection may have been
// idle before it is checked with a ping on its next use.
const pingAfterIdle = 100 * time.Millisecond

func openPostgres(ctx context.Context, target string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(target)
	if err != nil {
		// The parse error may quote the URL, password and all.
		return nil, errors.New("sqldb: the PostgreSQL URL does not parse")
	}
	where := fmt.Sprintf("PostgreSQL at %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	if opts.Schema != "" {
		if err := createSchema(ctx, cfg, opts.Schema); err != nil {
			return nil, fmt.Errorf("sqldb: %s: %w", where, err)
		}
		cfg.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	// A connection taken from the pool after a pause is pinged first and
	// dropped if the server no longer has it (a restart, a failover), so
	// that the restart is not answered with one failure per pooled
	// connection; pgx pings only after a second, longer than a quick
	// restart takes. Connections in steady use are not pinged.
	db := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(func(_ context.Context, p stdlib.ShouldPingParams) bool {
		return p.IdleDuration > pingAfterIdle
	}))
	db.SetMaxOpenConns(orDefault(opts.MaxOpenConns, 10))
	db.SetMaxIdleConns(orDefault(opts.MaxOpenConns, 10))
	// A bounded lifetime also spreads connections over a pool's servers
	// when a proxy stands in between.
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: %s: %w", where, err)
	}
	return &DB{db: db, dialect: Postgres}, nil
}

// createSchema makes schema if it does not exist. Two nodes starting at
// once may both try; the loser's unique violation means it exists.
func createSchema(ctx context.Context, cfg *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	if err != nil && !isCode(err, "23505", "42P06") {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Dialect returns the database's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the database/sql handle, whose methods take the dialect's
// own placeholders.
func (db *DB) SQL() *sql.DB { return db.db }

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// ExecContext runs a statement written with ? placeholders.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.db.ExecContext(ctx, db.dialect.Rebind(query), args...)
}

// QueryContext runs a query written with ? placeholders.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.db.QueryContext(ctx, db.dialect.Rebind(query), args...)
}

// QueryRowContext runs a query written with ? placeholders that returns
// at most one row.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.db.QueryRowContext(ctx, db.dialect.Rebind(query), args...)
}

// BeginTx starts a transaction (on SQLite it takes the write lock).
func (db *DB) BeginTx(ctx context.Context) (*Tx, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, dialect: db.dialect}, nil
}

// Tx bounds on DB.Tx's retries of a transaction that failed with a
// retryable error.
const (
	txAttempts = 5
	txBackoff  = 10 * time.Millisecond
)

// Tx runs fn in a transaction and commits it. When the transaction fails
// with a retryable error (IsRetryable) it is rolled back and run again, a
// few times at most, so fn must do nothing outside the transaction that
// cannot be repeated. The error returned is fn's or the commit's, as it
// came.
func (db *DB) Tx(ctx context.Context, fn func(*Tx) error) error {
	var err error
	for attempt := range txAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(txBackoff << attempt):
			}
		}
		err = db.tx1(ctx, fn)
		if err == nil || !IsRetryable(err) {
			return err
		}
	}
	return err
}

func (db *DB) tx1(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Tx is a transaction whose query methods take ? placeholders.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect returns the database's dialect.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// ExecContext runs a statement written with ? placeholders.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.dialect.Rebind(query), args...)
}

// QueryContext runs a query written with ? placeholders.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.dialect.Rebind(query), args...)
}

// QueryRowContext runs a query written with ? placeholders that returns
// at most one row.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.dialect.Rebind(query), args...)
}

// Commit commits the transaction.
func (tx *Tx) Commit() error { return tx.tx.Commit() }

// Rollback abandons the transaction; after Commit it does nothing.
func (tx *Tx) Rollback() error { return tx.tx.Rollback() }
