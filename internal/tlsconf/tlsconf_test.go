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
	a, b := c1.Certificates[0].Certificate[0], c2.Certificates[0].Certificate[0]
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
