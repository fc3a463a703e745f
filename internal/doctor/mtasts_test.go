package doctor

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"pail/internal/mtasts"
	"pail/internal/testpki"
)

// TestMTASTS: the policy announced by _mta-sts is fetched over HTTPS
// from mta-sts.DOMAIN, resolved through the configured resolver and
// verified against the roots: an enforce policy covering the MX with
// the id of the policy served is OK; testing, a stale id or no record
// while pail serves one WARN; a policy that leaves an MX out, a host
// whose certificate does not verify, or a policy that is not there FAIL.
func TestMTASTS(t *testing.T) {
	ca := testpki.NewCA(t)
	var policy *mtasts.Policy // what the policy host serves
	srv := httptest.NewUnstartedServer(&mtasts.Handler{Policy: func(domain string) (*mtasts.Policy, bool) {
		return policy, policy != nil && domain == testDomain
	}})
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "mta-sts.hill.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	enforce := &mtasts.Policy{Mode: mtasts.ModeEnforce, MX: []string{"mx.hill.test"}, MaxAge: 24 * time.Hour}
	testing_ := &mtasts.Policy{Mode: mtasts.ModeTesting, MX: []string{"*.hill.test"}, MaxAge: 24 * time.Hour}
	txt := func(id string) string { return `_mta-sts.hill.test. 300 IN TXT "v=STSv1; id=` + id + `"` }
	base := []string{"hill.test. 300 IN MX 10 mx.hill.test.", "mta-sts.hill.test. 300 IN A 127.0.0.1"}
	for _, c := range []struct {
		name    string
		serves  bool // listen.https is set: pail serves the policy
		policy  *mtasts.Policy
		records []string
		roots   *testpki.CA
		status  Status
		parts   []string
	}{
		{"enforce", true, enforce, []string{txt(enforce.ID())}, ca, OK, []string{"mode enforce, mx mx.hill.test, fetched over verified HTTPS"}},
		{"testing", true, testing_, []string{txt(testing_.ID())}, ca, Warn, []string{"testing", `mode = "enforce"`}},
		{"stale id", true, enforce, []string{txt("20250101")}, ca, Warn, []string{"id=20250101 but the policy served is id=" + enforce.ID(), enforce.TXT()}},
		{"MX left out", false, enforce, []string{txt("1"), "hill.test. 300 IN MX 20 backup.isp.test."}, ca, Fail, []string{"does not cover MX backup.isp.test"}},
		{"untrusted certificate", true, enforce, []string{txt(enforce.ID())}, testpki.NewCA(t), Fail, []string{"sts-webpki-invalid", "certificate for mta-sts.hill.test"}},
		{"no policy served", true, nil, []string{txt("1")}, ca, Fail, []string{"sts-policy-fetch-error", "status 404"}},
		{"no record, not served", false, enforce, nil, ca, OK, []string{"no MTA-STS"}},
		{"no record, served", true, enforce, nil, ca, Warn, []string{"has no v=STSv1 record", "pail dns-records hill.test"}},
		{"bad record", false, enforce, []string{`_mta-sts.hill.test. 300 IN TXT "v=STSv1; id=bad-id!"`}, ca, Fail, []string{"syntax"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			if c.serves {
				cfg.Listen.HTTPS = "127.0.0.1:0"
			}
			policy = c.policy
			d, ns := newTestDoctor(t, cfg, append(append([]string{}, base...), c.records...)...)
			d.o.HTTPSPort, d.o.Roots = port, c.roots.Pool
			want(t, d.checkMTASTS(context.Background(), testDomain), c.status, c.parts...)
			if c.records != nil && c.name != "bad record" && !ns.Asked("mta-sts.hill.test. A") {
				t.Errorf("the policy host was not resolved through the configured resolver: %v", ns.Queries())
			}
		})
	}
}
