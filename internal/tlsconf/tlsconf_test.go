package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
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

// handshake connects to a TLS server presenting certs on 127.0.0.1 and
// verifies it as a client trusting only the file certFile would: with the
// server named serverName (an IP address is checked against the IP SANs).
func handshake(t *testing.T, certs *Certs, certFile, serverName string) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.(*tls.Conn).Handshake()
	}()
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no certificate", certFile)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		return err
	}
	return c.Close()
}

// TestSelfSignedNamesLoopbackAndListenAddresses: a client on the same
// machine that trusts pail-data/tls/cert.pem accepts the server under
// 127.0.0.1, ::1, localhost, the host name, a domain and a listen address;
// each name is in the certificate once.
func TestSelfSignedNamesLoopbackAndListenAddresses(t *testing.T) {
	dir := t.TempDir()
	certs, err := NewCerts("", "", dir, []string{"mx.hill.test", "hill.test", "192.0.2.7", "HILL.test", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if !certs.Made() {
		t.Error("first start: Made() is false")
	}
	certFile := filepath.Join(dir, "tls", "cert.pem")
	for _, name := range []string{"127.0.0.1", "::1", "localhost", "mx.hill.test", "hill.test", "192.0.2.7"} {
		if err := handshake(t, certs, certFile, name); err != nil {
			t.Errorf("client trusting %s, server name %s: %v", certFile, name, err)
		}
	}
	if err := handshake(t, certs, certFile, "town.test"); err == nil {
		t.Error("a name the certificate does not carry was accepted")
	}
	leaf := loadLeaf(t, certFile)
	if want := []string{"mx.hill.test", "hill.test", "localhost"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS names %q, want %q", leaf.DNSNames, want)
	}
	if len(leaf.IPAddresses) != 3 {
		t.Errorf("IP addresses %v, want 192.0.2.7, 127.0.0.1, ::1", leaf.IPAddresses)
	}
}

func loadLeaf(t *testing.T, certFile string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", certFile)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// writeOldCert writes into dir/tls a certificate and key as an older pail
// (org "pail self-signed") or an operator (another org) would have,
// naming only dnsNames.
func writeOldCert(t *testing.T, dir, org string, dnsNames ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: dnsNames[0], Organization: []string{org}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tdir := filepath.Join(dir, "tls")
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tdir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tdir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return der
}

// TestOldSelfSignedIsRemade: pail's own self-signed certificate from an
// older pail, without the loopback addresses, is made again on start, and
// again when a domain is added; then it is kept.
func TestOldSelfSignedIsRemade(t *testing.T) {
	dir := t.TempDir()
	old := writeOldCert(t, dir, selfSignedOrg, "mx.hill.test", "hill.test", "localhost")
	certFile := filepath.Join(dir, "tls", "cert.pem")
	names := []string{"mx.hill.test", "hill.test"}
	certs, err := NewCerts("", "", dir, names)
	if err != nil {
		t.Fatal(err)
	}
	if !certs.Made() || string(loadLeaf(t, certFile).Raw) == string(old) {
		t.Fatal("the old self-signed certificate without 127.0.0.1 and ::1 was kept")
	}
	if err := handshake(t, certs, certFile, "127.0.0.1"); err != nil {
		t.Errorf("after the remake: %v", err)
	}
	again, err := NewCerts("", "", dir, names)
	if err != nil {
		t.Fatal(err)
	}
	if again.Made() {
		t.Error("a certificate that names everything was made again")
	}
	more, err := NewCerts("", "", dir, append(names, "town.test"))
	if err != nil {
		t.Fatal(err)
	}
	if !more.Made() || loadLeaf(t, certFile).VerifyHostname("town.test") != nil {
		t.Error("a new domain did not get into the self-signed certificate")
	}
}

// TestForeignCertInDataDirKept: a certificate the operator put in
// data_dir/tls is never replaced, whatever it names.
func TestForeignCertInDataDirKept(t *testing.T) {
	dir := t.TempDir()
	der := writeOldCert(t, dir, "Hill Ltd", "mail.hill.test")
	certs, err := NewCerts("", "", dir, []string{"mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	if certs.Made() || string(loadLeaf(t, filepath.Join(dir, "tls", "cert.pem")).Raw) != string(der) {
		t.Error("the operator's certificate was replaced")
	}
}

// TestSelfSignedRemadeKeepsKey: when the self-signed certificate is made
// again for a new name, its key stays, so the TLSA record published for
// it (DANE-EE, SPKI) still matches; a certificate made where no key is
// gets a new one.
func TestSelfSignedRemadeKeepsKey(t *testing.T) {
	dir := t.TempDir()
	certFile := filepath.Join(dir, "tls", "cert.pem")
	if _, err := NewCerts("", "", dir, []string{"mx.hill.test"}); err != nil {
		t.Fatal(err)
	}
	first := loadLeaf(t, certFile)
	more, err := NewCerts("", "", dir, []string{"mx.hill.test", "town.test"})
	if err != nil {
		t.Fatal(err)
	}
	second := loadLeaf(t, certFile)
	if !more.Made() || string(second.Raw) == string(first.Raw) || second.VerifyHostname("town.test") != nil {
		t.Fatal("the certificate was not made again for the new name")
	}
	if string(second.RawSubjectPublicKeyInfo) != string(first.RawSubjectPublicKeyInfo) {
		t.Error("the certificate made again has a new key")
	}
	if l := more.Leaf(); l == nil || string(l.Raw) != string(second.Raw) {
		t.Error("Leaf is not the certificate loaded")
	}
	other := t.TempDir()
	if _, err := NewCerts("", "", other, []string{"mx.hill.test"}); err != nil {
		t.Fatal(err)
	}
	if string(loadLeaf(t, filepath.Join(other, "tls", "cert.pem")).RawSubjectPublicKeyInfo) == string(first.RawSubjectPublicKeyInfo) {
		t.Error("two data directories share a key")
	}
	if c, err := ReadLeaf("", dir); err != nil || string(c.Raw) != string(second.Raw) {
		t.Errorf("ReadLeaf: %v", err)
	}
	if c, err := ReadLeaf("", t.TempDir()); c != nil || err != nil {
		t.Errorf("ReadLeaf without a certificate: %v, %v", c, err)
	}
}
