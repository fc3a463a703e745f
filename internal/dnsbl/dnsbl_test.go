package dnsbl

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"pail/internal/resolve"
	"pail/internal/resolve/resolvetest"
)

// The test lists. 127.0.0.2 is the entry every IPv4 list has for testing,
// and 127.0.0.1 the address none may list (RFC 5782 §5).
var testZone = []string{
	"2.0.0.127.bl.test. IN A 127.0.0.2",
	"2.0.0.127.bl.test. IN A 127.0.0.4",
	"2.0.0.127.bl.test. IN TXT \"Listed\\013\\010 by\" \"\\009bl.test, see https://bl.test/q?127.0.0.2\"",
	"2.0.0.127.other.test. IN A 127.0.0.10",
	"10.2.0.192.bl.test. IN A 192.0.2.1",
	"2.0.0.127.refuses.test. IN A 127.255.255.254",
	"3.0.0.127.refuses.test. IN A 127.255.255.7",
	"b.a.9.0.8.7.6.5.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.bl.test. IN A 127.0.0.2",
	"4.0.0.127.bl.test. IN MX 10 mx.bl.test.",
}

func newChecker(t *testing.T, srv string, timeout time.Duration, lists ...string) *Checker {
	t.Helper()
	return New(Config{Lists: lists, Timeout: timeout}, resolve.New(srv, timeout))
}

