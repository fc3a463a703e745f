// Package queue is pail's outgoing queue: messages for other servers wait
// here, durably, until each recipient is delivered or has failed for good.
//
// The queue lives in SQLite (the default) or in PostgreSQL, both through
// package sqldb. On SQLite a queued message is a file (the bytes to send,
// CRLF line endings) and a record in the queue's own database
// (data_dir/queue/queue.db); on PostgreSQL (Config.Database, schema
// "queue") the bytes are a bytea row in the same transaction as the
// record. The record holds the envelope sender, the arrival time and, per
// recipient, its state (pending, delivered, failed), the number of
// attempts, the time of the next attempt and the last reply. Enqueue
// returns only once all of it is durable (on PostgreSQL: committed), so a
// message acknowledged with 250 survives a crash or SIGKILL. Each
// database records its schema version (SQLite's user_version, a
// schema_version table on PostgreSQL); one written by a newer pail is
// refused.
//
// A scheduler delivers due messages: it groups a message's pending
// recipients by domain and hands each group to a Deliverer (the SMTP
// client in package remote, or local delivery for local domains), within
// a global and a per-domain concurrency limit, so that one slow domain
// never holds up the others. Temporary failures are retried with growing
// delays (DefaultBackoff) until the message is older than the queue
// lifetime; permanent failures and expiry produce a DSN (package dsn) to
// the envelope sender, queued like any message but with the null sender,
// so that a bounce never bounces. A message is removed once every
// recipient is settled.
//
// A scheduler delivers a message only while it holds the message's lease
// (lease.go), so that several nodes sharing one PostgreSQL database each
// deliver a message exactly once between them, and a node that dies
// mid-delivery has its messages taken over by another once their leases
// expire. Delivery is still at least once across a crash: a crash between
// a remote server's 250 and the record of it makes the message go out
// again on the next attempt.
//
// The admin functions (List, Show, Flush, Delete) work on the database
// whether or not a server runs; a running scheduler looks at the database
// every PollInterval, so it sees what other processes change.
package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"pail/internal/maillog"
	"pail/internal/remote"
	"pail/internal/safeio"
	"pail/internal/sqldb"
)

// ErrNotFound means no queued message has the id.
var ErrNotFound = errors.New("queue: no such message")

// Defaults for Config fields left zero.
const (
	// DefaultMaxConcurrent bounds deliveries in progress (Postfix's
	// default_process_limit is 100; a small server needs fewer).
	DefaultMaxConcurrent = 20
	// DefaultMaxPerDomain bounds deliveries in progress to one domain,
	// so that one slow or dead domain cannot take every slot.
	DefaultMaxPerDomain = 5
	// DefaultPollInterval is how often the scheduler looks for work that
	// other processes (pail sendmail, pail queue flush) put in the
	// database.
	DefaultPollInterval = 2 * time.Second
	// DefaultLifetime is how long a message is retried (RFC 5321
	// §4.5.4.1: at least 4-5 days).
	DefaultLifetime = 5 * 24 * time.Hour
	// DefaultLease is how long a node's claim on a message lasts without
	// renewal; a delivery in progress renews it every third of that. It
	// is how long a message waits when the node delivering it dies, and
	// must be well above the longest stall of the database or the node
	// (a lease lost to a stall means the message may go out twice).
	DefaultLease = 2 * time.Minute
)

// DefaultBackoff is the wait after each failed attempt: the first retry
// after a minute, then longer waits, up to 4 hours. RFC 5321 §4.5.4.1
// asks for at least 30 minutes between retries but allows smarter
// strategies; like most MTAs, pail retries sooner at first because first
// failures (a restart, greylisting) are often brief.
var DefaultBackoff = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour,
}

// DirIn returns the queue directory inside a data directory.
func DirIn(dataDir string) string { return filepath.Join(dataDir, "queue") }

