// Package store owns pail's durable state: accounts, aliases, mailboxes,
// messages with their UIDs, flags and modification sequences, and the change
// events that tell live sessions about new mail.
//
// Open keeps the metadata in one SQLite database (modernc.org/sqlite, pure
// Go) in WAL mode with synchronous=FULL, and message bytes in files, one per
// message, stored exactly as received. OpenPostgres keeps everything,
// message bytes included, in a PostgreSQL database that several processes
// on several machines may share (pgschema.go, pgbody.go); the Go code and
// nearly all the SQL are the same, the few fragments that differ are in
// dialect.go. Every write goes through one committer
// goroutine that batches concurrent writers into a single transaction and a
// single fsync (group commit), so durability does not cost one fsync per
// message. A method that returns nil after a write has made it durable.
//
// Each message row also keeps what the message says about itself
// (message.Info: decoded header fields, IMAP ENVELOPE and BODYSTRUCTURE,
// sizes, attachment mark, preview), computed once by DeliverBody from the
// bytes it stores, so that lists, FETCH and searches need not open the file
// (MessageInfo, MessageInfos, ListMessages). Rows from before pail kept it
// are filled in the background after Open; until then readers use the file.
// Searches on flags, dates, sizes and UIDs run in SQL (SearchUIDs), STORE on
// a range is one statement (SetFlags), and list pages are read by keyset
// (ListMessages).
//
// A full-text index (FTS5, trigram tokenizer) over each message's decoded
// header fields and text parts names the candidates of substring searches
// (SearchText, SearchTextAccount: a superset of the matches, for the
// caller's exact check); it is built in the background right after each
// delivery and for mail from before it, and Reindex rebuilds an account's
// (see fulltext.go for what IMAP calls).
//
// Several processes (the server and the admin commands) may open the same
// data directory at once; SQLite's locking arbitrates between them. On
// PostgreSQL, writers to one mailbox take turns on its row (dialect
// forUpdate) and a batch that fails with a deadlock or a serialization
// failure is run again.
//
// # The seam to the protocols
//
// Protocol packages see a message's bytes as a blob, never as a file: a
// Body (io.ReaderAt with a Size) from OpenBody to read one, a BodyWriter
// from NewBody to receive one (written once, where the store keeps
// bodies, read back for the inbound checks, Sieve and the queue) and
// DeliverBody, or DeliverBodies for several in one transaction (IMAP
// MULTIAPPEND, an import), to commit it to mailboxes, durably when it
// returns nil (the spool file is fsynced, linked into each mailbox's
// directory, and the rows committed, before the caller may acknowledge).
// The file is this store's business: Body reads it with pread, and an
// io.Copy into a BodyWriter from an io.SectionReader of another
// BodyWriter or of a Body is a kernel copy (copy_file_range: delivery's
// copies, IMAP CATENATE). Each consumer declares the small interface it
// uses (delivery.Store, pop3d.Store, imapd's body and append stores,
// webmail's account, mailbox, body and session stores, rspamd.Messages,
// admin.Store). On PostgreSQL a Body is the bytes of its row, and a
// BodyWriter a temporary file whose bytes delivery writes into the
// database.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"pail/internal/safeio"
	"pail/internal/sqldb"
)

// Errors returned by the store.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// busyTimeout is how long a writer waits for another process's lock.
const busyTimeout = 10 * time.Second

// maxBatch bounds how many queued writes share one transaction.
const maxBatch = 256

// Store is an open data directory.
type Store struct {
	dir string // "" on PostgreSQL
	db  *sqlDB
	// d holds the SQL fragments of the database's dialect (dialect.go).
	d      *dialect
	stmts  *stmtCache
	writes chan *writeReq
	stop   chan struct{}
	wg     sync.WaitGroup
	hub    hub
	stats  stats
	// owner names the files this process creates before their rows are
	// committed, so that other processes can tell them from leftovers.
	owner *owner
	// lock takes the owner locks (tryLock; a test hook for filesystems
	// that refuse them).
	lock lockFunc
	// leftoverAge is orphanAge (a test hook, for tests that cannot wait
	// a minute).
	leftoverAge time.Duration
	// afterPlace, when set, runs in delivery and Copy once the message
	// files are in place and before their rows are written: a test hook
	// for crashes and concurrent work in that window.
	afterPlace func()
	// defaultQuota is the storage quota in octets of an account without
	// its own (SetDefaultQuota; 0: none).
	defaultQuota atomic.Int64
	// closeOnce guards Close.
	closeOnce sync.Once
	// stopFill ends the summary fill (fillSummaries) started by Open;
	// fillDone is closed when it has returned.
	stopFill context.CancelFunc
	fillDone chan struct{}
	// textKick wakes the full-text indexer (indexTexts, started by Open
	// and stopped with the fill); textDone is closed when it has returned.
	textKick chan struct{}
	textDone chan struct{}
}

