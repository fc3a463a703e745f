package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"pail/internal/sqldb"
)

// pgSchema is the PostgreSQL schema of the queue's tables, so that they
// share a database with the mailbox store's without their names meeting.
const pgSchema = "queue"

// sqliteMigrations are applied in order; PRAGMA user_version counts
// those done. Times are Unix milliseconds.
var sqliteMigrations = []string{`
CREATE TABLE messages (
	id      TEXT PRIMARY KEY,
	sender  TEXT NOT NULL,
	created INTEGER NOT NULL,
	size    INTEGER NOT NULL,
	file    TEXT NOT NULL
);
CREATE TABLE recipients (
	message_id   TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	address      TEXT NOT NULL,
	domain       TEXT NOT NULL,
	state        TEXT NOT NULL DEFAULT 'pending',
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	last_attempt INTEGER NOT NULL DEFAULT 0,
	code         INTEGER NOT NULL DEFAULT 0,
	status       TEXT NOT NULL DEFAULT '',
	text         TEXT NOT NULL DEFAULT '',
	remote_mta   TEXT NOT NULL DEFAULT '',
	notified     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (message_id, address)
);
CREATE INDEX recipients_due ON recipients (state, next_attempt);
`, `
-- 2: leases (see lease.go) and the recipients' order without rowid, as
-- in the PostgreSQL schema.
ALTER TABLE messages ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recipients ADD COLUMN pos INTEGER NOT NULL DEFAULT 0;
UPDATE recipients SET pos = rowid;
`}

// pgMigrations are the PostgreSQL schema's, counted in schema_version.
// The tables are SQLite's (after its migration 2) with BIGINT times and
// the bodies in the database: bodies.data holds what SQLite mode keeps
// in msg/ID, and goes with its message (ON DELETE CASCADE).
var pgMigrations = []string{`
CREATE TABLE messages (
	id          TEXT PRIMARY KEY,
	sender      TEXT NOT NULL,
	created     BIGINT NOT NULL,
	size        BIGINT NOT NULL,
	file        TEXT NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE recipients (
	message_id   TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	address      TEXT NOT NULL,
	domain       TEXT NOT NULL,
	pos          INTEGER NOT NULL DEFAULT 0,
	state        TEXT NOT NULL DEFAULT 'pending',
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL,
	last_attempt BIGINT NOT NULL DEFAULT 0,
	code         INTEGER NOT NULL DEFAULT 0,
	status       TEXT NOT NULL DEFAULT '',
	text         TEXT NOT NULL DEFAULT '',
	remote_mta   TEXT NOT NULL DEFAULT '',
	notified     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (message_id, address)
);
CREATE INDEX recipients_due ON recipients (state, next_attempt);
CREATE TABLE bodies (
	message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
	data       BYTEA NOT NULL
);
`}

// errNewerSchema is wrapped by Open's error for a database that a newer
// pail has migrated.
var errNewerSchema = errors.New("the database schema is newer than this pail: upgrade pail (or open a database of its own)")

// migrate brings the schema up to date in one transaction.
func migrate(ctx context.Context, db *sqldb.DB) error {
	if db.Dialect() == sqldb.Postgres {
		return migratePG(ctx, db)
	}
	return migrateSQLite(ctx, db)
}

func migrateSQLite(ctx context.Context, db *sqldb.DB) error {
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	if version > len(sqliteMigrations) {
		return fmt.Errorf("queue: schema version %d, this pail knows %d: %w", version, len(sqliteMigrations), errNewerSchema)
	}
	for i := version; i < len(sqliteMigrations); i++ {
		if _, err := tx.ExecContext(ctx, sqliteMigrations[i]); err != nil {
			return fmt.Errorf("queue: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(sqliteMigrations))); err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	return tx.Commit()
}

// migratePG migrates under an advisory lock, so that nodes starting
// together migrate one after the other (CockroachDB has no advisory
// locks: there the first start must be alone).
func migratePG(ctx context.Context, db *sqldb.DB) error {
	return db.Tx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('pail queue schema'))"); err != nil {
			return fmt.Errorf("queue: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); err != nil {
			return fmt.Errorf("queue: migrate: %w", err)
		}
		var version int
		err := tx.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_version (version) VALUES (0)")
		}
		if err != nil {
			return fmt.Errorf("queue: migrate: %w", err)
		}
		if version > len(pgMigrations) {
			return fmt.Errorf("queue: schema version %d, this pail knows %d: %w", version, len(pgMigrations), errNewerSchema)
		}
		for i := version; i < len(pgMigrations); i++ {
			if _, err := tx.ExecContext(ctx, pgMigrations[i]); err != nil {
				return fmt.Errorf("queue: migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE schema_version SET version = ?", len(pgMigrations)); err != nil {
			return fmt.Errorf("queue: migrate: %w", err)
		}
		return nil
	})
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// querier is a *sqldb.DB or *sqldb.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// load reads one message and its recipients; only those at domain when
// domain is not "".
func (q *Queue) load(ctx context.Context, db querier, id, domain string) (Message, error) {
	var m Message
	var created int64
	var file string
	err := db.QueryRowContext(ctx, "SELECT id, sender, created, size, file FROM messages WHERE id = ?", id).
		Scan(&m.ID, &m.From, &created, &m.Size, &file)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, ErrNotFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("queue: %w", err)
	}
	m.Created = fromMS(created)
	if !q.pg {
		m.path = filepath.Join(q.msgDir, file)
	}
	query := "SELECT " + rcptColumns + " FROM recipients WHERE message_id = ?"
	args := []any{id}
	if domain != "" {
		query += " AND domain = ?"
		args = append(args, domain)
	}
	rows, err := db.QueryContext(ctx, query+" ORDER BY pos", args...)
	if err != nil {
		return Message{}, fmt.Errorf("queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecipient(rows)
		if err != nil {
			return Message{}, err
		}
		m.Recipients = append(m.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return Message{}, fmt.Errorf("queue: %w", err)
	}
	return m, nil
}

const rcptColumns = "address, domain, state, attempts, next_attempt, last_attempt, code, status, text, remote_mta, notified"

func scanRecipient(rows *sql.Rows) (Recipient, error) {
	var r Recipient
	var next, last int64
	var state string
	if err := rows.Scan(&r.Address, &r.Domain, &state, &r.Attempts, &next, &last, &r.Code, &r.Status, &r.Text, &r.RemoteMTA, &r.Notified); err != nil {
		return Recipient{}, fmt.Errorf("queue: %w", err)
	}
	r.State = State(state)
	r.NextAttempt = fromMS(next)
	r.LastAttempt = fromMS(last)
	return r, nil
}