// Config configures a Queue.
type Config struct {
	// Dir holds the database and the message files (data_dir/queue)
	// when Database is "".
	Dir string
	// Database, when it is a postgres:// or postgresql:// URL, puts the
	// queue in that PostgreSQL database (schema "queue"), bodies and
	// all, shared by every node that opens it; Dir is then not used.
	// "" means SQLite in Dir.
	Database string
	// NodeID names this process in the leases it takes on messages
	// (see lease.go); it must be unique among the nodes running on one
	// database. "" means, on PostgreSQL, a name made of the host name,
	// the process id and a random part; on SQLite, "local" (one
	// scheduler per queue directory).
	NodeID string
	// Lease is how long a claim on a message lasts unless renewed
	// (DefaultLease when zero).
	Lease time.Duration
	// Hostname is our name in DSNs (Reporting-MTA, MAILER-DAEMON@).
	Hostname string
	// Lifetime is how long a message is retried before it bounces.
	Lifetime time.Duration
	// MaxConcurrent and MaxPerDomain bound deliveries in progress.
	MaxConcurrent int
	MaxPerDomain  int
	// PollInterval is how often the scheduler reads the database even
	// when nothing in this process woke it.
	PollInterval time.Duration
	// Backoff lists the waits after the 1st, 2nd, ... failed attempt;
	// the last repeats. Empty means DefaultBackoff.
	Backoff []time.Duration
	// Signer, when not nil, computes the DKIM-Signature fields put in
	// front of every message as it is queued (package dkim), so that
	// the signature covers what is stored and is made once, not per
	// attempt.
	Signer Signer
	// MailLog receives queued, delivered, deferred and bounced events.
	MailLog *maillog.Logger
	// Log receives debugging output.
	Log *slog.Logger
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Signer signs a message: it reads the whole message from r and returns
// the header fields to prepend. dkim.Signer is one; an error wrapping
// dkim.ErrNotSigned means the message is not to be signed.
type Signer interface {
	Sign(r io.Reader) ([]byte, error)
}

// Deliverer delivers one message to its recipients at one domain and
// returns a result per recipient, in order. remote.Client is one.
type Deliverer interface {
	Deliver(ctx context.Context, domain string, m remote.Message) []remote.Result
}

// State is where one recipient stands.
type State string

// The states.
const (
	Pending   State = "pending"   // waiting for an attempt
	Delivered State = "delivered" // accepted by the next hop
	Failed    State = "failed"    // failed for good (5xx or expiry)
)

// Message is a queued message as the admin commands see it.
type Message struct {
	ID         string
	From       string // envelope sender; "" is the null sender (a DSN)
	Created    time.Time
	Size       int64
	Recipients []Recipient
	path       string // the file holding the message (see OpenBody)
}

// Recipient is one recipient of a queued message.
type Recipient struct {
	Address     string
	Domain      string
	State       State
	Attempts    int
	NextAttempt time.Time // when pending
	LastAttempt time.Time // zero before the first attempt
	// The last reply: Code is 0 when no server answered, and Text then
	// says what went wrong.
	Code      int
	Status    string // RFC 3463 code
	Text      string
	RemoteMTA string
	// Notified means the sender has been sent a DSN for this failure.
	Notified bool
}

// Reply formats the last reply, "550 5.1.1 No such user".
func (r Recipient) Reply() string {
	return remote.Reply{Code: r.Code, Enhanced: r.Status, Text: r.Text}.String()
}

// Queue is an open queue: a directory with its SQLite database, or a
// PostgreSQL database.
type Queue struct {
	cfg    Config
	db     *sqldb.DB
	pg     bool   // bodies in the database, no files
	msgDir string // SQLite only
	wake   chan struct{}

	// The scheduler, once Start has run.
	mu        sync.Mutex
	started   bool
	stopRun   context.CancelFunc // ends the scheduling loop
	stopJobs  context.CancelFunc // cuts deliveries in progress
	jobCtx    context.Context
	runDone   chan struct{}
	jobs      sync.WaitGroup
	inflight  map[string]bool // message id + "\x00" + domain
	perDomain map[string]int
	held      map[string]*lease // the leases this node holds, by message id
	active    int
	stopRenew context.CancelFunc // ends lease renewal, after the last delivery
	renewDone chan struct{}
	finishMu  sync.Mutex // one DSN-and-removal pass at a time
	closeOnce sync.Once
}

// Open opens (creating if needed) the queue in cfg.Dir, or in the
// PostgreSQL database cfg.Database. It does not deliver anything until
// Start. A database whose schema is newer than this pail's is refused.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.MaxPerDomain <= 0 {
		cfg.MaxPerDomain = DefaultMaxPerDomain
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	q := &Queue{
		cfg:       cfg,
		wake:      make(chan struct{}, 1),
		inflight:  map[string]bool{},
		perDomain: map[string]int{},
		held:      map[string]*lease{},
	}
	if sqldb.IsURL(cfg.Database) {
		db, err := sqldb.Open(ctx, cfg.Database, sqldb.Options{Schema: pgSchema})
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		if err := migrate(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
		q.db, q.pg = db, true
		if q.cfg.NodeID == "" {
			q.cfg.NodeID = sqldb.NodeID()
		}
		return q, nil
	}
	if cfg.Database != "" {
		return nil, fmt.Errorf("queue: database %q is not a postgres:// URL (SQLite lives in the queue directory)", cfg.Database)
	}
	q.msgDir = filepath.Join(cfg.Dir, "msg")
	if err := safeio.CheckWritable(cfg.Dir, "msg", "queue.db", "queue.db-wal", "queue.db-shm"); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := safeio.MkdirAll(q.msgDir, 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	db, err := sqldb.Open(ctx, filepath.Join(cfg.Dir, "queue.db"), sqldb.Options{})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	q.db = db
	if q.cfg.NodeID == "" {
		q.cfg.NodeID = localNodeID
	}
	return q, nil
}

// Close stops the scheduler at once (deliveries in progress are cut off
// and retried later) and closes the database. Shutdown stops it gently.
func (q *Queue) Close() error {
	var err error
	q.closeOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		q.Shutdown(ctx)
		err = q.db.Close()
	})
	return err
}

// kick wakes the scheduler without blocking.
func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) now() time.Time { return q.cfg.Now() }

// backoff returns the wait after the n-th failed attempt (n >= 1).
func (q *Queue) backoff(n int) time.Duration {
	b := q.cfg.Backoff
	return b[min(max(n, 1), len(b))-1]
}
