package dnsd

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// wireOf packs m for answerWire.
func wireOf(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	w, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// ask builds a query for name and qtype with ID id, changed by opts.
func ask(id uint16, name string, qtype uint16, opts ...func(*dns.Msg)) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	for _, o := range opts {
		o(m)
	}
	return m
}

// sameAnswer fails unless got (from the prepared-answer path) says what
// want (answered the long way, unpacked) says: the same header and
// sections, names compared without regard to case, and the question
// exactly as q asked it.
func sameAnswer(t *testing.T, what string, q *dns.Msg, got, want []byte) *dns.Msg {
	t.Helper()
	g, w := new(dns.Msg), new(dns.Msg)
	if err := g.Unpack(got); err != nil {
		t.Fatalf("%s: prepared answer does not unpack: %v", what, err)
	}
	if err := w.Unpack(want); err != nil {
		t.Fatalf("%s: answer does not unpack: %v", what, err)
	}
	if g.Id != q.Id {
		t.Errorf("%s: ID %d, query's %d", what, g.Id, q.Id)
	}
	if len(g.Question) != 1 || g.Question[0].Name != q.Question[0].Name {
		t.Errorf("%s: question %v, asked %q", what, g.Question, q.Question[0].Name)
	}
	if gs, ws := strings.ToLower(g.String()), strings.ToLower(w.String()); gs != ws {
		t.Errorf("%s: prepared answer\n%s\nwant\n%s", what, gs, ws)
	}
	return g
}

// preparedRun asks s each query in turn through one scratch, as one UDP
// reader would, and checks each answer against the long way's answer to
// it; it returns the answers.
type preparedRun struct {
	t  *testing.T
	s  *Server
	sc *scratch
}

func newPreparedRun(t *testing.T, cfg config.DNS) *preparedRun {
	t.Helper()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &preparedRun{t: t, s: s, sc: newScratch()}
}

// answer asks q from src over UDP, and checks that it was answered from
// a prepared answer when hit is set.
func (r *preparedRun) answer(what string, q *dns.Msg, src string, hit bool) *dns.Msg {
	r.t.Helper()
	wire := wireOf(r.t, q)
	a := netip.MustParseAddr(src)
	pq, ok := parseWireQuery(wire, true)
	if !ok {
		r.t.Fatalf("%s: not a query the cache answers", what)
	}
	if hit && r.s.answerPrepared(wire, &pq, a, r.sc, 0) == nil {
		r.t.Errorf("%s: no answer prepared", what)
	}
	got := bytes.Clone(r.s.answerWire(wire, a, true, r.sc))
	v := allow
	want := r.s.answerUnpacked(wire, a, true, newScratch(), &v)
	return sameAnswer(r.t, what, q, got, want)
}

func rd(on bool) func(*dns.Msg) { return func(m *dns.Msg) { m.RecursionDesired = on } }
func cd(m *dns.Msg)             { m.CheckingDisabled = true }

// TestPreparedPatchesIDAndCase: a prepared answer goes out with the
// query's ID, RD and CD bits and its name's case (a resolver's 0x20
// randomisation), never those of the query it was prepared for.
func TestPreparedPatchesIDAndCase(t *testing.T) {
	r := newPreparedRun(t, testConfig())
	r.answer("first", ask(1, "www.example.test.", dns.TypeA, rd(true)), "127.0.0.1", false)
	r.answer("first again", ask(1, "www.example.test.", dns.TypeA, rd(true)), "127.0.0.1", true)
	for i, name := range []string{"WwW.eXaMpLe.TeSt.", "WWW.EXAMPLE.TEST.", "www.Example.Test."} {
		q := ask(uint16(100+i), name, dns.TypeA, rd(i%2 == 0))
		if i == 2 {
			cd(q)
		}
		g := r.answer(name, q, "127.0.0.1", true)
		if g.RecursionDesired != q.RecursionDesired || g.CheckingDisabled != q.CheckingDisabled {
			t.Errorf("%s: RD %v CD %v, asked RD %v CD %v", name, g.RecursionDesired, g.CheckingDisabled, q.RecursionDesired, q.CheckingDisabled)
		}
		if addrs := addrs(g); len(addrs) != 1 || addrs[0] != "192.0.2.80" {
			t.Errorf("%s: answer %v", name, addrs)
		}
	}
	if n := len(r.sc.prep.m); n != 1 {
		t.Errorf("%d answers prepared for one question", n)
	}
}