// Open opens (creating if needed) the store in dir.
func Open(ctx context.Context, dir string) (*Store, error) {
	return open(ctx, dir, tryLock)
}

// OpenConfigured opens the store a configuration names: on the
// PostgreSQL server at databaseURL when it is set (OpenPostgres), else the
// SQLite store in dir (Open).
func OpenConfigured(ctx context.Context, dir, databaseURL string) (*Store, error) {
	if databaseURL != "" {
		return OpenPostgres(ctx, databaseURL)
	}
	return Open(ctx, dir)
}

// open is Open with the given way of taking owner locks.
func open(ctx context.Context, dir string, lock lockFunc) (*Store, error) {
	if err := safeio.CheckWritable(dir, "pail.db", "pail.db-wal", "pail.db-shm", "mail", "spool", locksDir); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	for _, sub := range []string{"", "mail", "spool", locksDir} {
		if err := safeio.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	dsn := "file:" + url.PathEscape(filepath.Join(dir, "pail.db")) +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)" +
		"&_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout.Milliseconds())) + ")&_txlock=immediate"
	own, err := takeOwner(dir, lock)
	if err != nil {
		return nil, err
	}
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		own.release()
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	raw.SetMaxOpenConns(8)
	raw.SetMaxIdleConns(8)
	s := newStore(&sqlDB{DB: raw, dialect: sqldb.SQLite})
	s.dir, s.owner, s.lock = dir, own, lock
	if err := s.migrate(ctx); err != nil {
		raw.Close()
		own.release()
		return nil, err
	}
	s.cleanSpool()
	s.start(true)
	return s, nil
}

// newStore returns a store over db, not yet started.
func newStore(db *sqlDB) *Store {
	return &Store{
		db:     db,
		d:      sqlDialect(db.dialect),
		stmts:  newStmtCache(db),
		writes: make(chan *writeReq, maxBatch),
		stop:   make(chan struct{}),

		leftoverAge: orphanAge,
	}
}

// start starts the committer and, when fill is set, the background fills
// of summaries and of the full-text index.
func (s *Store) start(fill bool) {
	s.wg.Add(1)
	go s.committer()
	fillCtx, stopFill := context.WithCancel(context.Background())
	s.stopFill, s.fillDone = stopFill, make(chan struct{})
	s.textKick, s.textDone = make(chan struct{}, 1), make(chan struct{})
	if !fill {
		close(s.fillDone)
		close(s.textDone)
		return
	}
	// Rows stored before pail kept summaries get theirs in the background;
	// readers fall back to the file until then.
	go s.fillSummaries(fillCtx)
	go s.indexTexts(fillCtx)
}

// OwnerLock returns nil when this process holds its owner lock, else why
// not (a system or filesystem without flock). Without it the files of live
// processes cannot be told from a crash's leftovers but by age: a leftover
// is removed a minute after it was placed, and only where the system keeps
// a status change time (a hard link keeps its source's modification time).
func (s *Store) OwnerLock() error {
	if s.owner == nil {
		return nil // PostgreSQL: no files
	}
	return s.owner.unlocked
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Close stops the committer and closes the database. Writes in flight finish
// first.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		// The fill stops first, while the committer still carries its
		// last write.
		s.stopFill()
		<-s.fillDone
		<-s.textDone
		close(s.stop)
		s.wg.Wait()
		err = errors.Join(s.stmts.close(), s.db.Close())
		// From here on this process commits nothing: what it left without
		// a row is a leftover for others to remove.
		if s.owner != nil {
			s.owner.release()
		}
	})
	return err
}

// writeReq is one unit of work for the committer.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *dbTx) error
	dirs []string // directories to fsync before the transaction commits
	done chan error
}

