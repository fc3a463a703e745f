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
