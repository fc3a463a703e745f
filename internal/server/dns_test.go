package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/testnet"
)

// TestServeDNSSECOverTLS: pail serve with dns.tls_listen answers DNS over
// TLS (RFC 7858) with the certificate of its other TLS listeners, and
// with dns.dnssec signs its zone, pail's own records too (the local
// domain's MX), with the key made in data_dir/dnssec.
func TestServeDNSSECOverTLS(t *testing.T) {
	dir := t.TempDir()
	dnsAddr, tlsAddr := testnet.Addr(t), testnet.Addr(t)
	conf := fmt.Sprintf(`hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = %q
[listen]
[dns]
listen = %q
tls_listen = %q
dnssec = true
[[dns.zones]]
origin = "hill.test"
records = ["@ IN NS ns1", "ns1 IN A 127.0.0.1", "mx IN A 192.0.2.25"]
`, filepath.Join(dir, "data"), dnsAddr, tlsAddr)
	startQuiet(t, loadConf(t, dir, conf))
	pem, err := os.ReadFile(filepath.Join(dir, "data", "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	c := &dns.Client{Net: "tcp-tls", Timeout: 2 * time.Second,
		TLSConfig: &tls.Config{RootCAs: roots, ServerName: "mx.hill.test"}}
	ask := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.SetEdns0(1232, true)
		var r *dns.Msg
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, _, err = c.Exchange(m, tlsAddr)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s over TLS: %v", name, err)
		}
		return r
	}
	keys := ask("hill.test.", dns.TypeDNSKEY)
	var key *dns.DNSKEY
	for _, rr := range keys.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			key = k
		}
	}
	if key == nil {
		t.Fatalf("no DNSKEY: %v", keys)
	}
	r := ask("hill.test.", dns.TypeMX)
	var mx []dns.RR
	var sig *dns.RRSIG
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.MX:
			mx = append(mx, v)
		case *dns.RRSIG:
			sig = v
		}
	}
	if len(mx) == 0 || sig == nil {
		t.Fatalf("MX answer over TLS: %v", r)
	}
	if err := sig.Verify(key, mx); err != nil {
		t.Errorf("RRSIG of pail's own MX: %v", err)
	}
}
