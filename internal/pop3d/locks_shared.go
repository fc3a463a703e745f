package pop3d

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"pail/internal/sqldb"
)

// Shared maildrop locks: each held lock is a lease, a row of pop3_locks
// (account_id, holder, expires) in a database the nodes share. holder
// names the node and the session (SharedLocksConfig.NodeID and a random
// token); expires is a time in Unix milliseconds of the database's own
// clock, so that the nodes' clocks, however far apart, never let two
// sessions hold one maildrop. A session takes the lease in one statement
// (INSERT ... ON CONFLICT DO UPDATE ... WHERE the row has expired
// RETURNING), which both SQLite and PostgreSQL run atomically per row:
// of two nodes taking one lease at once, one gets it. A node renews its
// leases every quarter of the lease, in one statement for many (each
// renewal given an eighth of the lease to answer), and gives
// one back (DELETE) when its session ends. A lease whose node died (crash,
// SIGKILL, lost network) expires and is then taken by the next login on
// any node.
//
// A node that cannot renew (the database is down, or out of its reach)
// gives its sessions up while their leases are still valid: when the
// next renewal might not have answered before the lease ends, the lock
// counts as lost, and the session is closed and removes nothing (see
// maildropLock.lost). One failed renewal is survived, two in a row are
// not.
// A renewal that finds the row taken by another holder is lost the same
// way. So a second session holds the maildrop only after the first gave
// it up, unless a node stalls (a frozen VM, a paused process) for longer
// than a third of the lease between a renewal's answer and its next step.

// DefaultLease is SharedLocksConfig.Lease's default: how long a node that
// died keeps its users' maildrops locked (a login on another node is
// answered [IN-USE] until then), against how often each node writes its
// renewals.
const DefaultLease = 30 * time.Second

// lockTimeout bounds taking a lease at login; past it the login is
// answered [SYS/TEMP]. (The lease counts from before the statement, so a
// slow answer shortens it, never lengthens it.)
const lockTimeout = 5 * time.Second

// releaseTimeout bounds giving a lease back; one that cannot be given
// back (database down) expires instead.
const releaseTimeout = 5 * time.Second

// renewBatch bounds the holders renewed by one statement (PostgreSQL
// takes at most 65 535 parameters, SQLite 32 766).
const renewBatch = 500

// locksPart names the shared lock table's migrations (sqldb.MigratePart).
const locksPart = "pop3_locks"

// locksMigrations are the same on SQLite and PostgreSQL.
var locksMigrations = []string{`
CREATE TABLE pop3_locks (
	account_id BIGINT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires    BIGINT NOT NULL
);
CREATE INDEX pop3_locks_holder ON pop3_locks (holder);
`}

// SharedLocksConfig configures NewSharedLocks.
type SharedLocksConfig struct {
	// NodeID names this node in the holders of its leases; "" makes one
	// of the host name, the process id and a random part. Two nodes must
	// never share one.
	NodeID string
	// Lease is how long a lease lasts unless renewed; 0 means
	// DefaultLease.
	Lease time.Duration
	// Log receives renewal failures and lost leases; nil discards.
	Log *slog.Logger
}

// SharedLocks is a maildrop lock table in a database that several nodes
// share (SQLite or PostgreSQL through sqldb), so that a POP3 session on one
// node locks the maildrop against sessions on all of them. Give it to
// each of the node's POP3 servers as Deps.Locks. Close it after they have
// shut down.
type SharedLocks struct {
	db    *sqldb.DB
	cfg   SharedLocksConfig
	now   string        // the dialect's SQL for the database's time in ms
	every time.Duration // between renewals: a quarter of the lease
	// wait bounds one renewal: an eighth of the lease.
	wait time.Duration

	mu     sync.Mutex
	held   map[string]*sharedHold // by holder
	closed bool

	cancel context.CancelFunc // stops the renewals
	done   chan struct{}      // closed when they have stopped
}

var _ Locker = (*SharedLocks)(nil)

// sharedHold is one session's lease as this node knows it.
type sharedHold struct {
	account int64
	// valid is the local time until which the lease is surely this
	// node's: the start of the statement that last took or renewed it,
	// plus the lease (the database's expires is that or later).
	valid time.Time
	lost  context.Context
	cut   context.CancelFunc
}

