package ratelimit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"pail/internal/sqldb"
)

// Shared counts: a Limiter whose Shared is set also counts each client's
// events in a table that the nodes of a cluster share, so that a client
// spreading its connections or commands over the nodes is limited as on
// one node. The table counts per client and window of Per·Burst/Rate (the
// time the bucket takes to refill); an event is allowed while the
// sliding-window estimate, the current window's count plus the previous
// window's weighted by how much of it still lies within one window of
// now, stays within Burst. That lets Burst events through at once and
// Rate per Per after, as the bucket does. The count is taken in one
// statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE below the limit
// RETURNING), atomic per row on SQLite and PostgreSQL, so that nodes
// counting at once never let more through; an event refused is not
// counted. Windows are stamped with the nodes' clocks: clocks that
// disagree by seconds shift windows by seconds, no more.

// DefaultSharedTimeout is SharedConfig.Timeout's default: a limit is
// checked on the path of every connection or command, so a database slow
// to answer is given up on soon, and the node's own bucket decides.
const DefaultSharedTimeout = 250 * time.Millisecond

// sharedPruneEvery is how often a Shared deletes its expired windows.
const sharedPruneEvery = time.Minute

// ratePart names the shared counters' migrations (sqldb.MigratePart).
const ratePart = "rate_windows"

// rateMigrations are the same on SQLite and PostgreSQL. Times are Unix
// milliseconds; win numbers the windows of the limit's length.
var rateMigrations = []string{`
CREATE TABLE rate_windows (
	name    TEXT NOT NULL,
	client  TEXT NOT NULL,
	win     BIGINT NOT NULL,
	n       INTEGER NOT NULL,
	expires BIGINT NOT NULL,
	PRIMARY KEY (name, client, win)
);
CREATE INDEX rate_windows_expires ON rate_windows (expires);
`}

// SharedConfig configures NewShared.
type SharedConfig struct {
	// Name names the limit in the shared table: the same on every node,
	// and different for each limit ("smtp-commands", "pop3-connections").
	Name string
	// Timeout bounds one check; 0 means DefaultSharedTimeout.
	Timeout time.Duration
	// Log receives the database's failures; nil discards.
	Log *slog.Logger
}

// Shared is one limit's counters in a database that a cluster's nodes
// share. Set it as a Limiter's Shared on every node and check with
// Limiter.AllowContext.
type Shared struct {
	db  *sqldb.DB
	cfg SharedConfig
	// nextPrune is when (Unix ms) expired windows are next deleted.
	nextPrune atomic.Int64
}

// NewShared makes the counters' table in db if needed (one of a newer
// pail is refused: the error wraps sqldb.ErrNewerSchema) and returns the
// counters of the limit cfg.Name.
func NewShared(ctx context.Context, db *sqldb.DB, cfg SharedConfig) (*Shared, error) {
	if cfg.Name == "" {
		return nil, errors.New("ratelimit: a shared limit needs a name")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSharedTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := db.MigratePart(ctx, ratePart, rateMigrations); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return &Shared{db: db, cfg: cfg}, nil
}

// AllowContext is Allow for a Limiter whose events may be counted in a
// Shared table: it takes a token from the node's own bucket first (so a
// client the node already refuses costs the database nothing), then
// counts the event in the shared table. While the database cannot answer
// (down, or slower than SharedConfig.Timeout), the node's own bucket
// decides alone: a limit against abuse should not refuse every client
// because a database is away. Without Shared it is Allow.
func (l *Limiter) AllowContext(ctx context.Context, ip netip.Addr) bool {
	if !l.Allow(ip) {
		return false
	}
	if l == nil || l.Shared == nil || l.Rate <= 0 || (ip.IsLoopback() && !l.LimitLoopback) {
		return true
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	burst := l.Burst
	if burst <= 0 {
		burst = l.Rate
	}
	ok, err := l.Shared.take(ctx, Client(ip), burst, time.Duration(float64(l.Per)*burst/l.Rate), now)
	if err != nil {
		l.Shared.cfg.Log.Warn("ratelimit: shared count failed; the node's own limit decides", "limit", l.Shared.cfg.Name, "err", err)
		return true
	}
	return ok
}

// take counts one event of client in the window of length window at now,
// if the sliding-window estimate stays within burst.
func (s *Shared) take(ctx context.Context, client netip.Prefix, burst float64, window time.Duration, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	w := max(window.Milliseconds(), 1)
	ms := now.UnixMilli()
	win := ms / w
	key := client.String()
	s.prune(ctx, ms)
	var prev int64
	err := s.db.QueryRowContext(ctx, "SELECT n FROM rate_windows WHERE name = ? AND client = ? AND win = ?", s.cfg.Name, key, win-1).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("ratelimit: %s: %w", s.cfg.Name, err)
	}
	// The part of the previous window still within one window of now.
	still := 1 - float64(ms%w)/float64(w)
	room := int64(math.Floor(burst - float64(prev)*still))
	if room < 1 {
		return false, nil
	}
	var n int64
	err = s.db.QueryRowContext(ctx, "INSERT INTO rate_windows (name, client, win, n, expires) VALUES (?, ?, ?, 1, ?) "+
		"ON CONFLICT (name, client, win) DO UPDATE SET n = rate_windows.n + 1 WHERE rate_windows.n < ? RETURNING n",
		s.cfg.Name, key, win, (win+2)*w, room).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil // the window is full
	case err != nil:
		return false, fmt.Errorf("ratelimit: %s: %w", s.cfg.Name, err)
	}
	return true, nil
}

// prune deletes the limit's windows that no check reads any more, once a
// sharedPruneEvery on each node.
func (s *Shared) prune(ctx context.Context, ms int64) {
	next := s.nextPrune.Load()
	if ms < next || !s.nextPrune.CompareAndSwap(next, ms+sharedPruneEvery.Milliseconds()) {
		return
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM rate_windows WHERE name = ? AND expires < ?", s.cfg.Name, ms); err != nil {
		s.cfg.Log.Warn("ratelimit: pruning shared windows", "limit", s.cfg.Name, "err", err)
	}
}
