package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"pail/internal/ratelimit"
	"pail/internal/sqldb"
	"pail/internal/store"
)

// Shared login limits: in a cluster the limiter's counts live in tables
// that every node shares, so that guesses spread over the nodes are
// limited as on one node, with the same rules (see limiter):
//
//   - auth_slots counts attempts per client address ("c PREFIX") and,
//     for an account under attack, per network at that account ("n
//     ACCOUNT NETWORK"): failures and attempts in progress alike. An
//     attempt takes a slot in one statement, an INSERT ... ON CONFLICT DO
//     UPDATE ... WHERE the count is below the limit (or old enough to
//     start again) RETURNING, which SQLite and PostgreSQL run atomically
//     per row, so that parallel attempts on any nodes never all pass. A
//     failure keeps its slot; a success, or an attempt whose check could
//     not run, gives it back. The count starts again failureWindow after
//     the last attempt that took a slot. An attempt cut short by a node's
//     death keeps its slot: one failure more, which expires.
//   - auth_accounts holds each account name's failures (an account with
//     FailuresPerAccount of them within failureWindow is under attack)
//     and its shared rate for strangers: one attempt per
//     minute/SuspectAttemptsPerMinute (next_try), taken the same way.
//   - auth_known holds each account's known places (client addresses
//     where it logged in within knownTTL), at most maxKnownPerAccount.
//
// Names are the normalized account names, addresses their client prefix.
// Times are Unix milliseconds of the nodes' clocks (a skew of seconds
// moves a 15-minute window by seconds). Each node deletes expired rows
// once a minute.
//
// The node's own limiter counts too, as on a single node (it learns the
// known places the shared table tells it of), so that it can decide while
// the database cannot answer. Then a login from one of the
// account's known places on this node goes ahead under the node's own
// limits, and any other is refused as a temporary failure (the error of
// a store failure, which the protocols answer "try again later"):
// failing closed for strangers keeps an attacker from guessing at every
// node's full rate while the database is away, and failing open for the
// places the owner uses keeps him in. (With the store in the same
// database, logins fail then anyway: the account cannot be read.)

// sharedPart names the shared tables' migrations (sqldb.MigratePart).
const sharedPart = "auth_limits"

// sharedMigrations are the same on SQLite and PostgreSQL.
var sharedMigrations = []string{`
CREATE TABLE auth_slots (
	slot TEXT PRIMARY KEY,
	n    INTEGER NOT NULL,
	last BIGINT NOT NULL
);
CREATE INDEX auth_slots_last ON auth_slots (last);
CREATE TABLE auth_accounts (
	account  TEXT PRIMARY KEY,
	failures INTEGER NOT NULL,
	last     BIGINT NOT NULL,
	next_try BIGINT NOT NULL
);
CREATE INDEX auth_accounts_last ON auth_accounts (last);
CREATE TABLE auth_known (
	account TEXT NOT NULL,
	client  TEXT NOT NULL,
	last    BIGINT NOT NULL,
	PRIMARY KEY (account, client)
);
CREATE INDEX auth_known_last ON auth_known (last);
`}

// Bounds of the shared limits' database work.
const (
	// sharedTimeout bounds the statements of one attempt's reservation
	// or its end: past it the database counts as unavailable.
	sharedTimeout = 2 * time.Second
	// sharedPruneEvery is how often a node deletes expired rows.
	sharedPruneEvery = time.Minute
)

// SharedLimitsConfig configures NewSharedLimits.
type SharedLimitsConfig struct {
	// Limits are the limits, as for NewWithLimits; every node should
	// have the same.
	Limits Limits
	// Log receives the database's failures; nil discards.
	Log *slog.Logger
}

// SharedLimits are the login limits of a cluster, counted in a database
// the nodes share. Give them to NewWithSharedLimits.
type SharedLimits struct {
	db  *sqldb.DB
	lim Limits
	log *slog.Logger
	// nextPrune is when (Unix ms) expired rows are next deleted.
	nextPrune atomic.Int64
}

