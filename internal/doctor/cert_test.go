package doctor

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pail/internal/testpki"
	"pail/internal/tlsconf"
)

// writeCert writes c's chain and key as PEM files, the key first in the
// same file when keyPath is "" (autocert's cache form).
func writeCert(t *testing.T, c tls.Certificate, certPath, keyPath string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	var chain []byte
	for _, b := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})...)
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if keyPath == "" {
		chain = append(key, chain...)
	} else if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, chain, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCertificates: the certificate in use ([tls] files, ACME's cache,
// or the self-signed one) is checked for every name clients use (the
// host name, mta-sts.DOMAIN when the policy is served): one that
// verifies and names it is OK; one missing a name or from an unknown CA
// FAILs; within 7 days of expiry FAIL, within 21 WARN; pail's
// self-signed one WARNs.
func TestCertificates(t *testing.T) {
	ca := testpki.NewCA(t)
	now := time.Now()
	leaf := func(days int, names ...string) tls.Certificate {
		return ca.LeafValid(t, now.Add(-time.Hour), now.Add(time.Duration(days)*24*time.Hour), names...)
	}
	setup := func(t *testing.T, c tls.Certificate) (*doctor, map[string]Result) {
		cfg := testConfig(t)
		cfg.Listen.HTTPS = "127.0.0.1:8443" // serves MTA-STS: mta-sts.hill.test is a name clients use
		cfg.TLS.Cert, cfg.TLS.Key = filepath.Join(cfg.DataDir, "c.pem"), filepath.Join(cfg.DataDir, "k.pem")
		writeCert(t, c, cfg.TLS.Cert, cfg.TLS.Key)
		d, _ := newTestDoctor(t, cfg)
		d.o.Roots = ca.Pool
		return d, results(d.checkCertificates())
	}

	_, rs := setup(t, leaf(60, "mx.hill.test", "mta-sts.hill.test"))
	want(t, rs["certificate mx.hill.test"], OK, "issued by pail test CA", "(59 days)")
	want(t, rs["certificate mta-sts.hill.test"], OK)

	_, rs = setup(t, leaf(60, "mx.hill.test"))
	want(t, rs["certificate mx.hill.test"], OK)
	want(t, rs["certificate mta-sts.hill.test"], Fail, "does not name mta-sts.hill.test (it names mx.hill.test)")

	_, rs = setup(t, leaf(5, "mx.hill.test", "mta-sts.hill.test"))
	want(t, rs["certificate mx.hill.test"], Fail, "(4 days)", "renew")
	_, rs = setup(t, leaf(14, "mx.hill.test", "mta-sts.hill.test"))
	want(t, rs["certificate mx.hill.test"], Warn, "(13 days)")

	d, _ := setup(t, leaf(60, "mx.hill.test", "mta-sts.hill.test"))
	d.o.Roots = testpki.NewCA(t).Pool
	want(t, results(d.checkCertificates())["certificate mx.hill.test"], Fail, "does not verify", "certificate signed by unknown authority")

	// pail's own self-signed certificate, as pail serve makes it.
	cfg := testConfig(t)
	if _, err := tlsconf.NewCerts("", "", cfg.DataDir, []string{testHost}); err != nil {
		t.Fatal(err)
	}
	d, _ = newTestDoctor(t, cfg)
	want(t, results(d.checkCertificates())["certificate mx.hill.test"], Warn, "is self-signed", "enable [acme]")

	// ACME: the cache's certificate for each host; a host it has none
	// for yet is served the fallback, which is said.
	cfg = testConfig(t)
	cfg.ACME.Enabled = true
	cfg.ACME.Hosts = []string{"mx.hill.test", "autoconfig.hill.test"}
	writeCert(t, leaf(60, "mx.hill.test"), filepath.Join(cfg.DataDir, "acme", "mx.hill.test"), "")
	writeCert(t, leaf(60, "autoconfig.hill.test"), filepath.Join(cfg.DataDir, "tls", "cert.pem"), filepath.Join(cfg.DataDir, "tls", "key.pem"))
	d, _ = newTestDoctor(t, cfg)
	d.o.Roots = ca.Pool
	rs = results(d.checkCertificates())
	want(t, rs["certificate mx.hill.test"], OK, "ACME "+filepath.Join(cfg.DataDir, "acme", "mx.hill.test"))
	want(t, rs["certificate autoconfig.hill.test"], Warn, "ACME has no certificate for it yet")
}

// results indexes results by check.
func results(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Check] = r
	}
	return m
}
