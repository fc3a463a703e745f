package doctor

import (
	"context"
	"testing"
)

// TestDMARC: one v=DMARC1 record that parses, with p=quarantine or
// reject, is OK; p=none WARNs; none, two, or one that does not parse
// FAIL (RFC 7489 §6.6.3).
func TestDMARC(t *testing.T) {
	rec := func(v string) string { return `_dmarc.hill.test. 300 IN TXT "` + v + `"` }
	for _, c := range []struct {
		name    string
		records []string
		status  Status
		parts   []string
	}{
		{"reject", []string{rec("v=DMARC1; p=reject; rua=mailto:postmaster@hill.test"), rec("unrelated")}, OK, []string{"p=reject"}},
		{"quarantine pct", []string{rec("v=DMARC1; p=quarantine; pct=20")}, OK, []string{"p=quarantine, applied to 20%"}},
		{"none", []string{rec("v=DMARC1; p=none; rua=mailto:postmaster@hill.test")}, Warn, []string{"p=none", "p=reject"}},
		{"missing", []string{"hill.test. 300 IN MX 10 mx.hill.test."}, Fail, []string{"no DMARC record at _dmarc.hill.test", `"v=DMARC1; p=reject; rua=mailto:postmaster@hill.test"`}},
		{"two", []string{rec("v=DMARC1; p=reject"), rec("v=DMARC1; p=none")}, Fail, []string{"2 DMARC records"}},
		{"no p", []string{rec("v=DMARC1; rua=mailto:postmaster@hill.test")}, Fail, []string{"does not parse"}},
		{"bad p", []string{rec("v=DMARC1; p=maybe")}, Fail, []string{"does not parse"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, ns := newTestDoctor(t, testConfig(t), c.records...)
			want(t, d.checkDMARC(context.Background(), testDomain), c.status, c.parts...)
			if !ns.Asked("_dmarc.hill.test. TXT") {
				t.Errorf("not asked of the configured resolver: %v", ns.Queries())
			}
		})
	}
	d, _ := newTestDoctor(t, testConfig(t))
	d.r = servfail(t, "_dmarc.hill.test")
	want(t, d.checkDMARC(context.Background(), testDomain), Fail, "looking up _dmarc.hill.test TXT")
}

// TestTLSRPT: a v=TLSRPTv1 record with a rua is OK; none WARNs (mail
// flows, reports do not); one without a rua FAILs.
func TestTLSRPT(t *testing.T) {
	rec := func(v string) string { return `_smtp._tls.hill.test. 300 IN TXT "` + v + `"` }
	d, _ := newTestDoctor(t, testConfig(t), rec("v=TLSRPTv1; rua=mailto:tls@hill.test"))
	want(t, d.checkTLSRPT(context.Background(), testDomain), OK, "reports go to mailto:tls@hill.test")
	d, _ = newTestDoctor(t, testConfig(t))
	want(t, d.checkTLSRPT(context.Background(), testDomain), Warn, "no TLS-RPT record", `"v=TLSRPTv1; rua=mailto:postmaster@hill.test"`)
	d, _ = newTestDoctor(t, testConfig(t), rec("v=TLSRPTv1; ruf=x"))
	want(t, d.checkTLSRPT(context.Background(), testDomain), Fail, "not valid")
}