// TestPreparedKeepsVariantsApart: queries that differ in what the answer
// depends on (type, EDNS or not, the DO bit, the UDP size, ECS) each get
// their own answer, asked in every order.
func TestPreparedKeepsVariantsApart(t *testing.T) {
	r := newPreparedRun(t, signedConfig(t))
	type variant struct {
		what string
		q    func(id uint16) *dns.Msg
	}
	variants := []variant{
		{"plain", func(id uint16) *dns.Msg { return ask(id, "www.example.test.", dns.TypeA) }},
		{"AAAA", func(id uint16) *dns.Msg { return ask(id, "www.example.test.", dns.TypeAAAA) }},
		{"EDNS", func(id uint16) *dns.Msg { return ask(id, "www.example.test.", dns.TypeA, withEDNS(1232)) }},
		{"DO", func(id uint16) *dns.Msg { return ask(id, "www.example.test.", dns.TypeA, withDO) }},
		{"ECS", func(id uint16) *dns.Msg {
			return ask(id, "www.example.test.", dns.TypeA, withECS("10.1.7.0/24"))
		}},
		{"ECS other", func(id uint16) *dns.Msg {
			return ask(id, "www.example.test.", dns.TypeA, withECS("10.9.7.0/24"))
		}},
		{"big plain (TC)", func(id uint16) *dns.Msg { return ask(id, "big.example.test.", dns.TypeTXT) }},
		{"big EDNS 1232", func(id uint16) *dns.Msg { return ask(id, "big.example.test.", dns.TypeTXT, withEDNS(1232)) }},
		{"big EDNS 600", func(id uint16) *dns.Msg { return ask(id, "big.example.test.", dns.TypeTXT, withEDNS(600)) }},
		{"big DO 1232", func(id uint16) *dns.Msg { return ask(id, "big.example.test.", dns.TypeTXT, withDO) }},
		{"nxdomain DO", func(id uint16) *dns.Msg { return ask(id, "nope.example.test.", dns.TypeA, withDO) }},
		{"nxdomain", func(id uint16) *dns.Msg { return ask(id, "nope.example.test.", dns.TypeA) }},
	}
	id := uint16(0)
	for round := range 3 {
		for i := range variants {
			// Each round in another order: every variant follows others.
			v := variants[(i*(round+1)+round)%len(variants)]
			id++
			r.answer(v.what, v.q(id), "127.0.0.1", round > 0)
		}
	}
	if n := len(r.sc.prep.m); n != len(variants) {
		t.Errorf("%d answers prepared for %d variants", n, len(variants))
	}
	big := r.answer("big plain", variants[6].q(999), "127.0.0.1", true)
	if !big.Truncated || len(big.Answer) >= 7 {
		t.Errorf("512-octet answer to big TXT: TC %v, %d records", big.Truncated, len(big.Answer))
	}
	if full := r.answer("big 1232", variants[7].q(998), "127.0.0.1", true); full.Truncated || len(full.Answer) != 7 {
		t.Errorf("1232-octet answer to big TXT: TC %v, %d records", full.Truncated, len(full.Answer))
	}
}

// TestPreparedPoolPerClient: a pool's prepared answers are per client,
// by ECS and by source address, and each client's is its own.
func TestPreparedPoolPerClient(t *testing.T) {
	r := newPreparedRun(t, benchConfig())
	eu := map[string]bool{"192.0.2.1": true, "192.0.2.2": true}
	for round := range 2 {
		hit := round > 0
		for i := range 4 {
			g := r.answer("eu by ECS", ask(uint16(i), "cdn.example.test.", dns.TypeA, withECS("10.1.7.0/24")), "127.0.0.1", hit)
			if a := addrs(g); len(a) != 1 || !eu[a[0]] {
				t.Errorf("eu client got %v", a)
			}
			g = r.answer("us by ECS", ask(uint16(i), "cdn.example.test.", dns.TypeA, withECS("10.2.7.0/24")), "127.0.0.1", hit)
			if a := addrs(g); len(a) != 1 || a[0] != "192.0.2.3" {
				t.Errorf("us client got %v", a)
			}
			if e := replyECS(g); e == nil || e.SourceScope != 16 {
				t.Errorf("us client's ECS scope %v, want 16", e)
			}
			g = r.answer("us by source", ask(uint16(i), "cdn.example.test.", dns.TypeA), "10.2.0.9", hit)
			if a := addrs(g); len(a) != 1 || a[0] != "192.0.2.3" {
				t.Errorf("us source got %v", a)
			}
			g = r.answer("eu by source", ask(uint16(i), "cdn.example.test.", dns.TypeA), "10.1.0.9", hit)
			if a := addrs(g); len(a) != 1 || !eu[a[0]] {
				t.Errorf("eu source got %v", a)
			}
		}
	}
	// Unknown clients are spread by /24 over all edges: each gets the
	// answer the long way gives it (checked in answer).
	for i := range 64 {
		src := netipFrom(i).String()
		r.answer("unknown "+src, ask(uint16(i), "cdn.example.test.", dns.TypeA), src, false)
		r.answer("unknown again "+src, ask(uint16(i), "cdn.example.test.", dns.TypeA), src, true)
	}
}