// NewSharedLimits makes the shared tables in db if needed (those of a
// newer pail are refused: the error wraps sqldb.ErrNewerSchema).
func NewSharedLimits(ctx context.Context, db *sqldb.DB, cfg SharedLimitsConfig) (*SharedLimits, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := db.MigratePart(ctx, sharedPart, sharedMigrations); err != nil {
		return nil, fmt.Errorf("auth: shared limits: %w", err)
	}
	return &SharedLimits{db: db, lim: cfg.Limits.withDefaults(), log: cfg.Log}, nil
}

// NewWithSharedLimits returns an Authenticator over accounts whose failed
// logins are limited by shared, as well as by the node's own limiter with
// the same Limits.
func NewWithSharedLimits(accounts Accounts, shared *SharedLimits) *Authenticator {
	a := NewWithLimits(accounts, shared.lim)
	a.shared = shared
	return a
}

// sharedAttempt is one attempt's slots in the shared tables.
type sharedAttempt struct {
	client  string // its slot
	account string // "" for a username that cannot be an account
	network string // the network's slot it took, or ""
	known   bool
	// clientN is the client's count with this attempt.
	clientN int
}

// authenticateShared is Authenticate with shared limits; norm is the
// normalized account name.
func (a *Authenticator) authenticateShared(ctx context.Context, remote netip.Addr, norm, password string) (store.Account, error) {
	sh, ok, err := a.shared.reserve(ctx, remote, norm, a.now())
	switch {
	case err != nil:
		return a.authenticateAlone(ctx, remote, norm, password, err)
	case !ok:
		a.Sleep(ctx, maxDelay)
		return store.Account{}, ErrLimited
	}
	if sh.known {
		// A known place of the account on any node is one on this
		// node too, for the node's own limiter.
		a.limits.learn(remote, norm, a.now())
	}
	// The node's own limiter counts as well, so that it can decide
	// alone when the database is away; its counts are part of the
	// shared ones, so it refuses only at the edges of its windows.
	local, ok := a.limits.reserve(remote, norm, a.now())
	if !ok {
		a.shared.abandon(context.WithoutCancel(ctx), sh)
		a.Sleep(ctx, maxDelay)
		return store.Account{}, ErrLimited
	}
	acct, err := a.check(ctx, norm, password)
	if err != nil && !errors.Is(err, ErrFailed) {
		a.limits.abandon(local)
		a.shared.abandon(context.WithoutCancel(ctx), sh)
		return store.Account{}, err
	}
	failed := err != nil
	d := max(a.limits.finish(local, failed, a.now()), a.shared.finish(context.WithoutCancel(ctx), sh, failed, a.now()))
	if d > 0 {
		a.Sleep(ctx, d)
	}
	return acct, err
}

// authenticateAlone is Authenticate under the node's own limits while
// the shared ones cannot be reached (dberr): only for a known place of
// the account on this node; any other login fails with a temporary
// error.
func (a *Authenticator) authenticateAlone(ctx context.Context, remote netip.Addr, norm, password string, dberr error) (store.Account, error) {
	at, ok := a.limits.reserve(remote, norm, a.now())
	if !ok {
		a.Sleep(ctx, maxDelay)
		return store.Account{}, ErrLimited
	}
	if !at.known {
		a.limits.abandon(at)
		return store.Account{}, fmt.Errorf("auth: shared login limits unavailable: %w", dberr)
	}
	a.shared.log.Warn("auth: shared login limits unavailable; a known place logs in under the node's own", "err", dberr)
	acct, err := a.check(ctx, norm, password)
	if err != nil && !errors.Is(err, ErrFailed) {
		a.limits.abandon(at)
		return store.Account{}, err
	}
	if d := a.limits.finish(at, err != nil, a.now()); d > 0 {
		a.Sleep(ctx, d)
	}
	return acct, err
}

