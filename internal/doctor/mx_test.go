package doctor

import (
	"context"
	"testing"
)

// TestMX: an MX naming the host name, or a host with this host's
// address (outbound.source, or the SMTP listen address), is this host;
// backups are mentioned; no MX, a null MX, or MX hosts that are all
// elsewhere FAIL with the record to publish.
func TestMX(t *testing.T) {
	for _, c := range []struct {
		name    string
		records []string
		status  Status
		parts   []string
	}{
		{"host name", []string{"hill.test. 300 IN MX 10 MX.Hill.Test."}, OK, []string{"MX mx.hill.test is this host"}},
		{"by source address", []string{"hill.test. 300 IN MX 10 mail.hill.test.", "mail.hill.test. 300 IN A 192.0.2.1"}, OK, []string{"mail.hill.test is this host"}},
		{"by listen address", []string{"hill.test. 300 IN MX 10 lo.hill.test.", "lo.hill.test. 300 IN A 127.0.0.1"}, OK, []string{"lo.hill.test is this host"}},
		{"with a backup", []string{"hill.test. 300 IN MX 10 mx.hill.test.", "hill.test. 300 IN MX 20 backup.isp.test.", "backup.isp.test. 300 IN A 198.51.100.1"}, OK, []string{"also backup.isp.test"}},
		{"elsewhere", []string{"hill.test. 300 IN MX 10 mx.isp.test.", "mx.isp.test. 300 IN A 198.51.100.1"}, Fail, []string{"MX mx.isp.test: none is mx.hill.test", "hill.test. MX 10 mx.hill.test."}},
		{"no MX", []string{"hill.test. 300 IN A 192.0.2.1"}, Fail, []string{"hill.test has no MX record"}},
		{"null MX", []string{"hill.test. 300 IN MX 0 ."}, Fail, []string{"null MX"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, ns := newTestDoctor(t, testConfig(t), c.records...)
			want(t, d.checkMX(context.Background(), testDomain), c.status, c.parts...)
			if !ns.Asked("hill.test. MX") {
				t.Errorf("MX not asked of the configured resolver")
			}
		})
	}
	d, _ := newTestDoctor(t, testConfig(t))
	d.r = servfail(t, "hill.test")
	want(t, d.checkMX(context.Background(), testDomain), Fail, "looking up hill.test MX")
}
