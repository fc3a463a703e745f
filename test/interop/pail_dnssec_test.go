//go:build interop

package interop

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/testnet"
)

// pailCmd runs `pail -c cfg args...` and returns its standard output.
func pailCmd(t *testing.T, cfg string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, pailBin, append([]string{"-c", cfg}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pail %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// signedPailDNS starts `pail dns` with [dns] dnssec = true on the hill.test
// zone of TestDigKdig and a pool cdn.hill.test, and unbound validating
// it from the DS that `pail dns ds hill.test` prints (no root key). It
// returns pail, unbound's address, the config file and the zone file.
func signedPailDNS(t *testing.T) (*pailDNS, string, string, string) {
	t.Helper()
	unboundBin := needPeer(t, "unbound")
	dir := t.TempDir()
	zone := filepath.Join(dir, "hill.test.zone")
	writeHillZone(t, zone, 1)
	cfg := filepath.Join(dir, "pail.toml")
	text := fmt.Sprintf(`data_dir = %q
[dns]
dnssec = true
[[dns.pools]]
name = "cdn.hill.test"
edges = [{ address = "192.0.2.61" }, { address = "192.0.2.62" }]
`, filepath.Join(dir, "data"))
	writeHarnessFile(t, cfg, []byte(text), 0o600)
	p := startPailDNS(t, "-c", cfg, "--zone", zone)

	anchor := filepath.Join(dir, "hill.test.ds")
	writeHarnessFile(t, anchor, []byte(pailCmd(t, cfg, "dns", "ds", "hill.test")), 0o644)
	d := &dnssecDNS{t: t, dir: dir, authority: p.addr, resolver: testnet.Addr(t)}
	t.Cleanup(d.stop)
	conf := filepath.Join(dir, "unbound.conf")
	writeHarnessFile(t, conf, []byte(d.unboundConf([]dnssecZone{{origin: "hill.test"}}, []string{anchor})), 0o644)
	d.start("unbound", d.resolver, unboundBin, "-d", "-c", conf)
	return p, d.resolver, cfg, zone
}

// TestPailDNSSECUnbound: pail signs its zone online and Debian's unbound,
// trusting only the DS `pail dns ds` printed, validates every kind of
// answer: data, a CDN pool answer, a CNAME, NODATA at a name and at the
// apex, a name that does not exist (a black lie: NOERROR with an NSEC),
// each with AD; kdig +dnssec through unbound shows the ad flag, and
// delv against pail itself says "fully validated". A key file damaged
// and reloaded makes pail answer SERVFAIL and log it, and unbound too.
func TestPailDNSSECUnbound(t *testing.T) {
	needPeer(t, "kdig")
	delv := needPeer(t, "delv")
	p, resolver, cfg, _ := signedPailDNS(t)

	for _, q := range []struct {
		name  string
		qtype uint16
		data  bool
	}{
		{"www.hill.test", dns.TypeA, true},
		{"cdn.hill.test", dns.TypeA, true},
		{"web.hill.test", dns.TypeA, true},
		{"hill.test", dns.TypeMX, true},
		{"hill.test", dns.TypeDNSKEY, true},
		{"www.hill.test", dns.TypeAAAA, false},
		{"cdn.hill.test", dns.TypeTXT, false},
		{"hill.test", dns.TypeSRV, false},
		{"nowhere.hill.test", dns.TypeA, false},
		{"a.b.nowhere.hill.test", dns.TypeTXT, false},
	} {
		r := dnsQuery(t, resolver, q.name, q.qtype, false)
		if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || (len(r.Answer) > 0) != q.data {
			t.Errorf("unbound %s %s: rcode %s AD %v answers %d, want NOERROR with AD (data: %v)",
				q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(r.Answer), q.data)
		}
	}
	out := digAt(t, "kdig", resolver, "+dnssec", "cdn.hill.test", "A")
	if !strings.Contains(out, " ad;") && !strings.Contains(out, " ad ") {
		t.Errorf("kdig +dnssec through unbound: no ad flag:\n%s", out)
	}

	// delv validates by itself, against pail, from the zone's DNSKEY.
	keys := digAt(t, "dig", p.addr, "+short", "hill.test", "DNSKEY")
	anchors := filepath.Join(t.TempDir(), "anchors.conf")
	var b strings.Builder
	b.WriteString("trust-anchors {\n")
	for _, k := range strings.Split(strings.TrimSpace(keys), "\n") {
		f := strings.Fields(k)
		fmt.Fprintf(&b, "  hill.test. static-key %s %s %s %q;\n", f[0], f[1], f[2], strings.Join(f[3:], ""))
	}
	b.WriteString("};\n")
	writeHarnessFile(t, anchors, []byte(b.String()), 0o644)
	host, port := dnsHostPort(t, p.addr)
	for _, q := range [][]string{{"www.hill.test", "A"}, {"nowhere.hill.test", "A"}, {"cdn.hill.test", "A"}} {
		ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
		res, err := exec.CommandContext(ctx, delv, "@"+host, "-p", port, "-a", anchors, "+root=hill.test", q[0], q[1]).CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(res), "fully validated") {
			t.Errorf("delv %s %s: %v\n%s", q[0], q[1], err, res)
		}
	}

	// A damaged key file, then SIGHUP: SERVFAIL and a log line, never an
	// unsigned answer.
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "data", "dnssec", "hill.test", "*.pem"))
	if len(files) != 1 {
		t.Fatalf("key files %v", files)
	}
	writeHarnessFile(t, files[0], []byte("not a key\n"), 0o600)
	p.hup()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.log.String(), "SERVFAIL") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.log.String(), "hill.test. is answered SERVFAIL") {
		t.Fatalf("no log line for the damaged key:\n%s", p.log.String())
	}
	if out := digAt(t, "dig", p.addr, "+dnssec", "www.hill.test", "A"); !strings.Contains(out, "status: SERVFAIL") {
		t.Errorf("pail with a damaged key:\n%s", out)
	}
	if r := dnsQuery(t, resolver, "mx.hill.test", dns.TypeA, false); r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Errorf("unbound with pail's key damaged: %v", r)
	}
}
