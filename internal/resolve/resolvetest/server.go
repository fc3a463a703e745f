// Package resolvetest is a DNS server for tests: it listens on 127.0.0.1
// (UDP and TCP on one port), answers from a fixed set of records, and
// remembers what it was asked. It stands in for the Internet's name
// servers behind pail's resolver, never for the resolver itself.
package resolvetest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Server is a running test name server.
type Server struct {
	// Addr is its "127.0.0.1:port".
	Addr     string
	records  []dns.RR
	servfail map[string]bool
	// TruncateUDP answers every UDP query truncated, with no records.
	TruncateUDP atomic.Bool
	// Authenticated sets the AD bit on every answer, as a validating
	// resolver does for signed data.
	Authenticated atomic.Bool
	mu            sync.Mutex
	queries       []string
}

// Start serves records (master file syntax, one per string) until the
// test ends. A name with no records of any type is NXDOMAIN; one listed
// in servfail answers SERVFAIL.
func Start(t testing.TB, records []string, servfail ...string) *Server {
	t.Helper()
	d := &Server{servfail: map[string]bool{}}
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		d.records = append(d.records, rr)
	}
	for _, n := range servfail {
		d.servfail[strings.ToLower(dns.Fqdn(n))] = true
	}
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	d.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: ln, Handler: d}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return d
}

// ServeDNS answers one query.
func (d *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.AuthenticatedData = d.Authenticated.Load()
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	d.mu.Lock()
	d.queries = append(d.queries, name+" "+dns.TypeToString[q.Qtype])
	d.mu.Unlock()
	exists := false
	for _, rr := range d.records {
		if strings.EqualFold(rr.Header().Name, name) {
			exists = true
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if d.TruncateUDP.Load() && w.RemoteAddr().Network() == "udp" {
		m.Answer = nil
		m.Truncated = true
	}
	switch {
	case d.servfail[name]:
		m.Rcode = dns.RcodeServerFailure
		m.Answer = nil
	case !exists:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// Asked reports whether the server was asked q: the name in lower case
// with its final dot, a space, and the type ("hill.test. MX").
func (d *Server) Asked(q string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.queries {
		if x == q {
			return true
		}
	}
	return false
}

// Queries returns what the server was asked so far, in Asked's form.
func (d *Server) Queries() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.queries...)
}
