package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/dkim"
	"pail/internal/dnsrecords"
	"pail/internal/mtasts"
	"pail/internal/testnet"
)

// TestServeMTASTSAndOwnRecords: a running pail serves the MTA-STS policy
// of its domains on https for Host mta-sts.DOMAIN (not on http, not for
// other domains), and its name server answers the records pail
// dns-records makes — the _mta-sts id of that very policy, the DKIM
// keys, MX — in the zone it serves for the domain; after a DKIM rotation
// and a reload the new keys are answered with the zone unchanged.
func TestServeMTASTSAndOwnRecords(t *testing.T) {
	dir := t.TempDir()
	httpAddr, httpsAddr, dnsAddr := testnet.Addr(t), testnet.Addr(t), testnet.Addr(t)
	conf := fmt.Sprintf(`hostname = "mx.hill.test"
domains = ["hill.test", "dale.test"]
data_dir = %q
[listen]
http = %q
https = %q
[dns]
listen = %q
[[dns.zones]]
origin = "hill.test"
records = ["@ IN NS ns1", "ns1 IN A 127.0.0.1", "mx IN A 192.0.2.25"]
`, filepath.Join(dir, "data"), httpAddr, httpsAddr, dnsAddr)
	cfg := loadConf(t, dir, conf)
	srv := startQuiet(t, cfg)

	// The certificate is pail's self-signed one; what is checked here is
	// what is served, so the client does not verify it.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(base, host string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/.well-known/mta-sts.txt", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	want := dnsrecords.MTASTSPolicy(cfg)
	code, ct, body := get("https://"+httpsAddr, "mta-sts.hill.test")
	if code != 200 || ct != "text/plain" || body != want.String() {
		t.Fatalf("https policy: %d %q %q, want %q", code, ct, body, want.String())
	}
	p, err := mtasts.ParsePolicy([]byte(body))
	if err != nil || p.Mode != mtasts.ModeTesting || !p.Matches("mx.hill.test") {
		t.Errorf("served policy %+v, %v", p, err)
	}
	if code, _, _ := get("https://"+httpsAddr, "mta-sts.dale.test"); code != 200 {
		t.Errorf("dale.test's policy: %d", code)
	}
	if code, _, body := get("https://"+httpsAddr, "mta-sts.far.test"); code != http.StatusNotFound {
		t.Errorf("a foreign domain's policy: %d %q", code, body)
	}
	if code, _, body := get("http://"+httpAddr, "mta-sts.hill.test"); code != http.StatusNotFound {
		t.Errorf("policy over plain http: %d %q", code, body)
	}

	ask := func(name string, qtype uint16) []dns.RR {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
		r, _, err := c.Exchange(m, dnsAddr)
		if err != nil {
			t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
		}
		return r.Answer
	}
	txt := func(name string) string {
		t.Helper()
		var vals []string
		for _, rr := range ask(name, dns.TypeTXT) {
			if rr, ok := rr.(*dns.TXT); ok {
				vals = append(vals, strings.Join(rr.Txt, ""))
			}
		}
		return strings.Join(vals, " | ")
	}
	if got := txt("_mta-sts.hill.test."); got != "v=STSv1; id="+want.ID() {
		t.Errorf("_mta-sts TXT %q, want the id of the served policy %s", got, want.ID())
	}
	if got := txt("_smtp._tls.hill.test."); got != "v=TLSRPTv1; rua=mailto:postmaster@hill.test" {
		t.Errorf("_smtp._tls TXT %q", got)
	}
	if mx := ask("hill.test.", dns.TypeMX); len(mx) != 1 || mx[0].(*dns.MX).Mx != "mx.hill.test." {
		t.Errorf("MX %v", mx)
	}
	keys, err := dkim.Open(dkim.DirIn(cfg.DataDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(ks []dkim.Key) {
		t.Helper()
		for _, k := range ks {
			if got := txt(k.Name()); got != k.TXT() {
				t.Errorf("%s: %q, want %q", k.Name(), got, k.TXT())
			}
		}
	}
	ks, err := keys.Keys("hill.test")
	if err != nil || len(ks) != 2 {
		t.Fatalf("keys %v, %v", ks, err)
	}
	check(ks)
	// pail dkim rotate, then SIGHUP: the new selectors are answered.
	ks, err = keys.Rotate("hill.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	check(ks)
	if len(ks) != 4 {
		t.Errorf("%d keys after a rotation", len(ks))
	}
}
