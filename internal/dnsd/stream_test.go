package dnsd

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/tlsconf"
)

// writeFramed writes msgs to c, each with its length (RFC 1035 §4.2.2),
// in one write: pipelined.
func writeFramed(t *testing.T, c net.Conn, msgs ...*dns.Msg) {
	t.Helper()
	if _, err := c.Write(framed(t, msgs...)); err != nil {
		t.Fatal(err)
	}
}

// framed packs msgs, each after its length.
func framed(t *testing.T, msgs ...*dns.Msg) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	return out
}

// readFramed reads one framed message from c.
func readFramed(t *testing.T, c net.Conn) (*dns.Msg, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var pfx [2]byte
	if _, err := io.ReadFull(c, pfx[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(pfx[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

func newQuery(id uint16, name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	return m
}

// TestTCPPipelinedOutOfOrder: queries pipelined on one connection are
// answered concurrently (RFC 7766 §6.2.1.1): while the first is held up,
// the second's answer comes first; both arrive, matched by ID.
func TestTCPPipelinedOutOfOrder(t *testing.T) {
	release := make(chan struct{})
	_, addr := startServer(t, testConfig(), func(s *Server) {
		s.streamHook = func(wire []byte) {
			if binary.BigEndian.Uint16(wire) == 1 {
				<-release
			}
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeFramed(t, c, newQuery(1, "www.example.test.", dns.TypeA), newQuery(2, "mail.example.test.", dns.TypeAAAA))
	first, err := readFramed(t, c)
	close(release)
	if err != nil {
		t.Fatalf("no answer while the first query is held: %v", err)
	}
	second, err := readFramed(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if first.Id != 2 || second.Id != 1 || len(first.Answer) != 1 || len(second.Answer) != 1 {
		t.Errorf("answers %d then %d, want 2 (not held) then 1", first.Id, second.Id)
	}
}

// TestTCPConnectionBounds: an idle connection is closed after the idle
// timeout; a connection is closed after maxTCPQueries answers, each
// query of it answered.
func TestTCPConnectionBounds(t *testing.T) {
	_, addr := startServer(t, testConfig(), func(s *Server) { s.idle = 200 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := readFramed(t, c); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("idle connection closed after %v, want about 200ms", d)
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	var msgs []*dns.Msg
	for i := range maxTCPQueries + 5 {
		msgs = append(msgs, newQuery(uint16(i), "www.example.test.", dns.TypeA))
	}
	wire := framed(t, msgs...)
	go c2.Write(wire)
	seen := map[uint16]bool{}
	for {
		m, err := readFramed(t, c2)
		if err != nil {
			break
		}
		seen[m.Id] = true
	}
	if len(seen) != maxTCPQueries {
		t.Errorf("%d answers on one connection, want %d then close", len(seen), maxTCPQueries)
	}
}

// TestTCPKeepalive: RFC 7828: over TCP a query's edns-tcp-keepalive
// option is answered with the idle timeout in units of 100 ms; over UDP
// it is ignored; a query's option that carries a timeout is FORMERR.
func TestTCPKeepalive(t *testing.T) {
	_, addr := startServer(t, testConfig())
	ka := func(timeout uint16) func(*dns.Msg) {
		return func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: timeout})
		}
	}
	keepalive := func(r *dns.Msg) *dns.EDNS0_TCP_KEEPALIVE {
		if o := r.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if k, ok := e.(*dns.EDNS0_TCP_KEEPALIVE); ok {
					return k
				}
			}
		}
		return nil
	}
	r := query(t, addr, "tcp", "www.example.test.", dns.TypeA, ka(0))
	if k := keepalive(r); k == nil || k.Timeout != uint16(tcpIdleTimeout/(100*time.Millisecond)) {
		t.Errorf("TCP keepalive answer %v, want timeout %d", k, tcpIdleTimeout/(100*time.Millisecond))
	}
	if r := query(t, addr, "udp", "www.example.test.", dns.TypeA, ka(0)); keepalive(r) != nil || r.Rcode != dns.RcodeSuccess {
		t.Errorf("UDP: %v, want the option ignored", r)
	}
	if r := query(t, addr, "tcp", "www.example.test.", dns.TypeA, ka(50)); r.Rcode != dns.RcodeFormatError {
		t.Errorf("query with a timeout: rcode %s, want FORMERR", dns.RcodeToString[r.Rcode])
	}
	if r := query(t, addr, "tcp", "www.example.test.", dns.TypeA, withEDNS(1232)); keepalive(r) != nil {
		t.Errorf("keepalive sent unasked: %v", r)
	}
}

// TestDNSOverTLS: RFC 7858: queries over TLS, with pail's certificate,
// pipelined on one connection, answered like over TCP.
func TestDNSOverTLS(t *testing.T) {
	cfg, err := tlsconf.Load("", "", t.TempDir(), []string{"ns1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTLS(tls.NewListener(raw, cfg))
	c, err := tls.Dial("tcp", raw.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeFramed(t, c, newQuery(7, "www.example.test.", dns.TypeA), newQuery(8, "example.test.", dns.TypeMX))
	got := map[uint16]*dns.Msg{}
	for range 2 {
		m, err := readFramed(t, c)
		if err != nil {
			t.Fatal(err)
		}
		got[m.Id] = m
	}
	if got[7] == nil || len(got[7].Answer) != 1 || got[8] == nil || len(got[8].Answer) != 1 || !got[8].Authoritative {
		t.Errorf("answers over TLS: %v", got)
	}
	// A second connection: miekg/dns's client over tcp-tls.
	cl := &dns.Client{Net: "tcp-tls", TLSConfig: &tls.Config{InsecureSkipVerify: true}, Timeout: 2 * time.Second}
	r, _, err := cl.Exchange(newQuery(9, "mail.example.test.", dns.TypeAAAA), raw.Addr().String())
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("tcp-tls client: %v %v", r, err)
	}
}
