package tlsrpt

import (
	"context"
	"database/sql"
	"path/filepath"

	"pail/internal/reporting"
)

// DirIn returns the directory of the reporting database in a data
// directory.
func DirIn(dataDir string) string { return filepath.Join(dataDir, "tlsrpt") }

// dbName is the database file in DirIn.
const dbName = "tlsrpt.db"

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
);` + reporting.SentTable + `
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
	db   *sql.DB
	book reporting.Book
}

// Open opens (creating it when needed) the database in dir
// (reporting.OpenDB).
func Open(ctx context.Context, dir string) (*DB, error) {
	db, err := reporting.OpenDB(ctx, "tlsrpt", dir, dbName, migrations)
	if err != nil {
		return nil, err
	}
	return &DB{db: db, book: reporting.Book{Name: "tlsrpt", DB: db}}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }
