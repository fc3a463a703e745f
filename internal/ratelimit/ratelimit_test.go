package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &Limiter{Rate: 60, Per: time.Minute, Burst: 3, Now: func() time.Time { return now }}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range 3 {
		if !l.Allow(a) {
			t.Fatalf("burst event %d refused", i)
		}
	}
	if l.Allow(a) {
		t.Error("over the burst allowed")
	}
	if !l.Allow(b) {
		t.Error("another address limited")
	}
	now = now.Add(time.Second) // one token back at 1/s
	if !l.Allow(a) || l.Allow(a) {
		t.Error("refill wrong")
	}
	for range 100 {
		if !l.Allow(netip.MustParseAddr("127.0.0.1")) {
			t.Fatal("loopback limited")
		}
	}
	var off Limiter
	if !off.Allow(a) {
		t.Error("zero limiter limits")
	}
}

// TestIPv6CountedPerPrefix: the addresses of one /64 share a bucket.
func TestIPv6CountedPerPrefix(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &Limiter{Rate: 2, Per: time.Minute, Now: func() time.Time { return now }}
	if !l.Allow(netip.MustParseAddr("2001:db8:1:2::1")) || !l.Allow(netip.MustParseAddr("2001:db8:1:2::2")) {
		t.Fatal("burst refused")
	}
	if l.Allow(netip.MustParseAddr("2001:db8:1:2:ffff:ffff:ffff:ffff")) {
		t.Error("a third address in the same /64 got a token")
	}
	if !l.Allow(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("the next /64 is limited")
	}
}

// TestFloodDoesNotResetALimitedClient fills the table from more addresses
// than it keeps while a limited client keeps trying: the table stays
// bounded, and the limited client stays limited (the fullest buckets go
// first, and the flood's are fuller than its own).
func TestFloodDoesNotResetALimitedClient(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &Limiter{Rate: 1, Per: time.Hour, Now: func() time.Time { return now }}
	attacker := netip.MustParseAddr("198.51.100.1")
	if !l.Allow(attacker) || l.Allow(attacker) {
		t.Fatal("bucket of one")
	}
	for i := range maxKeys + maxKeys/2 {
		now = now.Add(time.Millisecond)
		l.Allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if i%1000 == 0 && l.Allow(attacker) {
			t.Fatalf("limited client allowed after %d other addresses", i)
		}
	}
	if n := len(l.buckets); n > maxKeys {
		t.Errorf("%d buckets, bound %d", n, maxKeys)
	}
	if l.Allow(attacker) {
		t.Error("the flood reset the limited client")
	}
}

// BenchmarkAllow is the cost of one check, as SMTP pays it per MAIL and
// RCPT and every service per connection.
func BenchmarkAllow(b *testing.B) {
	l := &Limiter{Rate: 1e9, Per: time.Second}
	ips := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	for i := 0; b.Loop(); i++ {
		l.Allow(ips[i&1])
	}
}
