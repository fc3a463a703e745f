//go:build interop

package interop

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tlsaShort matches dig +short's TLSA answer: usage, selector, matching
// type and the hex data (which dig may split with blanks).
var tlsaShort = regexp.MustCompile(`(?m)^3 1 1 ([0-9A-Fa-f ]+)$`)

// TestPailTLSAOpenSSL (issue 20 item 3): pail serve with [dns] dnssec
// and its host name inside the zone it serves publishes
// _25._tcp.mx.hill.test TLSA 3 1 1, signed (dig +dnssec shows the
// RRSIG); and Debian's openssl s_client, told that record as dig read it
// from pail's name server, verifies by DANE the certificate pail
// presents after STARTTLS on its SMTP port: the published record
// matches what senders see.
func TestPailTLSAOpenSSL(t *testing.T) {
	opensslBin := needPeer(t, "openssl")
	needPeer(t, "dig")
	dnsAddr := freeUDPTCPAddr(t)
	s := newServer(t, serverOptions{})
	appendConfig(t, s, fmt.Sprintf(`
[dns]
listen = %q
dnssec = true
[[dns.zones]]
origin = %q
records = ["@ IN NS ns1", "ns1 IN A 127.0.0.1", "mx IN A 127.0.0.1"]
`, dnsAddr, testDomain))
	s.start()
	if err := waitDNS(dnsAddr, s.proc, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("pail's name server: %v", err)
	}
	name := "_25._tcp." + testHostname
	short := digAt(t, "dig", dnsAddr, "+short", name, "TLSA")
	m := tlsaShort.FindStringSubmatch(strings.TrimSpace(short))
	if m == nil {
		t.Fatalf("dig +short %s TLSA: %q, want one 3 1 1 record", name, short)
	}
	hexData := strings.ToLower(strings.ReplaceAll(m[1], " ", ""))
	if len(hexData) != 64 {
		t.Fatalf("TLSA data %q is not a SHA-256", hexData)
	}
	if full := digAt(t, "dig", dnsAddr, "+dnssec", name, "TLSA"); !regexp.MustCompile(`\sRRSIG\s+TLSA 13 `).MatchString(full) {
		t.Errorf("dig +dnssec %s TLSA: no RRSIG (algorithm 13) over the record:\n%s", name, full)
	}

	// openssl ≥ 1.1.0 verifies the peer by the TLSA rrdata given
	// (RFC 7671): DANE-EE, so the self-signed certificate passes.
	rrdata := "3 1 1 " + hexData
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, opensslBin, "s_client", "-starttls", "smtp", "-connect", s.smtpAddr,
		"-name", "client.test", "-servername", testHostname,
		"-dane_tlsa_domain", testHostname, "-dane_tlsa_rrdata", rrdata, "-verify_return_error")
	cmd.Stdin = strings.NewReader("QUIT\r\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl s_client with %q: %v\n%s", rrdata, err, out)
	}
	if !strings.Contains(string(out), "Verification: OK") {
		t.Errorf("openssl s_client: no \"Verification: OK\":\n%s", out)
	}
	// openssl shows the end of the data: "DANE TLSA 3 1 1 ...<tail>
	// matched EE certificate at depth 0".
	if mm := regexp.MustCompile(`DANE TLSA 3 1 1 \.\.\.([0-9a-f]+) matched EE certificate at depth 0`).FindSubmatch(out); mm == nil || !strings.HasSuffix(hexData, string(mm[1])) {
		t.Errorf("openssl s_client: the TLSA record %s did not match:\n%s", rrdata, out)
	}

	// The control: a record naming another key fails verification, so
	// the check above is openssl's DANE verification and nothing else.
	other := "3 1 1 " + strings.Repeat("ab", 32)
	ctx2, cancel2 := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel2()
	bad := exec.CommandContext(ctx2, opensslBin, "s_client", "-starttls", "smtp", "-connect", s.smtpAddr,
		"-name", "client.test", "-servername", testHostname,
		"-dane_tlsa_domain", testHostname, "-dane_tlsa_rrdata", other, "-verify_return_error")
	bad.Stdin = strings.NewReader("QUIT\r\n")
	if out, err := bad.CombinedOutput(); err == nil || strings.Contains(string(out), "Verification: OK") {
		t.Errorf("openssl s_client accepted a TLSA record of another key: %v\n%s", err, out)
	}
}
