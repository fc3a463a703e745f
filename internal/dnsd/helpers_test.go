package dnsd

import (
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// testConfig is a [dns] section with the test zones and RRL off.
func testConfig() config.DNS {
	return config.DNS{
		ZoneFiles:      []string{"testdata/example.test.zone", "testdata/2.0.192.in-addr.arpa.zone"},
		HealthInterval: config.Duration{Duration: 100 * time.Millisecond},
		HealthTimeout:  config.Duration{Duration: 500 * time.Millisecond},
		RateLimit:      config.DNSRateLimit{IPv4PrefixLen: 24, IPv6PrefixLen: 56},
	}
}

// startServer runs a Server for cfg on 127.0.0.1, UDP and TCP on one
// port, and returns it with that address.
func startServer(t *testing.T, cfg config.DNS, setup ...func(*Server)) (*Server, string) {
	t.Helper()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(s)
	}
	pc, ln := listenBoth(t)
	go s.ServeUDP(pc)
	go s.ServeTCP(ln)
	t.Cleanup(func() { s.Close() })
	addr := pc.LocalAddr().String()
	// Wait until both transports answer.
	for _, n := range []string{"udp", "tcp"} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := &dns.Client{Net: n, Timeout: 200 * time.Millisecond}
			m := new(dns.Msg)
			m.SetQuestion("example.test.", dns.TypeSOA)
			if _, _, err := c.Exchange(m, addr); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server not answering over %s", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return s, addr
}

// listenBoth opens a UDP socket and a TCP listener on the same free port.
func listenBoth(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no port free for both UDP and TCP")
	return nil, nil
}

// query sends one question over network n ("udp" or "tcp").
func query(t *testing.T, addr, n, name string, qtype uint16, opts ...func(*dns.Msg)) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	for _, o := range opts {
		o(m)
	}
	c := &dns.Client{Net: n, Timeout: 2 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], n, err)
	}
	if r.Id != m.Id {
		t.Fatalf("reply ID %d, query ID %d", r.Id, m.Id)
	}
	return r
}

// withEDNS adds an OPT record with the given UDP size.
func withEDNS(size uint16) func(*dns.Msg) {
	return func(m *dns.Msg) { m.SetEdns0(size, false) }
}

// withECS adds EDNS Client Subnet for prefix (RFC 7871).
func withECS(prefix string) func(*dns.Msg) {
	return func(m *dns.Msg) {
		_, n, err := net.ParseCIDR(prefix)
		if err != nil {
			panic(err)
		}
		bits, _ := n.Mask.Size()
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(bits), Address: n.IP}
		if n.IP.To4() != nil {
			e.Family, e.Address = 1, n.IP.To4()
		} else {
			e.Family = 2
		}
		o := m.IsEdns0()
		if o == nil {
			m.SetEdns0(1232, false)
			o = m.IsEdns0()
		}
		o.Option = append(o.Option, e)
	}
}

// replyECS returns the ECS option of a reply, or nil.
func replyECS(r *dns.Msg) *dns.EDNS0_SUBNET {
	o := r.IsEdns0()
	if o == nil {
		return nil
	}
	for _, opt := range o.Option {
		if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
			return e
		}
	}
	return nil
}

// addrs returns the addresses in a reply's A and AAAA answers.
func addrs(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}

// netipFrom makes the i-th distinct /24.
func netipFrom(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1})
}

func mathFloat64bits(f float64) uint64 { return math.Float64bits(f) }
