package ratelimit

import (
	"fmt"
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

// TestNewClientStartsFullAfterAFlood is review item 15: a flood of
// addresses that each empty their bucket fills the table; after the
// prune, a client never seen before gets its whole burst at once, while
// the flood's addresses, dropped or not, stay empty.
func TestNewClientStartsFullAfterAFlood(t *testing.T) {
	now := time.Unix(1000, 0)
	const burst = 10
	l := &Limiter{Rate: burst, Per: time.Hour, Now: func() time.Time { return now }}
	flood := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range maxKeys + 1 {
		for range burst {
			l.Allow(flood(i))
		}
	}
	if len(l.buckets) > maxKeys {
		t.Fatalf("%d buckets, bound %d", len(l.buckets), maxKeys)
	}
	newcomer := netip.MustParseAddr("192.0.2.1")
	for i := range burst {
		if !l.Allow(newcomer) {
			t.Fatalf("a new client after the flood got %d of its burst of %d", i, burst)
		}
	}
	for i := range 200 {
		if l.Allow(flood(i)) {
			t.Fatalf("flood address %d reset by the prune", i)
		}
	}
}

// TestTrim: stale entries go first, then the first by order, never the
// pinned ones, and each entry dropped by order is reported.
func TestTrim(t *testing.T) {
	m := map[int]int{}
	for i := range 20 {
		m[i] = i
	}
	var dropped []int
	Trim(m, 10, func(v int) bool { return v%5 == 0 }, func(v int) bool { return v < 3 },
		func(a, b int) int { return b - a }, func(k, _ int) { dropped = append(dropped, k) })
	// 5, 10, 15 stale (0 pinned), then 19..14 less 15 by order.
	if len(m) != 10 || fmt.Sprint(dropped) != "[19 18 17 16 14 13 12]" {
		t.Errorf("left %v, dropped %v", m, dropped)
	}
	for i := range 3 {
		if _, ok := m[i]; !ok {
			t.Errorf("pinned %d dropped", i)
		}
	}
}

// TestClientPrefix: IPv4 (mapped or not) by ipv4Bits, IPv6 by ipv6Bits.
func TestClientPrefix(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"192.0.2.7", "192.0.2.0/24"},
		{"::ffff:192.0.2.7", "192.0.2.0/24"},
		{"2001:db8:1:2:3::4", "2001:db8:1::/48"},
	} {
		if got := ClientPrefix(netip.MustParseAddr(c.ip), 24, 48); got.String() != c.want {
			t.Errorf("%s: %s, want %s", c.ip, got, c.want)
		}
	}
	if got := ClientPrefix(netip.Addr{}, 32, 64); got != (netip.Prefix{}) {
		t.Errorf("zero Addr: %v", got)
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