// TestPreparedReload: a reload's new data is answered at once, never a
// prepared answer from the zone before.
func TestPreparedReload(t *testing.T) {
	cfg := testConfig()
	cfg.Zones = []config.DNSZone{{Origin: "r.test", Records: []string{"www A 192.0.2.1"}}}
	r := newPreparedRun(t, cfg)
	q := func(id uint16) *dns.Msg { return ask(id, "www.r.test.", dns.TypeA) }
	r.answer("before", q(1), "127.0.0.1", false)
	if a := addrs(r.answer("before, prepared", q(2), "127.0.0.1", true)); len(a) != 1 || a[0] != "192.0.2.1" {
		t.Fatalf("before reload: %v", a)
	}
	cfg.Zones[0].Records = []string{"www A 192.0.2.2"}
	if err := r.s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if a := addrs(r.answer("after", q(uint16(3+i)), "127.0.0.1", i > 1)); len(a) != 1 || a[0] != "192.0.2.2" {
			t.Fatalf("after reload: %v", a)
		}
	}
}

// TestPreparedSignaturesRenewed: a signed answer is prepared only until
// its signatures are due to be made again; then it is signed anew.
func TestPreparedSignaturesRenewed(t *testing.T) {
	r := newPreparedRun(t, signedConfig(t))
	now := time.Now()
	r.s.now = func() time.Time { return now }
	inception := func(g *dns.Msg) uint32 {
		for _, rr := range g.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok {
				return sig.Inception
			}
		}
		t.Fatal("no RRSIG in the answer")
		return 0
	}
	q := func(id uint16) *dns.Msg {
		return ask(id, "cdn.example.test.", dns.TypeA, withDO, withECS("10.2.7.0/24"))
	}
	first := inception(r.answer("signed", q(1), "127.0.0.1", false))
	if got := inception(r.answer("signed, prepared", q(2), "127.0.0.1", true)); got != first {
		t.Fatalf("inception %d, then %d", first, got)
	}
	now = now.Add(sigRefresh + time.Minute)
	if got := inception(r.answer("signed, a day on", q(3), "127.0.0.1", false)); got != uint32(now.Add(-sigBackdate).Unix()) {
		t.Errorf("a day on, inception %d, want %d (made %d)", got, now.Add(-sigBackdate).Unix(), first)
	}
}

// TestPreparedOverUDP: over a real socket, resolvers' mixed-case names
// and fresh IDs come back as sent, from the prepared answers.
func TestPreparedOverUDP(t *testing.T) {
	_, addr := startServer(t, benchConfig())
	for i := range 20 {
		name := "www.example.test."
		if i%2 == 1 {
			name = "wWw.ExAmple.tEsT."
		}
		r := query(t, addr, "udp", name, dns.TypeA)
		if r.Question[0].Name != name {
			t.Errorf("question %q, asked %q", r.Question[0].Name, name)
		}
		if a := addrs(r); len(a) != 1 || a[0] != "192.0.2.80" {
			t.Errorf("answer %v", a)
		}
		r = query(t, addr, "udp", "cdn.example.test.", dns.TypeA, withECS("10.2.7.0/24"))
		if a := addrs(r); len(a) != 1 || a[0] != "192.0.2.3" {
			t.Errorf("pool answer %v", a)
		}
	}
}

