package dnsd

import (
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// rrs parses zone-file lines.
func rrs(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return out
}

// TestOwnRecords: records of pail's own are answered in the zone they
// fall in, over the real server, beside the zone's own; what the zone
// file has at a name and type wins, a CNAME in the zone keeps others
// out, delegated and foreign names are not answered; a reload makes
// them again (a rotated DKIM key is served without editing the zone).
func TestOwnRecords(t *testing.T) {
	var mu sync.Mutex
	dkimKey := "v=DKIM1; k=ed25519; p=one"
	own := func() []dns.RR {
		mu.Lock()
		defer mu.Unlock()
		return rrs(t,
			`example.test. 3600 IN MX 10 mx.pail.test.`,             // the zone's MX wins
			`example.test. 3600 IN TXT "v=spf1 mx -all"`,            // the zone's TXT wins
			`_dmarc.example.test. 3600 IN TXT "v=DMARC1; p=reject"`, // added
			`sel._domainkey.Example.Test. 3600 IN TXT "`+dkimKey+`"`,
			`mta-sts.example.test. 3600 IN CNAME mail.example.test.`, // added
			`www.example.test. 3600 IN CNAME mail.example.test.`,     // www has an A: left out
			`alias.example.test. 3600 IN TXT "x"`,                    // alias is a CNAME: left out
			`x.sub.example.test. 3600 IN TXT "below a cut"`,          // delegated: left out
			`_submission._tcp.example.test. 3600 IN SRV 0 1 587 mail.example.test.`,
			`other.invalid. 3600 IN TXT "no zone"`,
		)
	}
	s, err := NewWithRecords(testConfig(), nil, own)
	if err != nil {
		t.Fatal(err)
	}
	pc, ln := listenBoth(t)
	go s.ServeUDP(pc)
	go s.ServeTCP(ln)
	t.Cleanup(func() { s.Close() })
	addr := pc.LocalAddr().String()

	answer := func(name string, qtype uint16) (int, string) {
		t.Helper()
		r := query(t, addr, "tcp", name, qtype)
		var parts []string
		for _, rr := range r.Answer {
			parts = append(parts, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
		return r.Rcode, strings.Join(parts, " | ")
	}
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		want  string
	}{
		{"example.test.", dns.TypeMX, dns.RcodeSuccess, "10 mail.example.test."},
		{"example.test.", dns.TypeTXT, dns.RcodeSuccess, `"v=spf1 ip4:127.0.0.1 -all"`},
		{"_dmarc.example.test.", dns.TypeTXT, dns.RcodeSuccess, `"v=DMARC1; p=reject"`},
		{"sel._domainkey.example.test.", dns.TypeTXT, dns.RcodeSuccess, `"v=DKIM1; k=ed25519; p=one"`},
		{"_domainkey.example.test.", dns.TypeTXT, dns.RcodeSuccess, ""}, // an empty non-terminal: NODATA
		{"mta-sts.example.test.", dns.TypeA, dns.RcodeSuccess, "mail.example.test. | 192.0.2.25"},
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.80"},
		{"www.example.test.", dns.TypeCNAME, dns.RcodeSuccess, ""},
		{"_submission._tcp.example.test.", dns.TypeSRV, dns.RcodeSuccess, "0 1 587 mail.example.test."},
		{"other.invalid.", dns.TypeTXT, dns.RcodeRefused, ""},
	} {
		rcode, got := answer(tc.name, tc.qtype)
		if rcode != tc.rcode || got != tc.want {
			t.Errorf("%s %s: %s %q, want %s %q", tc.name, dns.TypeToString[tc.qtype], dns.RcodeToString[rcode], got, dns.RcodeToString[tc.rcode], tc.want)
		}
	}
	if _, got := answer("alias.example.test.", dns.TypeTXT); strings.Contains(got, `"x"`) {
		t.Errorf("TXT beside the zone's CNAME: %s", got)
	}
	if r := query(t, addr, "tcp", "x.sub.example.test.", dns.TypeTXT); len(r.Answer) != 0 || len(r.Ns) == 0 {
		t.Errorf("below the delegation: %v", r)
	}
	// The SRV answer carries the target's addresses, as for the zone's own.
	if r := query(t, addr, "udp", "_submission._tcp.example.test.", dns.TypeSRV); len(r.Extra) == 0 {
		t.Errorf("no additional addresses for the SRV target: %v", r)
	}

	mu.Lock()
	dkimKey = "v=DKIM1; k=ed25519; p=two"
	mu.Unlock()
	if err := s.Reload(testConfig()); err != nil {
		t.Fatal(err)
	}
	if _, got := answer("sel._domainkey.example.test.", dns.TypeTXT); got != `"v=DKIM1; k=ed25519; p=two"` {
		t.Errorf("after a reload: %q", got)
	}
}
