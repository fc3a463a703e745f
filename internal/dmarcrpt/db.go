package dmarcrpt

import (
	"context"
	"database/sql"
	"path/filepath"

	"pail/internal/reporting"
)

// DirIn returns the directory of the DMARC reporting database in a data
// directory.
func DirIn(dataDir string) string { return filepath.Join(dataDir, "dmarc") }

// dbName is the database file in DirIn.
const dbName = "dmarc.db"

// name prefixes errors and log lines.
const name = "dmarcrpt"

// migrations are applied in order; PRAGMA user_version counts those done.
// Times are Unix milliseconds; days are "YYYY-MM-DD" in UTC.
var migrations = []string{`
CREATE TABLE counts (
	day           TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	p             TEXT NOT NULL,
	sp            TEXT NOT NULL,
	pct           INTEGER NOT NULL,
	adkim         TEXT NOT NULL,
	aspf          TEXT NOT NULL,
	fo            TEXT NOT NULL,
	source_ip     TEXT NOT NULL,
	header_from   TEXT NOT NULL,
	envelope_from TEXT NOT NULL,
	disposition   TEXT NOT NULL,
	dkim_aligned  INTEGER NOT NULL,
	spf_aligned   INTEGER NOT NULL,
	reasons       TEXT NOT NULL, -- override reasons joined with ','
	auth          TEXT NOT NULL, -- the DKIM and SPF results, one a line
	messages      INTEGER NOT NULL,
	PRIMARY KEY (day, policy_domain, p, sp, pct, adkim, aspf, fo, source_ip, header_from, envelope_from,
		disposition, dkim_aligned, spf_aligned, reasons, auth)
);` + reporting.SentTable + `
CREATE TABLE received (
	id            INTEGER PRIMARY KEY,
	received      INTEGER NOT NULL,
	organization  TEXT NOT NULL,
	report_id     TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	begin         INTEGER NOT NULL,
	end           INTEGER NOT NULL,
	xml           TEXT NOT NULL,
	UNIQUE (organization, report_id)
);
`}

// DB is the DMARC reporting database: daily counts, what was sent, and
// the reports received. It is safe for concurrent use, also by several
// processes.
type DB struct {
	db   *sql.DB
	book reporting.Book
}

// Open opens (creating it when needed) the database in dir.
func Open(ctx context.Context, dir string) (*DB, error) {
	db, err := reporting.OpenDB(ctx, name, dir, dbName, migrations)
	if err != nil {
		return nil, err
	}
	return &DB{db: db, book: reporting.Book{Name: name, DB: db}}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// SentFor returns what was done about domain's report for day.
func (d *DB) SentFor(ctx context.Context, day, domain string) ([]reporting.Sent, error) {
	return d.book.SentFor(ctx, day, domain)
}

// Prune drops the counts and send records of days before day.
func (d *DB) Prune(ctx context.Context, before string) error {
	return d.book.Prune(ctx, before, "counts")
}
