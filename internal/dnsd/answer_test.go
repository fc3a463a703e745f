package dnsd

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAnswers covers every record type, negative answers, CNAMEs,
// wildcards, delegations and foreign zones, over UDP and TCP.
func TestAnswers(t *testing.T) {
	_, addr := startServer(t, testConfig())
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		aa    bool
		// answer is the answer section, one "TYPE rdata" per record,
		// owner names left out; "" checks it is empty.
		answer string
		// soa: the authority section is the zone's SOA with this TTL.
		soaTTL uint32
		// ns: the authority section holds NS records (a referral), and
		// extra is the additional section's addresses.
		ns    string
		extra string
	}{
		{"example.test", dns.TypeSOA, 0, true, "SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 60", 0, "", ""},
		{"example.test", dns.TypeNS, 0, true, "NS ns1.example.test.", 0, "", "127.0.0.1"},
		{"example.test", dns.TypeMX, 0, true, "MX 10 mail.example.test.", 0, "", "192.0.2.25 2001:db8::25"},
		{"example.test", dns.TypeTXT, 0, true, `TXT "v=spf1 ip4:127.0.0.1 -all"`, 0, "", ""},
		{"example.test", dns.TypeCAA, 0, true, `CAA 0 issue "letsencrypt.org"`, 0, "", ""},
		{"MAIL.example.test", dns.TypeA, 0, true, "A 192.0.2.25", 0, "", ""},
		{"mail.example.test", dns.TypeAAAA, 0, true, "AAAA 2001:db8::25", 0, "", ""},
		{"_imap._tcp.example.test", dns.TypeSRV, 0, true, "SRV 0 1 143 mail.example.test.", 0, "", "192.0.2.25 2001:db8::25"},
		{"25.2.0.192.in-addr.arpa", dns.TypePTR, 0, true, "PTR mail.example.test.", 0, "", ""},
		// CNAME chased inside the zone.
		{"alias.example.test", dns.TypeA, 0, true, "CNAME www.example.test. | A 192.0.2.80", 0, "", ""},
		{"chain.example.test", dns.TypeA, 0, true, "CNAME alias.example.test. | CNAME www.example.test. | A 192.0.2.80", 0, "", ""},
		{"alias.example.test", dns.TypeCNAME, 0, true, "CNAME www.example.test.", 0, "", ""},
		{"outside.example.test", dns.TypeA, 0, true, "CNAME www.elsewhere.invalid.", 0, "", ""},
		// NXDOMAIN and NODATA carry the SOA with TTL min(300, 60).
		{"nope.example.test", dns.TypeA, dns.RcodeNameError, true, "", 60, "", ""},
		{"www.example.test", dns.TypeMX, 0, true, "", 60, "", ""},
		{"ent.example.test", dns.TypeA, 0, true, "", 60, "", ""}, // empty non-terminal: NODATA
		{"1.2.0.192.in-addr.arpa", dns.TypePTR, dns.RcodeNameError, true, "", 120, "", ""},
		// Wildcards (RFC 4592).
		{"x.wild.example.test", dns.TypeA, 0, true, "A 192.0.2.99", 0, "", ""},
		{"a.b.wild.example.test", dns.TypeTXT, 0, true, `TXT "wildcard"`, 0, "", ""},
		{"x.wild.example.test", dns.TypeMX, 0, true, "", 60, "", ""},
		// Delegation: a referral, not authoritative, with glue.
		{"host.sub.example.test", dns.TypeA, 0, false, "", 0, "NS ns.sub.example.test.", "192.0.2.53"},
		{"sub.example.test", dns.TypeNS, 0, false, "", 0, "NS ns.sub.example.test.", "192.0.2.53"},
		// Not ours.
		{"example.org", dns.TypeA, dns.RcodeRefused, false, "", 0, "", ""},
		{"test", dns.TypeSOA, dns.RcodeRefused, false, "", 0, "", ""},
	}
	for _, n := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			r := query(t, addr, n, tc.name, tc.qtype, withEDNS(1232))
			id := n + " " + tc.name + " " + dns.TypeToString[tc.qtype]
			if r.Rcode != tc.rcode {
				t.Errorf("%s: rcode %s, want %s", id, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if r.Authoritative != tc.aa {
				t.Errorf("%s: AA %v, want %v", id, r.Authoritative, tc.aa)
			}
			if r.RecursionAvailable {
				t.Errorf("%s: RA set", id)
			}
			if got := rdata(r.Answer); got != tc.answer {
				t.Errorf("%s: answer %q, want %q", id, got, tc.answer)
			}
			switch {
			case tc.soaTTL != 0:
				if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA || r.Ns[0].Header().Ttl != tc.soaTTL {
					t.Errorf("%s: authority %v, want the SOA with TTL %d", id, r.Ns, tc.soaTTL)
				}
			case tc.ns != "":
				if got := rdata(r.Ns); got != tc.ns {
					t.Errorf("%s: authority %q, want %q", id, got, tc.ns)
				}
			default:
				if len(r.Ns) != 0 {
					t.Errorf("%s: authority %v, want none", id, r.Ns)
				}
			}
			var extra []string
			for _, rr := range r.Extra {
				switch v := rr.(type) {
				case *dns.A:
					extra = append(extra, v.A.String())
				case *dns.AAAA:
					extra = append(extra, v.AAAA.String())
				}
			}
			if got := strings.Join(extra, " "); got != tc.extra {
				t.Errorf("%s: additional %q, want %q", id, got, tc.extra)
			}
			if r.IsEdns0() == nil {
				t.Errorf("%s: no OPT in the answer to an EDNS query", id)
			}
		}
	}
}

