package greylist

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"pail/internal/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestGreylist: the first contact is deferred, a retry before the delay
// too, one after it passes and is remembered, across a restart of the
// store, until it has been unused for the expiry.
func TestGreylist(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	cfg := Config{Delay: 5 * time.Minute, Expire: 35 * 24 * time.Hour}
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	g := New(cfg, st)
	g.Now = clock
	ip := netip.MustParseAddr("192.0.2.10")
	check := func(g *Greylist, ip netip.Addr, from, rcpt string, want bool, what string) {
		t.Helper()
		ok, err := g.Check(ctx, ip, from, rcpt)
		if err != nil || ok != want {
			t.Fatalf("%s: pass %v (%v), want %v", what, ok, err, want)
		}
	}
	check(g, ip, "ann@far.test", "bob@hill.test", false, "first contact")
	now = now.Add(4 * time.Minute)
	check(g, ip, "ann@far.test", "bob@hill.test", false, "retry before the delay")
	// Another address of the same /24 is the same client; another sender
	// or recipient is another triple.
	now = now.Add(time.Minute)
	check(g, netip.MustParseAddr("192.0.2.200"), "Ann@FAR.test", "bob@hill.test", true, "retry after the delay, from the same /24")
	check(g, ip, "ann@far.test", "jill@hill.test", false, "another recipient")
	check(g, ip, "", "bob@hill.test", false, "the null sender")
	check(g, netip.MustParseAddr("192.0.3.10"), "ann@far.test", "bob@hill.test", false, "another /24")
	if s := g.Stats(); s.Passed != 1 || s.Deferred != 5 {
		t.Errorf("stats %+v, want 1 passed, 5 deferred", s)
	}

	// The store remembers across a restart.
	st.Close()
	st = openStore(t, dir)
	g = New(cfg, st)
	g.Now = clock
	now = now.Add(30 * 24 * time.Hour)
	check(g, ip, "ann@far.test", "bob@hill.test", true, "known triple after a restart")
	now = now.Add(30 * 24 * time.Hour)
	check(g, ip, "ann@far.test", "bob@hill.test", true, "used within the expiry again (its last use was written)")
	now = now.Add(cfg.Expire + time.Second)
	check(g, ip, "ann@far.test", "bob@hill.test", false, "unused past the expiry")

	// IPv6 clients are grouped by /64.
	v6 := netip.MustParseAddr("2001:db8:1:2::1")
	check(g, v6, "ann@far.test", "bob@hill.test", false, "IPv6 first contact")
	now = now.Add(cfg.Delay)
	check(g, netip.MustParseAddr("2001:db8:1:2:ffff::9"), "ann@far.test", "bob@hill.test", true, "IPv6 retry from the same /64")

	// A triple that never retries within the window starts again.
	check(g, ip, "late@far.test", "bob@hill.test", false, "first contact")
	now = now.Add(cfg.Delay + retryWindow + time.Second)
	check(g, ip, "late@far.test", "bob@hill.test", false, "retry after the window")
	now = now.Add(cfg.Delay)
	check(g, ip, "late@far.test", "bob@hill.test", true, "retry after the new delay")
}

// TestExpire: old triples are removed from the store as time passes.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	now := time.Unix(1_700_000_000, 0)
	g := New(Config{Delay: time.Minute, Expire: 24 * time.Hour}, st)
	g.Now = func() time.Time { return now }
	ip := netip.MustParseAddr("192.0.2.1")
	g.Check(ctx, ip, "a@far.test", "bob@hill.test")
	now = now.Add(retryWindow + 2*time.Minute)
	g.Check(ctx, ip, "b@far.test", "bob@hill.test")
	if _, err := st.GreylistTriple(ctx, Triple(ip, "a@far.test", "bob@hill.test")); err != store.ErrNotFound {
		t.Errorf("a triple that never retried is still stored (%v)", err)
	}
	if _, err := st.GreylistTriple(ctx, Triple(ip, "b@far.test", "bob@hill.test")); err != nil {
		t.Errorf("the new triple: %v", err)
	}
}
