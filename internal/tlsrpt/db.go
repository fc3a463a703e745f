package tlsrpt

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

// DirIn returns the directory of the reporting database in a data
// directory.
func DirIn(dataDir string) string { return filepath.Join(dataDir, "tlsrpt") }

// dbName is the database file in DirIn.
const dbName = "tlsrpt.db"

// busyTimeout is how long a writer waits for another process's lock (the
// server and `pail tlsrpt send` share the file).
const busyTimeout = 10 * time.Second

// migrations are applied in order; PRAGMA user_version counts those done.
// Times are Unix milliseconds; days are "YYYY-MM-DD" in UTC.
var migrations = []string{`
CREATE TABLE counts (
	day            TEXT NOT NULL,
	policy_domain  TEXT NOT NULL,
	policy_type    TEXT NOT NULL,
	policy_strings TEXT NOT NULL, -- the lines joined with LF
	mx_host        TEXT NOT NULL,
	result_type    TEXT NOT NULL, -- '' for a success
	sending_ip     TEXT NOT NULL,
	receiving_ip   TEXT NOT NULL,
	receiving_helo TEXT NOT NULL,
	additional     TEXT NOT NULL,
	sessions       INTEGER NOT NULL,
	PRIMARY KEY (day, policy_domain, policy_type, policy_strings, mx_host, result_type,
		sending_ip, receiving_ip, receiving_helo, additional)
);
CREATE TABLE sent (
	day           TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	rua           TEXT NOT NULL,
	report_id     TEXT NOT NULL,
	state         TEXT NOT NULL, -- 'sent', 'failed' (may retry), 'gave-up'
	attempts      INTEGER NOT NULL,
	last_error    TEXT NOT NULL,
	updated       INTEGER NOT NULL,
	PRIMARY KEY (day, policy_domain, rua)
);
CREATE TABLE received (
	id           INTEGER PRIMARY KEY,
	received     INTEGER NOT NULL,
	organization TEXT NOT NULL,
	report_id    TEXT NOT NULL,
	start        INTEGER NOT NULL,
	end          INTEGER NOT NULL,
	json         TEXT NOT NULL,
	UNIQUE (organization, report_id)
);
`}

// DB is the reporting database: daily counts, what was sent, and the
// reports received. It is safe for concurrent use, also by several
// processes.
type DB struct {
	db *sql.DB
}

// Open opens (creating it when needed) the database in dir, with the
// settings of pail's other databases: WAL, synchronous=FULL, a busy
// timeout for the other processes, write transactions locking at BEGIN.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := safeio.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("tlsrpt: %w", err)
	}
	path := filepath.Join(dir, dbName)
	dsn := "file:" + url.PathEscape(path) +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout.Milliseconds())) + ")&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	d := &DB{db: db}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) migrate(ctx context.Context) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("tlsrpt: migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("tlsrpt: migrate: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("tlsrpt: database schema version %d is newer than this pail (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("tlsrpt: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(migrations))); err != nil {
		return fmt.Errorf("tlsrpt: migrate: %w", err)
	}
	return tx.Commit()
}

// tx runs fn in a write transaction and commits it.
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("tlsrpt: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("tlsrpt: commit: %w", err)
	}
	return nil
}
