package webmail

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"),
	}}}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.7:4000", nil, "192.0.2.7"},
		// An untrusted peer cannot pick its address.
		{"192.0.2.7:4000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"127.0.0.1:4000", nil, "127.0.0.1"},
		{"127.0.0.1:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		// Read from the right: what the client wrote before its real
		// address is not believed, and trusted hops are skipped.
		{"127.0.0.1:4000", []string{"203.0.113.9, 198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"127.0.0.1:4000", []string{"203.0.113.9", "198.51.100.1,10.1.2.3"}, "198.51.100.1"},
		{"[::ffff:127.0.0.1]:4000", []string{"[::ffff:198.51.100.1]"}, "127.0.0.1"},
		{"127.0.0.1:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		// Garbage stops the walk at the last sound hop.
		{"127.0.0.1:4000", []string{"198.51.100.1, junk, 10.0.0.5"}, "10.0.0.5"},
		// All hops trusted: the first one is the client.
		{"127.0.0.1:4000", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientIP(r); got != netip.MustParseAddr(tc.want) {
			t.Errorf("peer %s, X-Forwarded-For %q: %v, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
	// Without trusted proxies the header is never read.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := (&Server{}).clientIP(r); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("no trusted proxies: %v", got)
	}
}
