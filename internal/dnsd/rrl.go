package dnsd

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Response-rate limiting bounds. A spoofed-source flood aims our answers
// at a victim; RRL caps what one prefix can receive, so pail is never a
// useful amplifier (the idea of BIND's RRL, without its per-answer
// accounting).
const (
	rrlShards = 16
	// maxBuckets bounds the memory a flood from many prefixes can take.
	maxBuckets = 1 << 16
)

// verdict is what RRL says about one response.
type verdict int

const (
	allow verdict = iota
	drop          // send nothing
	slip          // send an empty truncated answer: a real client retries over TCP
)

// limiter is a token bucket per client prefix.
type limiter struct {
	rate   float64 // tokens per second
	burst  float64 // bucket size
	slip   int
	v4bits int
	v6bits int
	seed   maphash.Seed
	shards [rrlShards]rrlShard
}

type rrlShard struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
}

type bucket struct {
	tokens  float64
	last    time.Time
	limited int // responses limited so far, for slip
}

// newLimiter returns a limiter, or nil when rate is 0 (RRL off).
func newLimiter(rate, slipEvery, v4bits, v6bits int) *limiter {
	if rate <= 0 {
		return nil
	}
	l := &limiter{rate: float64(rate), burst: float64(rate), slip: slipEvery, v4bits: v4bits, v6bits: v6bits, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[netip.Prefix]*bucket{}
	}
	return l
}

// check takes a token for a response to addr at now.
func (l *limiter) check(addr netip.Addr, now time.Time) verdict {
	addr = addr.Unmap()
	bits := l.v4bits
	if !addr.Is4() {
		bits = l.v6bits
	}
	pf, err := addr.Prefix(bits)
	if err != nil {
		return allow
	}
	sh := &l.shards[maphash.Comparable(l.seed, pf)%rrlShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.buckets[pf]
	if b == nil {
		if len(sh.buckets) >= maxBuckets/rrlShards {
			l.sweep(sh, now)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.buckets[pf] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return allow
	}
	b.limited++
	if l.slip > 0 && b.limited%l.slip == 0 {
		return slip
	}
	return drop
}

// sweep forgets buckets that have refilled (their prefixes are quiet);
// if none has, it forgets them all rather than grow.
func (l *limiter) sweep(sh *rrlShard, now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for p, b := range sh.buckets {
		if now.Sub(b.last) >= full {
			delete(sh.buckets, p)
		}
	}
	if len(sh.buckets) >= maxBuckets/rrlShards {
		clear(sh.buckets)
	}
}
