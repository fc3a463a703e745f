// Package ratelimit limits how often one client (an IP address, or an
// IPv6 /64) may do something: a token bucket per client, refilled at a
// steady rate, with a bounded number of buckets so that a flood of
// addresses cannot exhaust memory, nor empty the table to reset a
// limited client; in a cluster, a Shared table counts the events of
// every node (AllowContext). It also holds what every per-client table in pail
// shares: which prefix is one client (ClientPrefix) and how a full table
// is cut back (Trim).
package ratelimit

import (
	"cmp"
	"net/netip"
	"sync"
	"time"
)

const (
	// maxKeys bounds the buckets kept at once, and apart from them the
	// dropped buckets remembered (some 100 bytes each); when full,
	// buckets that have refilled completely (and so carry no
	// information) are dropped first, then the fullest, until pruneTo
	// are left.
	maxKeys = 50000
	pruneTo = maxKeys * 9 / 10
	// ipv6Prefix groups IPv6 clients: one host usually has a whole /64
	// to rotate through (RFC 4291 §2.5.1 interface identifiers).
	ipv6Prefix = 64
)

// Limiter allows Rate events per Per for each key, in bursts of up to
// Burst. The zero Limiter (Rate 0) allows everything.
type Limiter struct {
	Rate  float64       // events per Per
	Per   time.Duration // the period of Rate
	Burst float64       // bucket size; 0 means Rate
	// LimitLoopback also limits loopback addresses, which are otherwise
	// exempt (they are the machine itself); for tests.
	LimitLoopback bool

	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
	// dropped holds the buckets prune dropped, until they would have
	// refilled: a client that comes back starts at its old level
	// (refilled since), so that being dropped is never a reset, while a
	// client never seen starts full.
	dropped map[netip.Prefix]*bucket
	// floor is the emptiest level, at floorAt, of the dropped buckets
	// that dropped itself had no room for (in a flood longer than a
	// refill); while it lasts, a bucket not found in dropped starts
	// there (refilled since), not full.
	floor   float64
	floorAt time.Time
	// Now returns the current time; tests replace it.
	Now func() time.Time
	// Shared, when set, also counts the events in a table the nodes of
	// a cluster share (see AllowContext); Allow ignores it.
	Shared *Shared
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one token for ip (an IPv6 address: its /64) and reports
// whether there was one. Loopback addresses are never limited: they are
// the machine itself.
func (l *Limiter) Allow(ip netip.Addr) bool {
	if l == nil || l.Rate <= 0 || (ip.IsLoopback() && !l.LimitLoopback) {
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
	perSecond := l.Rate / l.Per.Seconds()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[netip.Prefix]*bucket{}
	}
	key := Client(ip)
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxKeys {
			l.prune(now, burst, perSecond)
		}
		b = &bucket{tokens: burst, last: now}
		if old := l.dropped[key]; old != nil {
			delete(l.dropped, key)
			*b = *old
		} else if !l.floorAt.IsZero() {
			b.tokens = min(burst, l.floor+now.Sub(l.floorAt).Seconds()*perSecond)
		}
		l.buckets[key] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*perSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Client is the prefix that counts as one client in per-client limits:
// the address itself for IPv4, its /64 for IPv6, which one host can
// rotate through.
func Client(ip netip.Addr) netip.Prefix {
	return ClientPrefix(ip, 32, ipv6Prefix)
}

// prune drops full buckets, then the fullest ones, until pruneTo are
// left (the Space-Saving rule: the emptiest, which say the most, stay).
// The buckets dropped for their fullness go to l.dropped, where a
// returning client finds its level again. When l.dropped would pass
// maxKeys too (a flood longer than a refill), it forgets its full
// buckets, then its fullest, and the floor becomes the emptiest level it
// forgot: while that lasts, new buckets start there. So a limited client
// cannot reset its bucket by flooding the table from other addresses (if
// its own is dropped it comes back no fuller than it was), and a client
// never seen starts full unless a flood has outrun l.dropped.
func (l *Limiter) prune(now time.Time, burst, perSecond float64) {
	level := func(b *bucket) float64 { return b.tokens + now.Sub(b.last).Seconds()*perSecond }
	refilled := func(b *bucket) bool { return level(b) >= burst }
	fullestFirst := func(x, y *bucket) int { return cmp.Compare(level(y), level(x)) }
	if l.dropped == nil {
		l.dropped = map[netip.Prefix]*bucket{}
	}
	Trim(l.buckets, pruneTo, refilled, nil, fullestFirst, func(k netip.Prefix, b *bucket) { l.dropped[k] = b })
	if len(l.dropped) <= maxKeys {
		return
	}
	floor, forgot := burst, false
	Trim(l.dropped, pruneTo, refilled, nil, fullestFirst, func(_ netip.Prefix, b *bucket) {
		floor, forgot = min(floor, level(b)), true
	})
	if !forgot {
		return
	}
	if !l.floorAt.IsZero() {
		floor = min(floor, l.floor+now.Sub(l.floorAt).Seconds()*perSecond)
	}
	l.floor, l.floorAt = floor, now
}
