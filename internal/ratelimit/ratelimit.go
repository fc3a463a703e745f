// Package ratelimit limits how often one client (an IP address, or an
// IPv6 /64) may do something: a token bucket per client, refilled at a
// steady rate, with a bounded number of buckets so that a flood of
// addresses cannot exhaust memory, nor empty the table to reset a
// limited client.
package ratelimit

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"
)

const (
	// maxKeys bounds the buckets kept at once; when full, buckets that
	// have refilled completely (and so carry no information) are dropped
	// first, then the fullest, until pruneTo are left.
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
	// floor is the fullest a bucket dropped by prune could have been at
	// floorAt; a bucket made afterwards starts there (refilled since),
	// not full, so that being dropped is never a reset.
	floor   float64
	floorAt time.Time
	// Now returns the current time; tests replace it.
	Now func() time.Time
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
	key := clientKey(ip)
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxKeys {
			l.prune(now, burst, perSecond)
		}
		b = &bucket{tokens: burst, last: now}
		if !l.floorAt.IsZero() {
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

// clientKey is the prefix that counts as one client.
func clientKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	if !ip.Is6() {
		return netip.PrefixFrom(ip, ip.BitLen()) // IPv4 whole; the zero Addr: one shared key
	}
	p, _ := ip.Prefix(ipv6Prefix)
	return p
}

// prune drops full buckets, then the fullest ones, until pruneTo are
// left, and sets the floor new buckets start from to the emptiest level
// dropped (the Space-Saving rule: a newcomer inherits the evicted count).
// A limited client cannot reset its bucket by flooding the table from
// other addresses: the flood's buckets start at the floor too, and if its
// own is dropped it comes back no fuller than it was.
func (l *Limiter) prune(now time.Time, burst, perSecond float64) {
	level := func(b *bucket) float64 { return b.tokens + now.Sub(b.last).Seconds()*perSecond }
	for k, b := range l.buckets {
		if level(b) >= burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) <= pruneTo {
		return
	}
	type entry struct {
		key   netip.Prefix
		level float64
	}
	es := make([]entry, 0, len(l.buckets))
	for k, b := range l.buckets {
		es = append(es, entry{k, level(b)})
	}
	slices.SortFunc(es, func(x, y entry) int { return cmp.Compare(y.level, x.level) })
	drop := es[:len(l.buckets)-pruneTo]
	for _, e := range drop {
		delete(l.buckets, e.key)
	}
	l.floor, l.floorAt = drop[len(drop)-1].level, now
}