// NewSharedLocks makes the lock table in db if needed (a table of a newer
// pail is refused: the error wraps sqldb.ErrNewerSchema) and starts
// renewing the leases this node will hold. The caller keeps db open
// until Close.
func NewSharedLocks(ctx context.Context, db *sqldb.DB, cfg SharedLocksConfig) (*SharedLocks, error) {
	if cfg.NodeID == "" {
		cfg.NodeID = newNodeID()
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := db.MigratePart(ctx, locksPart, locksMigrations); err != nil {
		return nil, fmt.Errorf("pop3d: shared locks: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	l := &SharedLocks{
		db:     db,
		cfg:    cfg,
		now:    dbNowMS(db.Dialect()),
		every:  max(cfg.Lease/4, time.Millisecond),
		wait:   max(cfg.Lease/8, time.Millisecond),
		held:   map[string]*sharedHold{},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go l.renewLoop(rctx)
	return l, nil
}

// dbNowMS is the SQL for the database's current time in Unix
// milliseconds.
func dbNowMS(d sqldb.Dialect) string {
	if d == sqldb.Postgres {
		return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
	}
	return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
}

// newNodeID makes a name for this process unique among the nodes: host
// name, process id and a random part.
func newNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + randomHex(6)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (l *SharedLocks) tryLock(ctx context.Context, accountID int64) (maildropLock, error) {
	holder := l.cfg.NodeID + "/" + randomHex(8)
	ctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	start := time.Now()
	var got string
	err := l.db.QueryRowContext(ctx, "INSERT INTO pop3_locks (account_id, holder, expires) VALUES (?, ?, "+l.now+" + ?) "+
		"ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "+
		"WHERE pop3_locks.expires <= "+l.now+" RETURNING holder",
		accountID, holder, l.cfg.Lease.Milliseconds()).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return maildropLock{}, errLocked // a live lease of another session
	case err != nil:
		return maildropLock{}, fmt.Errorf("pop3d: taking the maildrop lease of account %d: %w", accountID, err)
	}
	lost, cut := context.WithCancel(context.Background())
	h := &sharedHold{account: accountID, valid: start.Add(l.cfg.Lease), lost: lost, cut: cut}
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.held[holder] = h
	}
	l.mu.Unlock()
	if closed {
		// Nothing would renew it.
		cut()
		l.giveBack(context.WithoutCancel(ctx), accountID, holder)
		return maildropLock{}, errors.New("pop3d: shared locks closed")
	}
	var once sync.Once
	return maildropLock{
		lost: lost,
		release: func(ctx context.Context) {
			once.Do(func() { l.release(ctx, holder, h) })
		},
	}, nil
}

// release gives holder's lease back.
func (l *SharedLocks) release(ctx context.Context, holder string, h *sharedHold) {
	l.mu.Lock()
	mine := l.held[holder] == h
	delete(l.held, holder)
	l.mu.Unlock()
	h.cut()
	if !mine {
		return // lost already: the row is someone else's, or will be
	}
	l.giveBack(ctx, h.account, holder)
}

// giveBack deletes holder's lease row.
func (l *SharedLocks) giveBack(ctx context.Context, accountID int64, holder string) {
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	if _, err := l.db.ExecContext(ctx, "DELETE FROM pop3_locks WHERE account_id = ? AND holder = ?", accountID, holder); err != nil {
		l.cfg.Log.Warn("pop3d: giving a maildrop lease back (it expires instead)", "account", accountID, "err", err)
	}
}

// Close stops the renewals and gives back the leases still held (their
// sessions are cut off). A lease it cannot give back expires.
func (l *SharedLocks) Close() error {
	l.cancel()
	<-l.done
	l.mu.Lock()
	held := l.held
	l.held = map[string]*sharedHold{}
	l.closed = true
	l.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	var holders []any
	for holder, h := range held {
		h.cut()
		holders = append(holders, holder)
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	for len(holders) > 0 {
		n := min(len(holders), renewBatch)
		if _, err := l.db.ExecContext(ctx, "DELETE FROM pop3_locks WHERE holder IN ("+placeholders(n)+")", holders[:n]...); err != nil {
			return fmt.Errorf("pop3d: giving maildrop leases back (they expire instead): %w", err)
		}
		holders = holders[n:]
	}
	return nil
}

// renewLoop renews the held leases every quarter of the lease until ctx
// ends.
func (l *SharedLocks) renewLoop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.renew(ctx)
		}
	}
}

// renew extends every held lease. One the database no longer gives this
// node (taken over after it expired) is lost; so is one that could not
// be renewed and might run out before the next try has answered.
func (l *SharedLocks) renew(ctx context.Context) {
	l.mu.Lock()
	holders := make([]string, 0, len(l.held))
	for holder := range l.held {
		holders = append(holders, holder)
	}
	l.mu.Unlock()
	for len(holders) > 0 {
		n := min(len(holders), renewBatch)
		l.renewBatch(ctx, holders[:n])
		holders = holders[n:]
	}
}

func (l *SharedLocks) renewBatch(ctx context.Context, holders []string) {
	start := time.Now()
	args := []any{l.cfg.Lease.Milliseconds()}
	for _, h := range holders {
		args = append(args, h)
	}
	kept := map[string]bool{}
	err := func() error {
		ctx, cancel := context.WithTimeout(ctx, l.wait)
		defer cancel()
		rows, err := l.db.QueryContext(ctx, "UPDATE pop3_locks SET expires = "+l.now+" + ? WHERE holder IN ("+
			placeholders(len(holders))+") RETURNING holder", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				return err
			}
			kept[h] = true
		}
		return rows.Err()
	}()
	if err != nil {
		if ctx.Err() != nil {
			return // Close: it gives the leases back itself
		}
		l.cfg.Log.Warn("pop3d: renewing maildrop leases", "n", len(holders), "err", err)
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, holder := range holders {
		h := l.held[holder]
		switch {
		case h == nil:
			continue // released meanwhile
		case err == nil && kept[holder]:
			h.valid = start.Add(l.cfg.Lease)
			continue
		case err != nil && now.Add(l.every+l.wait).Before(h.valid):
			continue // not renewed, but the next try answers in time
		}
		l.cfg.Log.Warn("pop3d: maildrop lease lost; cutting its session off", "account", h.account, "renewal_err", err)
		h.cut()
		delete(l.held, holder)
	}
}

// placeholders returns n ? separated by commas.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