// rdata renders records as "TYPE rdata | ...".
func rdata(rrs []dns.RR) string {
	var parts []string
	for _, rr := range rrs {
		f := strings.Fields(rr.String())
		// owner TTL class TYPE rdata...
		parts = append(parts, strings.Join(f[3:], " "))
	}
	return strings.Join(parts, " | ")
}

// TestCNAMELoop: over UDP and TCP, a loop in the data (loop1→loop2→loop1,
// self→self) is answered NOERROR with each CNAME of the loop once, and a
// chain longer than maxChase (long1→…→long10→www) with its first maxChase
// links; one within the bound is followed to its address.
func TestCNAMELoop(t *testing.T) {
	_, addr := startServer(t, testConfig())
	tests := []struct {
		name string
		want string
	}{
		{"loop1.example.test", "loop1 CNAME loop2. | loop2 CNAME loop1."},
		{"loop2.example.test", "loop2 CNAME loop1. | loop1 CNAME loop2."},
		{"self.example.test", "self CNAME self."},
		{"long1.example.test", "long1 CNAME long2. | long2 CNAME long3. | long3 CNAME long4. | long4 CNAME long5. | " +
			"long5 CNAME long6. | long6 CNAME long7. | long7 CNAME long8. | long8 CNAME long9."},
		{"long4.example.test", "long4 CNAME long5. | long5 CNAME long6. | long6 CNAME long7. | long7 CNAME long8. | " +
			"long8 CNAME long9. | long9 CNAME long10. | long10 CNAME www. | www A 192.0.2.80"},
	}
	for _, n := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			r := query(t, addr, n, tc.name, dns.TypeA)
			var parts []string
			for _, rr := range r.Answer {
				f := strings.Fields(rr.String())
				owner := strings.TrimSuffix(f[0], ".example.test.")
				parts = append(parts, owner+" "+strings.Join(f[3:], " "))
			}
			got := strings.ReplaceAll(strings.Join(parts, " | "), ".example.test.", ".")
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || got != tc.want {
				t.Errorf("%s %s: rcode %s aa %v, answer %q, want NOERROR aa %q",
					n, tc.name, dns.RcodeToString[r.Rcode], r.Authoritative, got, tc.want)
			}
		}
	}
}

// TestANY: RFC 8482 minimal answer.
func TestANY(t *testing.T) {
	_, addr := startServer(t, testConfig())
	r := query(t, addr, "udp", "example.test", dns.TypeANY)
	if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeHINFO {
		t.Errorf("ANY: %v", r.Answer)
	}
}

// TestMalformed: no question, an unknown opcode, a non-IN class, an EDNS
// version we do not speak.
func TestMalformed(t *testing.T) {
	_, addr := startServer(t, testConfig())
	c := &dns.Client{Timeout: 2 * time.Second}

	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeA)
	m.Question[0].Qclass = dns.ClassCHAOS
	if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS: %v %v", r, err)
	}

	m = new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeBadVers {
		t.Errorf("EDNS version 1: %v %v", r, err)
	}

	m = new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeA)
	m.Opcode = dns.OpcodeUpdate
	m.AuthenticatedData, m.RecursionDesired = true, true
	if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeNotImplemented && r.Rcode != dns.RcodeRefused {
		t.Errorf("UPDATE: %v %v", r, err)
	} else if r.AuthenticatedData || !r.RecursionDesired || r.Authoritative {
		t.Errorf("UPDATE answer's flags: %v", r.MsgHdr)
	}
	tcp := &dns.Client{Net: "tcp", Timeout: c.Timeout}
	if r, _, err := tcp.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeNotImplemented && r.Rcode != dns.RcodeRefused {
		t.Errorf("UPDATE over TCP: %v %v", r, err)
	} else if r.AuthenticatedData || !r.RecursionDesired || r.Authoritative {
		t.Errorf("UPDATE answer's flags over TCP: %v", r.MsgHdr)
	}
}
