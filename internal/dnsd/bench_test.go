package dnsd

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// benchQueries is bench/dns.sh's static mix against testdata's zone:
// every common type, a CNAME, NXDOMAIN and NODATA.
var benchQueries = []struct {
	name  string
	qtype uint16
}{
	{"www.example.test.", dns.TypeA},
	{"mail.example.test.", dns.TypeA},
	{"mail.example.test.", dns.TypeAAAA},
	{"example.test.", dns.TypeMX},
	{"example.test.", dns.TypeTXT},
	{"example.test.", dns.TypeSOA},
	{"example.test.", dns.TypeNS},
	{"alias.example.test.", dns.TypeA},
	{"_imap._tcp.example.test.", dns.TypeSRV},
	{"nope.example.test.", dns.TypeA},
	{"www.example.test.", dns.TypeMX},
}

// fakeWriter is a dns.ResponseWriter over UDP that keeps the last answer.
type fakeWriter struct {
	remote net.Addr
	out    []byte
}

func (w *fakeWriter) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *fakeWriter) RemoteAddr() net.Addr { return w.remote }
func (w *fakeWriter) Network() string      { return "udp" }
func (w *fakeWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	w.out = append(w.out[:0], b...)
	return err
}
func (w *fakeWriter) Write(b []byte) (int, error) {
	w.out = append(w.out[:0], b...)
	return len(b), nil
}
func (w *fakeWriter) Close() error        { return nil }
func (w *fakeWriter) TsigStatus() error   { return nil }
func (w *fakeWriter) TsigTimersOnly(bool) {}
func (w *fakeWriter) Hijack()             {}

// benchConfig is the test zones with a CDN pool, RRL off.
func benchConfig() config.DNS {
	cfg := testConfig()
	cfg.Pools = []config.DNSPool{{
		Name: "cdn.example.test", TTL: 30,
		Edges: []config.DNSEdge{
			{Address: "192.0.2.1", Location: "eu", Weight: 2},
			{Address: "192.0.2.2", Location: "eu", Weight: 1},
			{Address: "192.0.2.3", Location: "us"},
		},
	}}
	cfg.Locations = map[string]string{"10.1.0.0/16": "eu", "10.2.0.0/16": "us"}
	return cfg
}

// benchServe runs the handler on prepared queries, as miekg/dns would
// after unpacking them.
func benchServe(b *testing.B, cfg config.DNS, reqs []*dns.Msg) {
	s, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w := &fakeWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.ServeDNS(w, reqs[i%len(reqs)])
		if len(w.out) == 0 {
			b.Fatal("no answer")
		}
		i++
	}
}

func BenchmarkStatic(b *testing.B) {
	var reqs []*dns.Msg
	for _, q := range benchQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		reqs = append(reqs, m)
	}
	benchServe(b, testConfig(), reqs)
}

func BenchmarkStaticEDNS(b *testing.B) {
	var reqs []*dns.Msg
	for _, q := range benchQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		reqs = append(reqs, m)
	}
	benchServe(b, testConfig(), reqs)
}

func BenchmarkPolicy(b *testing.B) {
	m := new(dns.Msg)
	m.SetQuestion("cdn.example.test.", dns.TypeA)
	withECS("10.1.7.0/24")(m)
	benchServe(b, benchConfig(), []*dns.Msg{m})
}

// BenchmarkUDP is the whole path over loopback: client packs, server
// reads, answers and writes, client reads. Several clients keep the
// server busy, as dnsperf does.
func BenchmarkUDP(b *testing.B) { benchUDP(b, "127.0.0.1:0", "127.0.0.1") }

// BenchmarkUDPWildcard is BenchmarkUDP on a socket bound to 0.0.0.0, as
// deployments have it: each answer is sent from its query's
// destination.
func BenchmarkUDPWildcard(b *testing.B) { benchUDP(b, "0.0.0.0:0", "127.0.0.1") }