func TestCheck(t *testing.T) {
	dns := resolvetest.Start(t, testZone, "2.0.0.127.broken.test.")
	c := newChecker(t, dns.Addr, time.Second, "bl.test", "other.test", "refuses.test", "broken.test", "empty.test")
	ctx := context.Background()

	// Listed by two lists; one refuses the query (Spamhaus's "public
	// resolver" code), one fails (SERVFAIL), one has no entry.
	res := c.Check(ctx, netip.MustParseAddr("127.0.0.2"))
	if got := res.Lists(); !slices.Equal(got, []string{"bl.test", "other.test"}) {
		t.Fatalf("listed by %v, want bl.test and other.test (%+v)", got, res)
	}
	if l := res.Listed[0]; !slices.Equal(l.Codes, []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.4")}) ||
		l.Reason != "Listed by bl.test, see https://bl.test/q?127.0.0.2" {
		t.Errorf("bl.test listing %+v", l)
	}
	if res.Listed[1].Reason != "" {
		t.Errorf("other.test has no TXT, reason %q", res.Listed[1].Reason)
	}
	if !slices.Equal(res.Failed, []string{"refuses.test", "broken.test"}) {
		t.Errorf("failed %v, want refuses.test and broken.test", res.Failed)
	}
	if !dns.Asked("2.0.0.127.bl.test. TXT") || dns.Asked("2.0.0.127.empty.test. TXT") {
		t.Errorf("TXT must be asked of listing lists only: %v", dns.Queries())
	}

	// Not listed anywhere: NXDOMAIN from every list; an entry with no A
	// record is no listing; an error code outside the documented ones
	// still means "refused"; an answer outside 127/8 is no listing but a
	// failure of the list.
	for ip, failed := range map[string][]string{
		"127.0.0.1":  nil,
		"127.0.0.4":  nil,
		"127.0.0.3":  {"refuses.test"},
		"192.0.2.10": {"bl.test"},
	} {
		c := newChecker(t, dns.Addr, time.Second, "bl.test", "other.test", "refuses.test")
		res := c.Check(ctx, netip.MustParseAddr(ip))
		if len(res.Listed) != 0 || !slices.Equal(res.Failed, failed) {
			t.Errorf("%s: %+v, want not listed, failed %v", ip, res, failed)
		}
	}
	c2 := newChecker(t, dns.Addr, time.Second, "bl.test")

	// IPv6: the 32 nibbles reversed (RFC 5782 §2.4); an IPv4-mapped
	// address is asked as IPv4.
	if res := c.Check(ctx, netip.MustParseAddr("4321::1:2:3:4:5678:9ab")); !slices.Equal(res.Lists(), []string{"bl.test"}) {
		t.Errorf("IPv6 entry: %+v (asked %v)", res, dns.Queries())
	}
	if res := c2.Check(ctx, netip.MustParseAddr("::ffff:127.0.0.2")); !slices.Equal(res.Lists(), []string{"bl.test"}) {
		t.Errorf("IPv4-mapped: %+v", res)
	}

	st := c.Stats()
	if st[0] != (ListStats{List: "bl.test", Listed: 2}) || st[2].Failed != 1 || st[3].Failed != 1 || st[4] != (ListStats{List: "empty.test"}) {
		t.Errorf("stats %+v", st)
	}
}

// TestCache: an address is asked once while its answer is fresh, again
// after cacheTTL, and an answer with a failed list is kept only
// failedTTL.
func TestCache(t *testing.T) {
	dns := resolvetest.Start(t, testZone, "2.0.0.127.broken.test.")
	c := newChecker(t, dns.Addr, time.Second, "bl.test")
	now := time.Unix(1_000_000, 0)
	c.Now = func() time.Time { return now }
	ctx := context.Background()
	ip := netip.MustParseAddr("127.0.0.2")
	count := func() int {
		n := 0
		for _, q := range dns.Queries() {
			if q == "2.0.0.127.bl.test. A" {
				n++
			}
		}
		return n
	}
	for range 3 {
		if res := c.Check(ctx, ip); len(res.Listed) != 1 {
			t.Fatalf("not listed: %+v", res)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("asked %d times within the cache's lifetime, want once", n)
	}
	now = now.Add(cacheTTL + time.Second)
	c.Check(ctx, ip)
	if n := count(); n != 2 {
		t.Errorf("asked %d times after the cache expired, want twice", n)
	}

	b := newChecker(t, dns.Addr, time.Second, "broken.test")
	b.Now = c.Now
	b.Check(ctx, ip)
	now = now.Add(failedTTL / 2)
	b.Check(ctx, ip)
	now = now.Add(failedTTL)
	b.Check(ctx, ip)
	n := 0
	for _, q := range dns.Queries() {
		if strings.HasSuffix(q, "broken.test. A") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("failing list asked %d times over 1.5 failedTTL, want 2", n)
	}

	// The cache is bounded.
	for i := range maxCache + 10 {
		c.mu.Lock()
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		c.cache[a] = &entry{done: closed(), expires: now.Add(time.Duration(i))}
		c.mu.Unlock()
	}
	c.Check(ctx, netip.MustParseAddr("127.0.0.9"))
	if n := len(c.cache); n > maxCache {
		t.Errorf("cache holds %d addresses, bound %d", n, maxCache)
	}
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// TestTimeout: a name server that never answers makes every list fail
// within the timeout; the address is not listed.
func TestTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := newChecker(t, pc.LocalAddr().String(), 300*time.Millisecond, "bl.test", "other.test")
	start := time.Now()
	res := c.Check(context.Background(), netip.MustParseAddr("127.0.0.2"))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, timeout 300ms", d)
	}
	if len(res.Listed) != 0 || !slices.Equal(res.Failed, []string{"bl.test", "other.test"}) {
		t.Errorf("%+v, want not listed, both failed", res)
	}
	if st := c.Stats(); st[0].Failed != 1 || st[1].Failed != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestReverseAndClean(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.1":   "1.2.0.192",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
	} {
		if got := reverse(netip.MustParseAddr(ip)); got != want {
			t.Errorf("reverse(%s) = %s, want %s", ip, got, want)
		}
	}
	if got := clean(strings.Repeat("x ", 500)); len(got) > maxReason {
		t.Errorf("clean kept %d bytes, bound %d", len(got), maxReason)
	}
	if got := clean("  a\r\n554 b\x00c\xff "); got != "a 554 b c" {
		t.Errorf("clean = %q", got)
	}
}
