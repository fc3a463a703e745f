package dane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// testNow is the time the tests check certificates at.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// testCert is a certificate made for a test with its key.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certSpec describes a certificate to make.
type certSpec struct {
	cn        string
	names     []string
	ca        bool
	notBefore time.Time // zero: a year before testNow
	notAfter  time.Time // zero: a year after testNow
}

// makeCert makes a certificate per spec, signed by parent (self-signed
// when parent is nil).
func makeCert(t testing.TB, spec certSpec, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	nb, na := spec.notBefore, spec.notAfter
	if nb.IsZero() {
		nb = testNow.AddDate(-1, 0, 0)
	}
	if na.IsZero() {
		na = testNow.AddDate(1, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.cn},
		DNSNames:              spec.names,
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: true,
		IsCA:                  spec.ca,
	}
	if spec.ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

// pki is a root, an intermediate and a server certificate under them.
type pki struct {
	root, inter, leaf *testCert
}

// newPKI makes a root and an intermediate CA and a leaf for names with
// the given validity (zero values: valid at testNow).
func newPKI(t testing.TB, names []string, notBefore, notAfter time.Time) pki {
	t.Helper()
	root := makeCert(t, certSpec{cn: "Test Root", ca: true}, nil)
	inter := makeCert(t, certSpec{cn: "Test Intermediate", ca: true}, root)
	leaf := makeCert(t, certSpec{cn: "leaf", names: names, notBefore: notBefore, notAfter: notAfter}, inter)
	return pki{root, inter, leaf}
}
