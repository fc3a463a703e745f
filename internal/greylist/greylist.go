// Package greylist defers mail from strangers once. The first time a
// (client network, envelope sender, recipient) triple is seen, the MX
// answers 451 4.7.1; a real mail server retries from its queue and, once
// the delay has passed, the retry is accepted and the triple remembered
// for weeks, so that correspondents are deferred only once. Spam engines
// that fire and forget never come back. The triples live in the store, so
// a restart forgets nobody.
package greylist

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"pail/internal/ratelimit"
	"pail/internal/store"
)

// Store keeps the triples durably (*store.Store).
type Store interface {
	GreylistTriple(ctx context.Context, triple string) (store.GreylistTriple, error)
	SaveGreylistTriple(ctx context.Context, triple string, t store.GreylistTriple) error
	ExpireGreylist(ctx context.Context, passedBefore, pendingBefore time.Time, max int) (int64, error)
}

// Bounds.
const (
	// retryWindow is how long after the delay a first retry is awaited;
	// a triple that has not retried by then starts again (Postgrey's
	// retry window, two days: servers retry for days, but within hours).
	retryWindow = 48 * time.Hour
	// touchEvery is how stale a passed triple's last-seen time may get
	// before a use writes it again: the expiry is counted in weeks, so a
	// write per day is enough, and mail between known correspondents
	// costs no store write.
	touchEvery = 24 * time.Hour
	// expireEvery is how often old triples are removed.
	expireEvery = time.Hour
	// maxTriples bounds the table (some 100 bytes a row); past it, the
	// triples that never passed go first, oldest first.
	maxTriples = 1_000_000
	// Network prefixes that are one client: a sender's outgoing servers
	// share a /24 (Postgrey's default), an IPv6 host rotates through its
	// /64 (RFC 4291 §2.5.1).
	ipv4Bits = 24
	ipv6Bits = 64
)

// Config configures a Greylist.
type Config struct {
	// Delay is how long a new triple must wait before a retry is taken.
	Delay time.Duration
	// Expire is how long a triple that passed is remembered after its
	// last use.
	Expire time.Duration
}

// Greylist decides whether a triple may pass. It is safe for concurrent
// use.
type Greylist struct {
	cfg Config
	st  Store
	// Now returns the current time; tests replace it.
	Now func() time.Time

	lastExpire atomic.Int64 // Unix nanoseconds
	deferred   atomic.Uint64
	passed     atomic.Uint64
}

// New returns a Greylist keeping its triples in st.
func New(cfg Config, st Store) *Greylist {
	return &Greylist{cfg: cfg, st: st}
}

// Stats counts decisions since the Greylist was made.
type Stats struct {
	Deferred uint64 // answers "not yet"
	Passed   uint64 // retries accepted after the delay (first passes only)
}

// Stats returns the counts.
func (g *Greylist) Stats() Stats {
	return Stats{Deferred: g.deferred.Load(), Passed: g.passed.Load()}
}

func (g *Greylist) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Triple returns the store key of the triple: the client's network, the
// envelope sender ("" for the null sender) and the recipient, addresses
// in lower case, separated by spaces.
func Triple(ip netip.Addr, from, rcpt string) string {
	return ratelimit.ClientPrefix(ip, ipv4Bits, ipv6Bits).String() + " " + strings.ToLower(from) + " " + strings.ToLower(rcpt)
}

// Check reports whether mail from ip with envelope sender from to rcpt
// may pass now, and records the contact. An error means the store could
// not say; the caller decides (pail lets the mail pass).
func (g *Greylist) Check(ctx context.Context, ip netip.Addr, from, rcpt string) (bool, error) {
	now := g.now()
	g.expire(ctx, now)
	key := Triple(ip, from, rcpt)
	t, err := g.st.GreylistTriple(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, g.start(ctx, key, now)
	case err != nil:
		return false, fmt.Errorf("greylist: %w", err)
	case t.Passed && now.Sub(t.Last) <= g.cfg.Expire:
		if now.Sub(t.Last) >= touchEvery {
			t.Last = now
			if err := g.st.SaveGreylistTriple(ctx, key, t); err != nil {
				return true, fmt.Errorf("greylist: %w", err)
			}
		}
		return true, nil
	case t.Passed, now.Sub(t.First) > g.cfg.Delay+retryWindow:
		// Forgotten: expired since its last use, or never retried in
		// time. It starts again.
		return false, g.start(ctx, key, now)
	case now.Sub(t.First) < g.cfg.Delay:
		g.deferred.Add(1)
		return false, nil
	}
	t.Passed, t.Last = true, now
	if err := g.st.SaveGreylistTriple(ctx, key, t); err != nil {
		return true, fmt.Errorf("greylist: %w", err)
	}
	g.passed.Add(1)
	return true, nil
}

// start records the first contact of a triple, which is deferred.
func (g *Greylist) start(ctx context.Context, key string, now time.Time) error {
	g.deferred.Add(1)
	if err := g.st.SaveGreylistTriple(ctx, key, store.GreylistTriple{First: now, Last: now}); err != nil {
		return fmt.Errorf("greylist: %w", err)
	}
	return nil
}

// expire removes old triples, once per expireEvery.
func (g *Greylist) expire(ctx context.Context, now time.Time) {
	last := g.lastExpire.Load()
	if now.UnixNano()-last < int64(expireEvery) || !g.lastExpire.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	// A failure is tried again at the next expiry; it costs only space.
	g.st.ExpireGreylist(ctx, now.Add(-g.cfg.Expire), now.Add(-g.cfg.Delay-retryWindow), maxTriples)
}