// write runs fn inside a transaction shared with other concurrent writers
// (fn may run more than once: a batch that failed retryably is run again,
// so fn sets its results afresh on each run)
// and returns once that transaction is durable (or fn's error; a failing fn
// is rolled back alone). Before the commit, every directory in dirs is
// fsynced, so that files linked into them are durable no later than the rows
// that name them.
func (s *Store) write(ctx context.Context, dirs []string, fn func(tx *dbTx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, dirs: dirs, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-s.stop:
		return errors.New("store: closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the request is carried out even if ctx ends, so that the
	// caller learns the true outcome.
	return <-req.done
}

// committer is the single writer: it batches queued requests into one
// transaction (group commit).
func (s *Store) committer() {
	defer s.wg.Done()
	for {
		var first *writeReq
		select {
		case first = <-s.writes:
		case <-s.stop:
			// Drain what is queued, then stop.
			for {
				select {
				case r := <-s.writes:
					s.commitBatch([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch := []*writeReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
	}
}

// stats counts the committer's work, for metrics.
type stats struct {
	commits     atomic.Uint64 // transactions committed
	writes      atomic.Uint64 // writes carried by them
	commitNanos atomic.Uint64 // time spent syncing and committing
}

// Stats is a snapshot of the store's write statistics.
type Stats struct {
	Commits       uint64  // transactions committed (each one fsync)
	Writes        uint64  // writes they carried (group commit: Writes >= Commits)
	CommitSeconds float64 // total time spent in directory syncs and commits
}

// Stats returns the write statistics since Open.
func (s *Store) Stats() Stats {
	return Stats{
		Commits:       s.stats.commits.Load(),
		Writes:        s.stats.writes.Load(),
		CommitSeconds: time.Duration(s.stats.commitNanos.Load()).Seconds(),
	}
}

func (s *Store) commitBatch(batch []*writeReq) {
	start := time.Now()
	defer func() {
		s.stats.commits.Add(1)
		s.stats.writes.Add(uint64(len(batch)))
		s.stats.commitNanos.Add(uint64(time.Since(start)))
	}()
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	synced := map[string]bool{}
	for _, r := range batch {
		for _, d := range r.dirs {
			if synced[d] {
				continue
			}
			synced[d] = true
			if err := safeio.SyncDir(d); err != nil {
				fail(fmt.Errorf("store: %w", err))
				return
			}
		}
	}
	// A batch that fails as a whole with a retryable error (PostgreSQL:
	// a deadlock between nodes writing to the same mailboxes, a
	// serialization failure) is rolled back and run again: every write
	// function starts over from what it was given.
	var results []error
	var err error
	for attempt := range batchAttempts {
		if attempt > 0 {
			time.Sleep(batchBackoff << attempt)
		}
		results, err = s.runBatch(batch)
		if err == nil || !sqldb.IsRetryable(err) {
			break
		}
	}
	if err != nil {
		fail(err)
		return
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// batchAttempts and batchBackoff bound commitBatch's runs of a batch
// that failed with a retryable error.
const (
	batchAttempts = 5
	batchBackoff  = 5 * time.Millisecond
)

// runBatch runs the writes of batch in one transaction, each under a
// savepoint so that a failing one is rolled back alone, and commits. It
// returns each write's error, or the batch's when the transaction as a
// whole failed or a write failed retryably (the batch is then to be run
// again).
func (s *Store) runBatch(batch []*writeReq) ([]error, error) {
	tx, err := s.db.begin(context.Background())
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	results := make([]error, len(batch))
	for i, r := range batch {
		if _, err := tx.Tx.Exec("SAVEPOINT w"); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("store: savepoint: %w", err)
		}
		if err := r.fn(tx); err != nil {
			if sqldb.IsRetryable(err) {
				tx.Rollback()
				return nil, fmt.Errorf("store: %w", err)
			}
			results[i] = err
			if _, err := tx.Tx.Exec("ROLLBACK TO w"); err != nil {
				tx.Rollback()
				return nil, fmt.Errorf("store: rollback to savepoint: %w", err)
			}
		}
		if _, err := tx.Tx.Exec("RELEASE w"); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("store: release savepoint: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: commit: %w", err)
	}
	return results, nil
}

// migrations are applied in order; PRAGMA user_version counts those done.
var migrations = []string{`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE accounts (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	address  TEXT NOT NULL UNIQUE,
	password TEXT NOT NULL,
	admin    INTEGER NOT NULL DEFAULT 0,
	created  INTEGER NOT NULL
);
CREATE TABLE aliases (
	address TEXT NOT NULL,
	target  TEXT NOT NULL,
	PRIMARY KEY (address, target)
);
CREATE TABLE mailboxes (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uidnext     INTEGER NOT NULL DEFAULT 1,
	modseq      INTEGER NOT NULL DEFAULT 1,
	special_use TEXT NOT NULL DEFAULT '',
	subscribed  INTEGER NOT NULL DEFAULT 1,
	UNIQUE (account_id, name)
);
CREATE TABLE messages (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           INTEGER NOT NULL,
	modseq        INTEGER NOT NULL,
	internal_date INTEGER NOT NULL,
	size          INTEGER NOT NULL,
	flags         TEXT NOT NULL DEFAULT '',
	recent        INTEGER NOT NULL DEFAULT 1,
	file          TEXT NOT NULL,
	UNIQUE (mailbox_id, uid)
);
CREATE TABLE expunged (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
`, `
CREATE TABLE seen_ids (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	message_id TEXT NOT NULL,
	at         INTEGER NOT NULL,
	PRIMARY KEY (account_id, message_id)
);
CREATE INDEX seen_ids_at ON seen_ids (at);
`, `
CREATE TABLE web_sessions (
	token_hash   TEXT PRIMARY KEY,
	csrf         TEXT NOT NULL,
	account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	password_tag TEXT NOT NULL,
	created      INTEGER NOT NULL,
	seen         INTEGER NOT NULL
);
`, `
-- Duplicate suppression keyed on a digest of the envelope and the data as
-- the client sent it, no longer on the Message-ID, which anyone can set
-- (the old records say nothing about the new key and are dropped).
DROP TABLE seen_ids;
CREATE TABLE seen_digests (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	digest     BLOB NOT NULL,
	at         INTEGER NOT NULL,
	PRIMARY KEY (account_id, digest)
) WITHOUT ROWID;
CREATE INDEX seen_digests_at ON seen_digests (at);
`, `
-- Greylisting: one row per (client network, sender, recipient) triple,
-- times in Unix seconds; passed once a retry came after the delay.
CREATE TABLE greylist (
	triple TEXT PRIMARY KEY,
	first  INTEGER NOT NULL,
	last   INTEGER NOT NULL,
	passed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX greylist_expiry ON greylist (passed, last);
`, `
-- What each message says about itself (message.Info), computed once when
-- it is stored: summary is its JSON without the body structure, structure
-- the BODYSTRUCTURE tree as JSON, sent_day the Date field's calendar day
-- (days since 1970-01-01, in the field's own zone) for SENTSINCE and the
-- like in SQL. A NULL summary is a row from before this migration that the
-- fill (fillSummaries) has not reached yet: readers use the file.
-- messages_arrival serves the webmail's newest-first pages by keyset;
-- messages_unkept finds the rows left to fill without a scan (it is empty
-- once they are all filled).
ALTER TABLE messages ADD COLUMN summary TEXT;
ALTER TABLE messages ADD COLUMN structure TEXT;
ALTER TABLE messages ADD COLUMN sent_day INTEGER;
CREATE INDEX messages_arrival ON messages (mailbox_id, internal_date, uid);
CREATE INDEX messages_unkept ON messages (id) WHERE summary IS NULL;
`, `
-- Sieve (RFC 5228): each account's scripts, at most one active (RFC 5804
-- §1.7); the vacation answers sent (RFC 5230 §4.2, one per sender and
-- handle within the period) and duplicate-tracking keys (RFC 7352), times
-- in Unix seconds.
CREATE TABLE sieve_scripts (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	text       BLOB NOT NULL,
	active     INTEGER NOT NULL DEFAULT 0,
	updated    INTEGER NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts (account_id) WHERE active = 1;
CREATE TABLE sieve_vacation (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	key        BLOB NOT NULL,
	until      INTEGER NOT NULL,
	PRIMARY KEY (account_id, key)
) WITHOUT ROWID;
CREATE TABLE sieve_duplicates (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	key        BLOB NOT NULL,
	until      INTEGER NOT NULL,
	PRIMARY KEY (account_id, key)
) WITHOUT ROWID;
`, `
-- Subscriptions to names that have no mailbox (RFC 9051 §6.3.7: a
-- subscription outlives its mailbox's DELETE, and a name that does not
-- exist may be subscribed); a mailbox's own subscription stays in
-- mailboxes.subscribed, which wins while the mailbox exists.
CREATE TABLE lone_subscriptions (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
`, textMigration, quotaMigration, objectIDMigration, countsMigration, changesMigration, statesMigration, casemapMigration}

func (s *Store) migrate(ctx context.Context) error {
	if s.db.pg() {
		return s.migratePG(ctx)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("store: database schema version %d is newer than this pail (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(migrations))); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return tx.Commit()
}

// staleSpool is the age after which a spool file can only be the leftover of
// a crashed process: no message takes a day to arrive.
const staleSpool = 24 * time.Hour

// cleanSpool removes spool files left by processes that are gone (see
// owner.go). A file without a known owner is removed once it is stale; a
// younger one may belong to another process using the same data directory.
func (s *Store) cleanSpool() {
	dir := filepath.Join(s.dir, "spool")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	own := s.newOwners()
	for _, e := range entries {
		switch own.of(e.Name()) {
		case ownerAlive:
			continue
		case ownerUnknown:
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) <= staleSpool {
				continue
			}
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// accountDir is the directory that holds one account's message files.
func (s *Store) accountDir(accountID int64) string {
	return filepath.Join(s.dir, "mail", strconv.FormatInt(accountID, 10))
}

// removeFiles unlinks message files after their rows are gone. A failure
// only leaves an orphan file, which the store check reports and
// RemoveLeftovers removes once this process is gone.
func removeFiles(paths []string) {
	for _, p := range paths {
		os.Remove(p)
	}
}