// reserve takes the shared slots of an attempt by remote for account (""
// for a username that cannot be an account). It reports false when the
// attempt is refused without a check, and an error when the database
// cannot answer (the slots it took are given back).
func (s *SharedLimits) reserve(ctx context.Context, remote netip.Addr, account string, now time.Time) (*sharedAttempt, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	s.prune(ctx, now)
	client := ratelimit.ClientPrefix(remote, s.lim.IPv4Prefix, s.lim.IPv6Prefix)
	at := &sharedAttempt{client: "c " + client.String(), account: account}
	n, ok, err := s.takeSlot(ctx, at.client, s.lim.FailuresPerAddress, now)
	if err != nil || !ok {
		return nil, false, err
	}
	at.clientN = n
	if account == "" {
		return at, true, nil
	}
	refuse := func(err error) (*sharedAttempt, bool, error) {
		s.abandon(context.WithoutCancel(ctx), at)
		return nil, false, err
	}
	cutoff := ms(now.Add(-failureWindow))
	var failures, knownAt sql.NullInt64
	err = s.db.QueryRowContext(ctx, "SELECT (SELECT failures FROM auth_accounts WHERE account = ? AND last >= ?), "+
		"(SELECT last FROM auth_known WHERE account = ? AND client = ? AND last >= ?)",
		account, cutoff, account, client.String(), ms(now.Add(-knownTTL))).Scan(&failures, &knownAt)
	if err != nil {
		return refuse(fmt.Errorf("auth: shared limits: %w", err))
	}
	at.known = knownAt.Valid
	if at.known || failures.Int64 < int64(s.lim.FailuresPerAccount) {
		return at, true, nil
	}
	// Under attack, from a stranger: its network's allowance, else the
	// account's shared rate.
	network := ratelimit.ClientPrefix(remote, s.lim.IPv4Prefix, min(s.lim.IPv6Prefix, networkIPv6Prefix))
	slot := "n " + account + " " + network.String()
	if _, ok, err := s.takeSlot(ctx, slot, networkAllowance, now); err != nil {
		return refuse(err)
	} else if ok {
		at.network = slot
		return at, true, nil
	}
	interval := time.Minute / time.Duration(s.lim.SuspectAttemptsPerMinute)
	var got string
	err = s.db.QueryRowContext(ctx, "INSERT INTO auth_accounts (account, failures, last, next_try) VALUES (?, 0, 0, ?) "+
		"ON CONFLICT (account) DO UPDATE SET next_try = excluded.next_try WHERE auth_accounts.next_try <= ? RETURNING account",
		account, ms(now.Add(interval)), ms(now)).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return refuse(nil)
	case err != nil:
		return refuse(fmt.Errorf("auth: shared limits: %w", err))
	}
	return at, true, nil
}

// takeSlot counts an attempt in slot unless limit attempts are counted
// there within failureWindow of the last. It returns the count with it.
func (s *SharedLimits) takeSlot(ctx context.Context, slot string, limit int, now time.Time) (int, bool, error) {
	cutoff := ms(now.Add(-failureWindow))
	var n int
	err := s.db.QueryRowContext(ctx, "INSERT INTO auth_slots (slot, n, last) VALUES (?, 1, ?) "+
		"ON CONFLICT (slot) DO UPDATE SET n = CASE WHEN auth_slots.last < ? THEN 1 ELSE auth_slots.n + 1 END, last = excluded.last "+
		"WHERE auth_slots.last < ? OR auth_slots.n < ? RETURNING n",
		slot, ms(now), cutoff, cutoff, limit).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("auth: shared limits: %w", err)
	}
	return n, true, nil
}

// giveBack returns a slot's attempt.
func (s *SharedLimits) giveBack(ctx context.Context, slot string) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE auth_slots SET n = n - 1 WHERE slot = ? AND n > 0", slot); err != nil {
		return fmt.Errorf("auth: shared limits: %w", err)
	}
	return nil
}

