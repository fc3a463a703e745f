//go:build interop

package interop

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/mtasts"
	"pail/internal/testnet"
)

// TestMTASTSCurlDig: curl fetches the MTA-STS policy from a running
// pail over https as a sender would (the name mta-sts.DOMAIN, Host and
// SNI included), and it is a valid RFC 8461 policy whose id is the one
// `pail dns-records` prints; dig at pail's own name server gets the
// _mta-sts TXT, the DKIM TXTs, the TLS-RPT TXT and the MX exactly as
// `pail dns-records` prints them, with no record of them in the zone.
func TestMTASTSCurlDig(t *testing.T) {
	curl := needPeer(t, "curl")
	needPeer(t, "dig")
	httpsAddr, dnsAddr := testnet.Addr(t), freeUDPTCPAddr(t)
	s := newServer(t, serverOptions{listen: []string{fmt.Sprintf("https = %q", httpsAddr)}})
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[dns]\nlisten = %q\n[[dns.zones]]\norigin = %q\nrecords = [\"@ IN NS ns1\", \"ns1 IN A 127.0.0.1\", \"mx IN A 127.0.0.1\"]\n", dnsAddr, testDomain)
	f.Close()
	s.start()
	deadline := time.Now().Add(startTimeout)
	if err := waitListening(httpsAddr, s.proc, deadline); err != nil {
		t.Fatalf("https: %v", err)
	}
	if err := waitDNS(dnsAddr, s.proc, deadline); err != nil {
		t.Fatalf("dns: %v", err)
	}

	// What pail dns-records prints, by name and type.
	printed := map[string][]dns.RR{}
	zone := string(s.pail("", []string{"dns-records", testDomain}))
	for _, line := range strings.Split(strings.TrimSpace(zone), "\n") {
		if strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			t.Fatalf("pail dns-records line %q: %v", line, err)
		}
		k := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
		printed[k] = append(printed[k], rr)
	}
	stsRec, ok := printed["_mta-sts."+testDomain+". TXT"]
	if !ok {
		t.Fatalf("no _mta-sts record in pail dns-records:\n%s", zone)
	}
	rec, err := mtasts.ParseRecord(strings.Join(stsRec[0].(*dns.TXT).Txt, ""))
	if err != nil {
		t.Fatalf("printed _mta-sts record: %v", err)
	}

	// curl as a sender: the policy host's name resolved to pail.
	_, port, _ := net.SplitHostPort(httpsAddr)
	host := "mta-sts." + testDomain
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "-k", "--fail", "--max-time", "20",
		"--resolve", host+":"+port+":127.0.0.1", "-w", "\n%{content_type}",
		"https://"+host+":"+port+"/.well-known/mta-sts.txt").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	// -w put the content type on a line after the body.
	i := strings.LastIndex(string(out), "\n")
	body, ctype := string(out[:i]), string(out[i+1:])
	p, err := mtasts.ParsePolicy([]byte(body))
	if err != nil {
		t.Fatalf("curl got %q: %v", body, err)
	}
	if ctype != "text/plain" || p.ID() != rec.ID || p.Mode != mtasts.ModeTesting || !p.Matches(testHostname) {
		t.Errorf("curl got %q (%s), policy id %s; pail dns-records prints id %s", body, ctype, p.ID(), rec.ID)
	}
	t.Logf("curl: %s", body)

	// dig at pail's name server: each printed record of these names is
	// answered, the same.
	var dkimNames []string
	for k := range printed {
		if strings.Contains(k, "._domainkey.") {
			dkimNames = append(dkimNames, strings.TrimSuffix(k, " TXT"))
		}
	}
	if len(dkimNames) != 2 {
		t.Fatalf("DKIM records printed: %v\n%s", dkimNames, zone)
	}
	for _, q := range append([]string{"_mta-sts." + testDomain + ". TXT", "_smtp._tls." + testDomain + ". TXT", testDomain + ". MX"},
		func() []string {
			var out []string
			for _, n := range dkimNames {
				out = append(out, n+" TXT")
			}
			return out
		}()...) {
		name, qtype, _ := strings.Cut(q, " ")
		answer := digAt(t, "dig", dnsAddr, "+noall", "+answer", "+tcp", name, qtype)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(answer), "\n") {
			rr, err := dns.NewRR(line)
			if err != nil || rr == nil {
				t.Fatalf("dig %s: line %q: %v", q, line, err)
			}
			got = append(got, rdata(rr))
		}
		var want []string
		for _, rr := range printed[q] {
			want = append(want, rdata(rr))
		}
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("dig %s: %q, pail dns-records %q", q, got, want)
		}
	}
}

// rdata is a record's data: a TXT's strings joined (as a verifier reads
// them), else its presentation after the header.
func rdata(rr dns.RR) string {
	if txt, ok := rr.(*dns.TXT); ok {
		return strings.Join(txt.Txt, "")
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}
