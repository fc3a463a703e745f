package admit

import (
	"net"
	"net/netip"
	"testing"
)

func TestAdmitter(t *testing.T) {
	a := New(Limits{MaxConnections: 3, MaxConnectionsPerIP: 2})
	x, y := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	r1, _ := a.Admit(x)
	r2, _ := a.Admit(x)
	if _, why := a.Admit(x); why != TooMany {
		t.Errorf("third from one address: %q", why)
	}
	r3, why := a.Admit(y)
	if why != "" {
		t.Fatal(why)
	}
	if _, why := a.Admit(netip.MustParseAddr("192.0.2.3")); why != TooMany {
		t.Errorf("over the total: %q", why)
	}
	if !a.Stressed() || a.Open() != 3 {
		t.Errorf("open %d", a.Open())
	}
	r1()
	r1() // releasing twice is harmless
	if a.Open() != 2 {
		t.Errorf("open %d after release", a.Open())
	}
	if _, why := a.Admit(x); why != "" {
		t.Errorf("slot not given back: %q", why)
	}
	r2()
	r3()
}

// An IPv6 host has a /64 to rotate through: its addresses share one
// client's slots, while another /64 has its own.
func TestAdmitterIPv6Prefix(t *testing.T) {
	a := New(Limits{MaxConnectionsPerIP: 2})
	for _, s := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2"} {
		if _, why := a.Admit(netip.MustParseAddr(s)); why != "" {
			t.Fatalf("%s: %q", s, why)
		}
	}
	if _, why := a.Admit(netip.MustParseAddr("2001:db8:1:2:ffff::3")); why != TooMany {
		t.Errorf("third address of one /64: %q", why)
	}
	if _, why := a.Admit(netip.MustParseAddr("2001:db8:1:3::1")); why != "" {
		t.Errorf("another /64: %q", why)
	}
}

func TestRate(t *testing.T) {
	a := New(Limits{RatePerIP: 2, RateLimitLoopback: true})
	lo := netip.MustParseAddr("127.0.0.1")
	a.Admit(lo)
	a.Admit(lo)
	if _, why := a.Admit(lo); why != TooFast {
		t.Errorf("third in a minute: %q", why)
	}
}

func TestRemoteIP(t *testing.T) {
	ip := RemoteIP(&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 25})
	if ip != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("%v", ip)
	}
	if RemoteIP(&net.UnixAddr{}).IsValid() {
		t.Error("unix address has an IP")
	}
}