// abandon gives an attempt's slots back: its check said nothing about the
// password. A slot that cannot be given back stays a failure.
func (s *SharedLimits) abandon(ctx context.Context, at *sharedAttempt) {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	for _, slot := range []string{at.client, at.network} {
		if slot == "" {
			continue
		}
		if err := s.giveBack(ctx, slot); err != nil {
			s.log.Warn("auth: giving a shared slot back", "err", err)
		}
	}
}

// finish ends a reserved attempt as limiter.finish does, and returns how
// long to wait before answering a failure.
func (s *SharedLimits) finish(ctx context.Context, at *sharedAttempt, failed bool, now time.Time) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	if !failed {
		s.abandon(ctx, at)
		if at.account != "" {
			if err := s.remember(ctx, at, now); err != nil {
				s.log.Warn("auth: recording a known place", "err", err)
			}
		}
		return 0
	}
	if at.account == "" {
		return failureDelay(at.clientN)
	}
	cutoff := ms(now.Add(-failureWindow))
	var failures int
	err := s.db.QueryRowContext(ctx, "INSERT INTO auth_accounts (account, failures, last, next_try) VALUES (?, 1, ?, 0) "+
		"ON CONFLICT (account) DO UPDATE SET failures = CASE WHEN auth_accounts.last < ? THEN 1 ELSE auth_accounts.failures + 1 END, "+
		"last = excluded.last RETURNING failures",
		at.account, ms(now), cutoff).Scan(&failures)
	if err != nil {
		s.log.Warn("auth: counting a failure at an account", "err", err)
		return failureDelay(at.clientN)
	}
	switch {
	case at.known:
		return failureDelay(at.clientN)
	case failures >= s.lim.FailuresPerAccount:
		return maxDelay
	}
	return failureDelay(max(at.clientN, failures))
}

// remember makes the attempt's client address a known place of its
// account, as of now, keeping the account's newest maxKnownPerAccount.
func (s *SharedLimits) remember(ctx context.Context, at *sharedAttempt, now time.Time) error {
	client := at.client[len("c "):]
	if _, err := s.db.ExecContext(ctx, "INSERT INTO auth_known (account, client, last) VALUES (?, ?, ?) "+
		"ON CONFLICT (account, client) DO UPDATE SET last = excluded.last", at.account, client, ms(now)); err != nil {
		return fmt.Errorf("auth: shared limits: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM auth_known WHERE account = ? AND client NOT IN "+
		"(SELECT client FROM auth_known WHERE account = ? ORDER BY last DESC, client LIMIT ?)",
		at.account, at.account, maxKnownPerAccount); err != nil {
		return fmt.Errorf("auth: shared limits: %w", err)
	}
	return nil
}

// prune deletes the rows that say nothing any more, once a
// sharedPruneEvery on each node.
func (s *SharedLimits) prune(ctx context.Context, now time.Time) {
	next := s.nextPrune.Load()
	if ms(now) < next || !s.nextPrune.CompareAndSwap(next, ms(now.Add(sharedPruneEvery))) {
		return
	}
	cutoff := ms(now.Add(-failureWindow))
	for _, q := range []struct {
		query string
		args  []any
	}{
		{"DELETE FROM auth_slots WHERE last < ?", []any{cutoff}},
		{"DELETE FROM auth_accounts WHERE last < ? AND next_try < ?", []any{cutoff, ms(now)}},
		{"DELETE FROM auth_known WHERE last < ?", []any{ms(now.Add(-knownTTL))}},
	} {
		if _, err := s.db.ExecContext(ctx, q.query, q.args...); err != nil {
			s.log.Warn("auth: pruning the shared limits", "err", err)
			return
		}
	}
}

func ms(t time.Time) int64 { return t.UnixMilli() }
