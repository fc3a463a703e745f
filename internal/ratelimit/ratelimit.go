// Package ratelimit limits how often one client (an IP address, usually)
// may do something: a token bucket per key, refilled at a steady rate, with
// a bounded number of keys so that a flood of addresses cannot exhaust
// memory.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// maxKeys bounds the buckets kept at once; when full, buckets that have
// refilled completely (and so carry no information) are dropped first.
const maxKeys = 50000

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
	buckets map[netip.Addr]*bucket
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one token for ip and reports whether there was one.
// Loopback addresses are never limited: they are the machine itself.
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
		l.buckets = map[netip.Addr]*bucket{}
	}
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= maxKeys {
			l.prune(now, burst, perSecond)
		}
		b = &bucket{tokens: burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*perSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune drops full buckets, or all of them if none is full.
func (l *Limiter) prune(now time.Time, burst, perSecond float64) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*perSecond >= burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxKeys {
		clear(l.buckets)
	}
}
