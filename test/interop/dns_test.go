//go:build interop

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hillZone is the master file of TestDigKdig; %d is the serial and the
// last octet of www's address, so a reload can be seen.
const hillZone = `$ORIGIN hill.test.
$TTL 300
@        IN SOA  ns1 hostmaster %d 3600 900 604800 120
         IN NS   ns1
         IN MX   10 mx
         IN TXT  "v=spf1 mx -all"
         IN CAA  0 issue "letsencrypt.org"
ns1      IN A    127.0.0.1
mx       IN A    192.0.2.25
mx       IN AAAA 2001:db8::25
www      IN A    192.0.2.%d
web      IN CNAME www
_submission._tcp IN SRV 0 1 587 mx
big      IN TXT  "%s"
big      IN TXT  "1%s"
big      IN TXT  "2%s"
big      IN TXT  "3%s"
big      IN TXT  "4%s"
big      IN TXT  "5%s"
`

func writeHillZone(t *testing.T, path string, v int) {
	t.Helper()
	pad := strings.Repeat("x", 99)
	text := fmt.Sprintf(hillZone, v, v, pad, pad, pad, pad, pad, pad)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestDigKdig drives `pail dns` with dig and kdig: every record type,
// NXDOMAIN and NODATA with the SOA, REFUSED for other zones, TCP,
// truncation at a small buffer size, ECS echoed with scope 0 on static
// answers, and a SIGHUP reload.
func TestDigKdig(t *testing.T) {
	needPeer(t, "dig")
	needPeer(t, "kdig")
	zone := filepath.Join(t.TempDir(), "hill.test.zone")
	writeHillZone(t, zone, 1)
	d := startPailDNS(t, "--zone", zone)

	short := map[string]string{
		"www.hill.test A":                "192.0.2.1",
		"hill.test MX":                   "10 mx.hill.test.",
		"hill.test TXT":                  `"v=spf1 mx -all"`,
		"hill.test NS":                   "ns1.hill.test.",
		"hill.test CAA":                  `0 issue "letsencrypt.org"`,
		"mx.hill.test AAAA":              "2001:db8::25",
		"web.hill.test A":                "www.hill.test.\n192.0.2.1",
		"_submission._tcp.hill.test SRV": "0 1 587 mx.hill.test.",
		"hill.test SOA":                  "ns1.hill.test. hostmaster.hill.test. 1 3600 900 604800 120",
	}
	for q, want := range short {
		f := strings.Fields(q)
		for _, tool := range []string{"dig", "kdig"} {
			for _, tr := range []string{"+notcp", "+tcp"} {
				got := strings.TrimSpace(digAt(t, tool, d.addr, "+short", tr, f[0], f[1]))
				if got != want {
					t.Errorf("%s %s %s: %q, want %q", tool, tr, q, got, want)
				}
			}
		}
	}

	out := digAt(t, "dig", d.addr, "nope.hill.test", "A")
	if !strings.Contains(out, "status: NXDOMAIN") || !strings.Contains(out, "flags: qr aa rd;") ||
		!strings.Contains(out, "AUTHORITY: 1") || !strings.Contains(out, "120\tIN\tSOA") {
		t.Errorf("NXDOMAIN:\n%s", out)
	}
	out = digAt(t, "kdig", d.addr, "www.hill.test", "MX")
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "ANSWER: 0; AUTHORITY: 1") {
		t.Errorf("NODATA:\n%s", out)
	}
	out = digAt(t, "dig", d.addr, "www.example.org", "A")
	if !strings.Contains(out, "status: REFUSED") || strings.Contains(out, " ra") {
		t.Errorf("foreign zone:\n%s", out)
	}
	// A small buffer truncates; dig then retries over TCP by itself.
	out = digAt(t, "dig", d.addr, "+bufsize=512", "+ignore", "big.hill.test", "TXT")
	if !strings.Contains(out, "flags: qr aa tc rd;") {
		t.Errorf("no TC at bufsize 512:\n%s", out)
	}
	out = digAt(t, "dig", d.addr, "+bufsize=512", "big.hill.test", "TXT")
	if !strings.Contains(out, "ANSWER: 6") || !strings.Contains(out, "(TCP)") {
		t.Errorf("dig's TCP retry:\n%s", out)
	}
	// ECS on a static answer: echoed with scope 0 (RFC 7871 §7.2.1).
	out = digAt(t, "kdig", d.addr, "+subnet=10.1.2.0/24", "www.hill.test", "A")
	if !strings.Contains(out, "CLIENT-SUBNET: 10.1.2.0/24/0") {
		t.Errorf("kdig +subnet:\n%s", out)
	}
	out = digAt(t, "dig", d.addr, "+subnet=10.1.2.0/24", "www.hill.test", "A")
	if !strings.Contains(out, "CLIENT-SUBNET: 10.1.2.0/24/0") {
		t.Errorf("dig +subnet:\n%s", out)
	}

	// SIGHUP: the new zone is served.
	writeHillZone(t, zone, 2)
	d.hup()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := strings.TrimSpace(digAt(t, "dig", d.addr, "+short", "www.hill.test", "A"))
		if got == "192.0.2.2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP www.hill.test is %q, want 192.0.2.2", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// loopZone has a CNAME loop and a chain longer than pail follows (8).
const loopZone = `$ORIGIN loop.test.
$TTL 300
@      IN SOA   ns1 hostmaster 1 3600 900 604800 120
       IN NS    ns1
ns1    IN A     127.0.0.1
a      IN CNAME b
b      IN CNAME a
c1     IN CNAME c2
c2     IN CNAME c3
c3     IN CNAME c4
c4     IN CNAME c5
c5     IN CNAME c6
c6     IN CNAME c7
c7     IN CNAME c8
c8     IN CNAME c9
c9     IN CNAME c10
c10    IN CNAME end
end    IN A     192.0.2.10
`

// TestDigCNAMELoop: dig and kdig, over UDP and TCP, get a CNAME loop
// (a→b→a) with each CNAME once and NOERROR, a chain of ten CNAMEs cut
// after eight, and one of seven followed to its address.
func TestDigCNAMELoop(t *testing.T) {
	zone := filepath.Join(t.TempDir(), "loop.test.zone")
	if err := os.WriteFile(zone, []byte(loopZone), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startPailDNS(t, "--zone", zone)
	short := map[string]string{
		"a.loop.test":  "b.loop.test.\na.loop.test.",
		"c1.loop.test": "c2.loop.test.\nc3.loop.test.\nc4.loop.test.\nc5.loop.test.\nc6.loop.test.\nc7.loop.test.\nc8.loop.test.\nc9.loop.test.",
		"c4.loop.test": "c5.loop.test.\nc6.loop.test.\nc7.loop.test.\nc8.loop.test.\nc9.loop.test.\nc10.loop.test.\nend.loop.test.\n192.0.2.10",
	}
	for name, want := range short {
		for _, tool := range []string{"dig", "kdig"} {
			for _, tr := range []string{"+notcp", "+tcp"} {
				got := strings.TrimSpace(digAt(t, tool, d.addr, "+short", tr, name, "A"))
				if got != want {
					t.Errorf("%s %s %s A: %q, want %q", tool, tr, name, got, want)
				}
			}
		}
	}
	out := digAt(t, "dig", d.addr, "a.loop.test", "A")
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "ANSWER: 2,") {
		t.Errorf("loop:\n%s", out)
	}
}
