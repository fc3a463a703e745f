//go:build interop

package interop

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// testDNS is the test's own name server: miekg/dns on 127.0.0.1, UDP and
// TCP on the same port, answering from a fixed set of records. A name with
// no records at all is NXDOMAIN.
type testDNS struct {
	addr    string
	records []dns.RR
	mu      sync.Mutex
	queries []string
}

// startDNS serves records given in master-file syntax, one per string.
func startDNS(t *testing.T, records ...string) *testDNS {
	t.Helper()
	d := &testDNS{}
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("DNS record %q: %v", r, err)
		}
		d.records = append(d.records, rr)
	}
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	d.addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: ln, Handler: d}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
		if t.Failed() {
			t.Logf("DNS queries: %s", strings.Join(d.asked(), ", "))
		}
	})
	return d
}

// ServeDNS answers one query from the record set.
func (d *testDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	d.mu.Lock()
	d.queries = append(d.queries, strings.ToLower(q.Name)+" "+dns.TypeToString[q.Qtype])
	d.mu.Unlock()
	exists := false
	for _, rr := range d.records {
		if strings.EqualFold(rr.Header().Name, q.Name) {
			exists = true
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// asked returns the queries seen, as "name. TYPE".
func (d *testDNS) asked() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.queries...)
}