// TestUDPBurst: queries sent faster than they are answered (read and
// answered in batches where the system has recvmmsg) are each answered
// once, to the socket that sent it, with its own ID and name. Each client
// keeps a window of queries in flight, small enough that the kernel's
// socket buffers drop none.
func TestUDPBurst(t *testing.T) {
	_, addr := startServer(t, benchConfig())
	const windows, window, clients = 20, 16, 4
	var conns []*net.UDPConn
	for range clients {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr))
	names := []string{"www.example.test.", "WWW.example.test.", "mail.example.test.", "cdn.example.test."}
	buf := make([]byte, 1500)
	for w := range windows {
		for ci, c := range conns {
			for i := range window {
				m := ask(uint16(ci*window+i+w), names[(i+w)%len(names)], dns.TypeA)
				if _, err := c.WriteToUDP(wireOf(t, m), to); err != nil {
					t.Fatal(err)
				}
			}
		}
		for ci, c := range conns {
			seen := map[uint16]bool{}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for len(seen) < window {
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("window %d, client %d: %d of %d answers: %v", w, ci, len(seen), window, err)
				}
				r := new(dns.Msg)
				if err := r.Unpack(buf[:n]); err != nil {
					t.Fatal(err)
				}
				i := int(r.Id) - ci*window - w
				if i < 0 || i >= window || seen[r.Id] {
					t.Fatalf("window %d, client %d: answer with ID %d", w, ci, r.Id)
				}
				seen[r.Id] = true
				if r.Question[0].Name != names[(i+w)%len(names)] || len(r.Answer) != 1 {
					t.Errorf("ID %d: question %q, %d answers", r.Id, r.Question[0].Name, len(r.Answer))
				}
			}
		}
	}
}

// FuzzPrepared: a query answered once (preparing its answer) and then
// asked again with another ID and its name in other case gets what the
// long way gives that second query: whatever a query holds, the
// prepared-answer key keeps apart what the answer depends on.
func FuzzPrepared(f *testing.F) {
	cfg := benchConfig()
	cfg.DNSSEC = true
	cfg.KeyDir = f.TempDir()
	s, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	seeds := []*dns.Msg{
		ask(1, "www.example.test.", dns.TypeA),
		ask(2, "www.example.test.", dns.TypeA, withEDNS(1232)),
		ask(3, "www.example.test.", dns.TypeA, withDO),
		ask(4, "big.example.test.", dns.TypeTXT, withEDNS(700)),
		ask(5, "cdn.example.test.", dns.TypeA, withECS("10.2.7.0/24")),
		ask(6, "cdn.example.test.", dns.TypeA, withDO, withECS("10.1.7.0/24")),
		ask(7, "nope.example.test.", dns.TypeA, withDO),
		ask(8, "x.wild.example.test.", dns.TypeTXT, cd),
		ask(9, "www.example.test.", dns.TypeA, withECS("2001:db8::/48")),
	}
	for i, m := range seeds {
		w, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w, uint16(1000+i), i%2 == 0)
	}
	sc := newScratch()
	src := netip.MustParseAddr("10.1.0.9")
	f.Fuzz(func(t *testing.T, wire []byte, id uint16, upper bool) {
		if len(wire) < headerSize {
			return
		}
		wire = bytes.Clone(wire)
		s.answerWire(wire, src, true, sc)
		q, ok := parseWireQuery(wire, true)
		if !ok {
			return
		}
		again := bytes.Clone(wire)
		binary.BigEndian.PutUint16(again, id)
		for i := headerSize; i < q.qnameEnd; i++ {
			if c := again[i]; upper && 'a' <= c && c <= 'z' {
				again[i] = c - 'a' + 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				again[i] = c - 'A' + 'a'
			}
		}
		got := bytes.Clone(s.answerWire(again, src, true, sc))
		// What the long way answers the query with its name lower-cased:
		// prepared or not, that is the answer, in the client's case.
		v := allow
		lsc := newScratch()
		want := s.answerUnpacked(lowerQuery(again, &q, lsc), src, true, lsc, &v)
		if (got == nil) != (want == nil) {
			t.Fatalf("prepared answer %x, long way %x", got, want)
		}
		if want == nil {
			return
		}
		g, w := new(dns.Msg), new(dns.Msg)
		if err := w.Unpack(want); err != nil {
			if len(got) != len(want) || !bytes.Equal(got[:headerSize], want[:headerSize]) || !bytes.Equal(got[q.qnameEnd:], want[q.qnameEnd:]) {
				t.Fatalf("prepared answer %x, long way %x", got, want)
			}
			return
		}
		if err := g.Unpack(got); err != nil {
			t.Fatalf("prepared answer %x does not unpack: %v", got, err)
		}
		if len(got) < q.qnameEnd || !bytes.Equal(got[headerSize:q.qnameEnd], again[headerSize:q.qnameEnd]) {
			t.Fatalf("question %x, asked %x", got[headerSize:], again[headerSize:q.qnameEnd])
		}
		if gs, ws := strings.ToLower(g.String()), strings.ToLower(w.String()); gs != ws {
			t.Fatalf("prepared answer\n%s\nlong way\n%s", gs, ws)
		}
	})
}