// benchUDP runs BenchmarkUDP on a server listening on listen, asked at
// host.
func benchUDP(b *testing.B, listen, host string) {
	s, err := New(testConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pc, _, err := Listen(listen)
	if err != nil {
		b.Fatal(err)
	}
	go s.ServeUDP(pc)
	addr := net.JoinHostPort(host, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
	var reqs [][]byte
	for _, q := range benchQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		buf, err := m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, buf)
	}
	// Wait for the server.
	c, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for {
		c.Write(reqs[0])
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(buf); err == nil {
			break
		}
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 1500)
		i := 0
		for pb.Next() {
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(reqs[i%len(reqs)]); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.Read(buf); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkStaticDO(b *testing.B) {
	var reqs []*dns.Msg
	for _, q := range benchQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, true)
		reqs = append(reqs, m)
	}
	benchServe(b, testConfig(), reqs)
}

// BenchmarkSignedDO is BenchmarkStaticDO on the zones signed: answers
// with their RRSIGs from the cache, and NSEC denials.
func BenchmarkSignedDO(b *testing.B) {
	var reqs []*dns.Msg
	for _, q := range benchQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, true)
		reqs = append(reqs, m)
	}
	cfg := testConfig()
	cfg.DNSSEC = true
	cfg.KeyDir = b.TempDir()
	benchServe(b, cfg, reqs)
}

// BenchmarkSignedPlain is BenchmarkStaticEDNS on the zones signed:
// queries without DO cost what they cost unsigned.
func BenchmarkSignedPlain(b *testing.B) {
	var reqs []*dns.Msg
	for _, q := range benchQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		reqs = append(reqs, m)
	}
	cfg := testConfig()
	cfg.DNSSEC = true
	cfg.KeyDir = b.TempDir()
	benchServe(b, cfg, reqs)
}

// benchWire answers queries as they come off a UDP socket (answerWire:
// what each UDP reader does between its read and its write), from one
// source address. The figure to watch is allocs/op: 0 for a prepared
// answer.
func benchWire(b *testing.B, cfg config.DNS, reqs []*dns.Msg) {
	s, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var wires [][]byte
	for _, m := range reqs {
		w, err := m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		wires = append(wires, w)
	}
	sc := newScratch()
	src := netip.MustParseAddr("127.0.0.1")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if out := s.answerWire(wires[i%len(wires)], src, true, sc); len(out) == 0 {
			b.Fatal("no answer")
		}
		i++
	}
}

// staticQueries is benchQueries as messages, with EDNS (size, DO) when
// size is not 0.
func staticQueries(size uint16, do bool) []*dns.Msg {
	var reqs []*dns.Msg
	for _, q := range benchQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if size != 0 {
			m.SetEdns0(size, do)
		}
		reqs = append(reqs, m)
	}
	return reqs
}

func BenchmarkWireStatic(b *testing.B) { benchWire(b, testConfig(), staticQueries(0, false)) }

func BenchmarkWireStaticEDNS(b *testing.B) {
	benchWire(b, testConfig(), staticQueries(1232, false))
}

// BenchmarkWirePolicy is the pool name asked with ECS from four client
// subnets in two locations.
func BenchmarkWirePolicy(b *testing.B) {
	var reqs []*dns.Msg
	for _, subnet := range []string{"10.1.7.0/24", "10.2.7.0/24", "10.1.8.0/24", "192.0.2.0/24"} {
		m := new(dns.Msg)
		m.SetQuestion("cdn.example.test.", dns.TypeA)
		withECS(subnet)(m)
		reqs = append(reqs, m)
	}
	benchWire(b, benchConfig(), reqs)
}

// BenchmarkWireSignedDO is the static mix with DO on the zones signed.
func BenchmarkWireSignedDO(b *testing.B) {
	cfg := testConfig()
	cfg.DNSSEC = true
	cfg.KeyDir = b.TempDir()
	benchWire(b, cfg, staticQueries(1232, true))
}

// BenchmarkWireSignedPolicy is BenchmarkWirePolicy with DO on the zones
// signed: each client's pool answer with its RRSIG.
func BenchmarkWireSignedPolicy(b *testing.B) {
	var reqs []*dns.Msg
	for _, subnet := range []string{"10.1.7.0/24", "10.2.7.0/24", "10.1.8.0/24", "192.0.2.0/24"} {
		m := new(dns.Msg)
		m.SetQuestion("cdn.example.test.", dns.TypeA)
		m.SetEdns0(1232, true)
		withECS(subnet)(m)
		reqs = append(reqs, m)
	}
	cfg := benchConfig()
	cfg.DNSSEC = true
	cfg.KeyDir = b.TempDir()
	benchWire(b, cfg, reqs)
}
