package doctor

import (
	"context"
	"net/netip"
	"testing"
)

// TestDNSBLName: RFC 5782 §2.1 and §2.4 query names.
func TestDNSBLName(t *testing.T) {
	for a, want := range map[string]string{
		"192.0.2.1":   "1.2.0.192.bl.test.",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test.",
	} {
		if got := dnsblName(netip.MustParseAddr(a), "bl.test"); got != want {
			t.Errorf("%s: %s, want %s", a, got, want)
		}
	}
}

// TestDNSBL: each configured list is asked through the configured
// resolver; an A answer in 127.0.0.0/8 is listed (FAIL, with the TXT
// reason); 127.255.255.x is the list refusing the query (WARN, not
// listed); NXDOMAIN is not listed; no list configured is OK.
func TestDNSBL(t *testing.T) {
	d, ns := newTestDoctor(t, testConfig(t),
		"1.2.0.192.black.test. 300 IN A 127.0.0.2",
		`1.2.0.192.black.test. 300 IN TXT "listed for spam, see https://black.test/1"`,
		"1.2.0.192.refusing.test. 300 IN A 127.255.255.254",
		"1.2.0.192.odd.test. 300 IN A 192.0.2.99",
		"clean.test. 300 IN NS ns.clean.test.",
	)
	want(t, d.checkDNSBL(context.Background())[0], OK, "no blocklists configured")
	d.o.DNSBL = []string{"black.test", "refusing.test", "clean.test", "odd.test"}
	rs := results(d.checkDNSBL(context.Background()))
	want(t, rs["dnsbl black.test"], Fail, "listed: 192.0.2.1 (127.0.0.2: listed for spam, see https://black.test/1)", "delisting")
	want(t, rs["dnsbl refusing.test"], Warn, "refused the query (127.255.255.254)")
	want(t, rs["dnsbl clean.test"], OK, "not listed: 192.0.2.1")
	want(t, rs["dnsbl odd.test"], Warn, "not a blocklist answer")
	if !ns.Asked("1.2.0.192.clean.test. A") {
		t.Errorf("not asked of the configured resolver: %v", ns.Queries())
	}
}
