package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/dnsrecords"
	"pail/internal/testnet"
	"pail/internal/tlsconf"
)

// writeCertPair writes a new self-signed certificate for name and its
// key as PEM files in dir, and returns the certificate.
func writeCertPair(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{name}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// askDO sends one query with the DO bit (RFC 3225) over UDP to addr,
// retrying while the server starts.
func askDO(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _, err := c.Exchange(m, addr)
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tlsaAnswer returns the TLSA records and the RRSIG over them in r.
func tlsaAnswer(r *dns.Msg) ([]dns.RR, *dns.RRSIG) {
	var rrs []dns.RR
	var sig *dns.RRSIG
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.TLSA:
			rrs = append(rrs, v)
		case *dns.RRSIG:
			if v.TypeCovered == dns.TypeTLSA {
				sig = v
			}
		}
	}
	return rrs, sig
}

// TestServeTLSA: with a signed zone holding the host name, pail's name
// server answers _25._tcp.HOST TLSA 3 1 1 for the self-signed
// certificate's key, with a valid RRSIG when asked with DO; a reload
// after the certificate files changed publishes the new key's record; a
// reload turning DNSSEC off withdraws it.
func TestServeTLSA(t *testing.T) {
	dir := t.TempDir()
	dnsAddr := testnet.Addr(t)
	conf := func(dnssec bool) string {
		return fmt.Sprintf(`hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = %q
[listen]
smtp = "127.0.0.1:0"
[dns]
listen = %q
dnssec = %v
[[dns.zones]]
origin = "hill.test"
records = ["@ IN NS ns1", "ns1 IN A 127.0.0.1", "mx IN A 127.0.0.1"]
`, filepath.Join(dir, "data"), dnsAddr, dnssec)
	}
	srv := startQuiet(t, loadConf(t, dir, conf(true)))
	const name = "_25._tcp.mx.hill.test."
	self, err := tlsconf.ReadLeaf("", filepath.Join(dir, "data"))
	if err != nil || self == nil {
		t.Fatalf("self-signed certificate: %v", err)
	}
	keys := askDO(t, dnsAddr, "hill.test.", dns.TypeDNSKEY)
	var key *dns.DNSKEY
	for _, rr := range keys.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			key = k
		}
	}
	if key == nil {
		t.Fatalf("no DNSKEY: %v", keys)
	}
	check := func(want *x509.Certificate) {
		t.Helper()
		r := askDO(t, dnsAddr, name, dns.TypeTLSA)
		rrs, sig := tlsaAnswer(r)
		wantRR := dnsrecords.TLSA("mx.hill.test", want)
		if len(rrs) != 1 || rrs[0].String() != wantRR.String() {
			t.Fatalf("TLSA answer %v, want %s", r, wantRR)
		}
		if sig == nil {
			t.Fatalf("TLSA answer with DO has no RRSIG: %v", r)
		}
		if err := sig.Verify(key, rrs); err != nil {
			t.Errorf("RRSIG of the TLSA record: %v", err)
		}
	}
	check(self)

	// The certificate files are read again at reload: new ones, with a
	// new key, in place of the self-signed pair.
	own := writeCertPair(t, filepath.Join(dir, "data", "tls"), "mx.hill.test")
	if err := srv.Reload(loadConf(t, dir, conf(true))); err != nil {
		t.Fatal(err)
	}
	check(own)

	if err := srv.Reload(loadConf(t, dir, conf(false))); err != nil {
		t.Fatal(err)
	}
	if rrs, _ := tlsaAnswer(askDO(t, dnsAddr, name, dns.TypeTLSA)); len(rrs) != 0 {
		t.Errorf("TLSA published in an unsigned zone: %v", rrs)
	}
}
