package doctor

import (
	"context"
	"testing"
)

// TestSPF: the domain's SPF record is evaluated for the outbound address
// with blitiri.com.ar/go/spf through the configured resolver, ip4, a, mx
// and include mechanisms included; only pass is OK, and a record that
// omits the address FAILs with the mechanism to add.
func TestSPF(t *testing.T) {
	spf := func(v string) string { return `hill.test. 300 IN TXT "` + v + `"` }
	for _, c := range []struct {
		name    string
		records []string
		status  Status
		parts   []string
	}{
		{"ip4", []string{spf("v=spf1 ip4:192.0.2.0/28 -all")}, OK, []string{"pass for 192.0.2.1"}},
		{"mx", []string{spf("v=spf1 mx -all"), "hill.test. 300 IN MX 10 mx.hill.test.", "mx.hill.test. 300 IN A 192.0.2.1"}, OK, nil},
		{"a", []string{spf("v=spf1 a:mx.hill.test -all"), "mx.hill.test. 300 IN A 192.0.2.1"}, OK, nil},
		{"include", []string{spf("v=spf1 include:_spf.isp.test -all"), `_spf.isp.test. 300 IN TXT "v=spf1 ip4:192.0.2.1 ~all"`}, OK, nil},
		{"omits the address", []string{spf("v=spf1 ip4:198.51.100.1 -all")}, Fail, []string{"does not allow the outbound address: fail for 192.0.2.1", "add ip4:192.0.2.1"}},
		{"softfail", []string{spf("v=spf1 ~all")}, Fail, []string{"softfail for 192.0.2.1"}},
		{"none", []string{"hill.test. 300 IN MX 10 mx.hill.test."}, Fail, []string{"no SPF record", `"v=spf1 mx ip4:192.0.2.1 -all"`}},
		{"two records", []string{spf("v=spf1 -all"), spf("v=spf1 +all")}, Fail, []string{"permerror"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, ns := newTestDoctor(t, testConfig(t), c.records...)
			want(t, d.checkSPF(context.Background(), testDomain), c.status, c.parts...)
			if !ns.Asked("hill.test. TXT") {
				t.Errorf("the SPF record was not asked of the configured resolver: %v", ns.Queries())
			}
		})
	}
}
