package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// busyTimeout is how long a writer waits for another process's lock.
const busyTimeout = 10 * time.Second

// migrations are applied in order; PRAGMA user_version counts those done.
// Times are Unix milliseconds.
var migrations = []string{`
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
`}

// openDB opens the queue database with the store's durability settings:
// WAL, synchronous=FULL (a commit is on disk before Enqueue returns),
// a busy timeout for the other processes that use it, and transactions
// that take the write lock at BEGIN.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	dsn := "file:" + url.PathEscape(path) +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)" +
		"&_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout.Milliseconds())) + ")&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("queue: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("queue: database schema version %d is newer than this pail (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("queue: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(migrations))); err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	return tx.Commit()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// querier is a *sql.DB or *sql.Tx.
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
	m.path = filepath.Join(q.msgDir, file)
	query := "SELECT " + rcptColumns + " FROM recipients WHERE message_id = ?"
	args := []any{id}
	if domain != "" {
		query += " AND domain = ?"
		args = append(args, domain)
	}
	rows, err := db.QueryContext(ctx, query+" ORDER BY rowid", args...)
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
