package dnsrecords

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
)

// testCert makes a self-signed certificate for mx.hill.test with key.
func testCert(t *testing.T, key any, pub any) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "mx.hill.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"mx.hill.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// opensslSPKISHA256 is the hex SHA-256 of cert's SubjectPublicKeyInfo
// as openssl computes it: openssl x509 -pubkey -noout | openssl pkey
// -pubin -outform DER | sha256sum.
func opensslSPKISHA256(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", "openssl x509 -in "+f+" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum").Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	sum, _, _ := strings.Cut(string(out), " ")
	if len(sum) != 64 {
		t.Fatalf("openssl pipeline gave %q", out)
	}
	return sum
}

// signedCfg is a config whose name server serves hill.test, signed.
func signedCfg() *config.Config {
	return &config.Config{Hostname: "MX.hill.test", Domains: []string{"hill.test"},
		DNS: config.DNS{Listen: "127.0.0.1:53", DNSSEC: true, Zones: []config.DNSZone{{Origin: "hill.test"}}}}
}

// TestTLSAMatchesOpenSSL: the TLSA record is 3 1 1 with the SHA-256 of
// the certificate's SubjectPublicKeyInfo that openssl computes, for an
// ECDSA and an RSA key, at _25._tcp of the host name.
func TestTLSAMatchesOpenSSL(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, cert := range map[string]*x509.Certificate{
		"ecdsa": testCert(t, ec, &ec.PublicKey),
		"rsa":   testCert(t, rk, &rk.PublicKey),
	} {
		want := opensslSPKISHA256(t, cert)
		d := HostDANE(signedCfg(), ServedZones(signedCfg().DNS), cert)
		if !d.Publish || d.Record == nil {
			t.Fatalf("%s: not published in a signed zone holding the host: %+v", name, d)
		}
		r := d.Record
		if r.Hdr.Name != "_25._tcp.mx.hill.test." || r.Usage != 3 || r.Selector != 1 || r.MatchingType != 1 || r.Certificate != want {
			t.Errorf("%s: record %s, want _25._tcp.mx.hill.test. TLSA 3 1 1 %s", name, r, want)
		}
		back := parse(t, []dns.RR{r})[0].(*dns.TLSA)
		if back.Certificate != want {
			t.Errorf("%s: printed record reads back as %s", name, back)
		}
	}
}

// TestTLSAWhenSafe: the record is published only in a signed zone pail
// serves that holds the host name, with a certificate whose key only
// the operator changes; otherwise dns-records shows it as a comment
// with the reason, and with dns.tlsa = false not at all.
func TestTLSAWhenSafe(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := testCert(t, ec, &ec.PublicKey)
	off := false
	zoneFile := filepath.Join(t.TempDir(), "hill.zone")
	if err := os.WriteFile(zoneFile, []byte("$ORIGIN hill.test.\n@ 3600 IN SOA ns1 host 1 7200 3600 1209600 3600\n@ IN NS ns1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		change  func(*config.Config)
		publish bool
		record  bool   // a record is shown at all
		note    string // in the note
		warn    bool
	}{
		{"signed inline zone", func(*config.Config) {}, true, true, "", false},
		{"signed zone file", func(c *config.Config) { c.DNS.Zones = nil; c.DNS.ZoneFiles = []string{zoneFile} }, true, true, "", false},
		{"operator's files", func(c *config.Config) { c.TLS.Cert, c.TLS.Key = "/etc/c.pem", "/etc/k.pem" }, true, true, "certbot --reuse-key", false},
		{"unsigned", func(c *config.Config) { c.DNS.DNSSEC = false }, false, true, "dns.dnssec is off", false},
		{"host outside the zones", func(c *config.Config) { c.DNS.Zones = []config.DNSZone{{Origin: "other.test"}} }, false, true, "serves no zone holding mx.hill.test", false},
		{"parent's sibling", func(c *config.Config) { c.DNS.Zones = []config.DNSZone{{Origin: "ill.test"}} }, false, true, "serves no zone holding", false},
		{"no name server", func(c *config.Config) { c.DNS.Listen = "" }, false, true, "serves no zone holding", false},
		{"acme", func(c *config.Config) { c.ACME.Enabled = true }, false, true, "WARNING", true},
		{"tlsa = false", func(c *config.Config) { c.DNS.TLSA = &off }, false, false, "dns.tlsa = false", false},
	}
	for _, tc := range cases {
		cfg := signedCfg()
		tc.change(cfg)
		d := HostDANE(cfg, ServedZones(cfg.DNS), cert)
		if d.Publish != tc.publish || (d.Record != nil) != tc.record || d.Warn != tc.warn || !strings.Contains(d.Note, tc.note) {
			t.Errorf("%s: %+v", tc.name, d)
		}
		var l Listing
		l.AddDANE(d)
		published := len(l.Records) == 1
		if published != tc.publish {
			t.Errorf("%s: listing records %v", tc.name, l.Records)
		}
		if tc.record && !tc.publish && (len(l.Notes) != 2 || l.Notes[1] != d.Record.String()) {
			t.Errorf("%s: the record is not shown as a comment: %q", tc.name, l.Notes)
		}
	}
	if d := HostDANE(signedCfg(), ServedZones(signedCfg().DNS), nil); d.Record != nil || d.Publish {
		t.Errorf("no certificate: %+v", d)
	}
}
