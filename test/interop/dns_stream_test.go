//go:build interop

package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"pail/internal/testnet"
)

// TestDNSOverTCPAndTLS drives `pail dns` over streams with real clients:
// dig +tcp +keepopen +keepalive asks two questions on one connection
// and gets the RFC 7828 keepalive (10 s) with each answer; kdig +tls
// checks pail's certificate (the self-signed one in data_dir, for the
// host name) with +tls-ca and +tls-hostname and gets both answers over
// DNS over TLS (RFC 7858), with the keepalive option it asked for; dig
// +tls does the same.
func TestDNSOverTCPAndTLS(t *testing.T) {
	needPeer(t, "dig")
	needPeer(t, "kdig")
	dir := t.TempDir()
	zone := filepath.Join(dir, "hill.test.zone")
	writeHillZone(t, zone, 1)
	cfg := filepath.Join(dir, "pail.toml")
	writeHarnessFile(t, cfg, []byte(fmt.Sprintf("hostname = \"ns1.hill.test\"\ndata_dir = %q\n", filepath.Join(dir, "data"))), 0o600)
	tlsAddr := testnet.Addr(t)
	d := startPailDNS(t, "-c", cfg, "--zone", zone, "--tls-listen", tlsAddr)

	check := func(what, out string, keepalive string) {
		t.Helper()
		if strings.Count(out, "status: NOERROR") != 2 || !strings.Contains(out, "192.0.2.1") || !strings.Contains(out, "2001:db8::25") {
			t.Errorf("%s: want two answers:\n%s", what, out)
		}
		if strings.Count(out, keepalive) != 2 {
			t.Errorf("%s: want %q with each answer:\n%s", what, keepalive, out)
		}
	}
	check("dig +tcp +keepopen", digAt(t, "dig", d.addr, "+tcp", "+keepopen", "+keepalive", "www.hill.test", "A", "mx.hill.test", "AAAA"),
		"TCP KEEPALIVE: 10.0 secs")
	ca := filepath.Join(dir, "data", "tls", "cert.pem")
	out := digAt(t, "kdig", tlsAddr, "+tls-ca="+ca, "+tls-hostname=ns1.hill.test", "+keepopen", "+ednsopt=11",
		"www.hill.test", "A", "mx.hill.test", "AAAA")
	check("kdig +tls", out, "Option (11): 0064")
	if !strings.Contains(out, "TLS session") {
		t.Errorf("kdig: no TLS session:\n%s", out)
	}
	check("dig +tls", digAt(t, "dig", tlsAddr, "+tls", "+keepalive", "www.hill.test", "A", "mx.hill.test", "AAAA"),
		"TCP KEEPALIVE: 10.0 secs")
}
