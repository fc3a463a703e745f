package doctor

import (
	"context"
	"testing"
)

// TestOutboundAddress: outbound.source is the address; without it the
// host name's addresses are a guess, said so (WARN); with none, FAIL.
func TestOutboundAddress(t *testing.T) {
	cfg := testConfig(t)
	d, _ := newTestDoctor(t, cfg)
	want(t, d.outboundAddrs(context.Background())[0], OK, "192.0.2.1 (outbound.source)")

	cfg.Outbound.Source = ""
	d, _ = newTestDoctor(t, cfg, "mx.hill.test. 300 IN A 192.0.2.7", "mx.hill.test. 300 IN AAAA 2001:db8::7")
	want(t, d.outboundAddrs(context.Background())[0], Warn, "guessed: 192.0.2.7, 2001:db8::7", "set outbound.source")
	if len(d.out) != 2 || !d.guessed {
		t.Errorf("guessed addresses %v", d.out)
	}

	d, _ = newTestDoctor(t, cfg)
	want(t, d.outboundAddrs(context.Background())[0], Fail, "mx.hill.test has no A/AAAA record")
	if r := d.checkSPF(context.Background(), testDomain); r.Status != Fail {
		t.Errorf("SPF without an outbound address: %+v", r)
	}
}

// TestPTR: forward-confirmed reverse DNS of the outbound address (RFC
// 8601 §3): a PTR naming the host name, which resolves back, is OK; no
// PTR, or one whose name does not resolve back, FAILs; a confirmed name
// that is not the host name WARNs.
func TestPTR(t *testing.T) {
	ptr := "1.2.0.192.in-addr.arpa. 300 IN PTR "
	for _, c := range []struct {
		name    string
		records []string
		status  Status
		parts   []string
	}{
		{"confirmed", []string{ptr + "mx.hill.test.", "mx.hill.test. 300 IN A 192.0.2.1"}, OK, []string{"192.0.2.1 → mx.hill.test → 192.0.2.1"}},
		{"no PTR", []string{"mx.hill.test. 300 IN A 192.0.2.1"}, Fail, []string{"192.0.2.1 has no PTR record", "PTR record to mx.hill.test"}},
		{"not confirmed", []string{ptr + "mx.hill.test.", "mx.hill.test. 300 IN A 192.0.2.99"}, Fail, []string{"not forward-confirmed"}},
		{"PTR elsewhere", []string{ptr + "host1.isp.test.", "host1.isp.test. 300 IN A 192.0.2.1"}, Warn, []string{"host1.isp.test is forward-confirmed but is not the host name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, ns := newTestDoctor(t, testConfig(t), c.records...)
			rs := d.checkPTR(context.Background())
			if len(rs) != 1 {
				t.Fatalf("%d results", len(rs))
			}
			want(t, rs[0], c.status, c.parts...)
			if !ns.Asked("1.2.0.192.in-addr.arpa. PTR") {
				t.Errorf("the PTR was not asked of the configured resolver: %v", ns.Queries())
			}
		})
	}
	d, _ := newTestDoctor(t, testConfig(t))
	d.r = servfail(t, "1.2.0.192.in-addr.arpa")
	want(t, d.checkPTR(context.Background())[0], Fail, "looking up the PTR of 192.0.2.1")
}
