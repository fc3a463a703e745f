package tlsconf

import (
	"crypto/x509"
	"testing"
)

func TestSelfSignedIsReused(t *testing.T) {
	dir := t.TempDir()
	c1, err := Load("", "", dir, []string{"mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Load("", "", dir, []string{"mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := c1.GetCertificate(nil)
	k2, _ := c2.GetCertificate(nil)
	a, b := k1.Certificate[0], k2.Certificate[0]
	if string(a) != string(b) {
		t.Error("certificate regenerated on second start")
	}
	cert, err := x509.ParseCertificate(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("mx.hill.test"); err != nil {
		t.Error(err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	certs, err := NewCerts("", "", dir, []string{"old.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := certs.Config()
	before, _ := cfg.GetCertificate(nil)
	// A new certificate appears in the files; Reload picks it up for the
	// same *tls.Config.
	if err := writeSelfSigned(dir+"/tls", dir+"/tls/cert.pem", dir+"/tls/key.pem", []string{"new.hill.test"}); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	after, _ := cfg.GetCertificate(nil)
	leaf, _ := x509.ParseCertificate(after.Certificate[0])
	if string(before.Certificate[0]) == string(after.Certificate[0]) || leaf.VerifyHostname("new.hill.test") != nil {
		t.Error("certificate not reloaded")
	}
}
