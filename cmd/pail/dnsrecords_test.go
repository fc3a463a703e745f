package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"pail/internal/acme"
	"pail/internal/config"
	"pail/internal/dnsrecords"
	"pail/internal/tlsconf"
)

// TestDNSRecords: pail dns-records prints zone-file lines that parse,
// with the DKIM keys pail dkim list shows (made on first use), the
// listeners of the config as SRV records, and refuses a domain that is
// not local.
func TestDNSRecords(t *testing.T) {
	p := newPail(t)
	text, err := os.ReadFile(p.config)
	if err != nil {
		t.Fatal(err)
	}
	text = append(text, "[listen]\nsmtp = \"127.0.0.1:0\"\nsubmissions = \"127.0.0.1:465\"\nimaps = \"127.0.0.1:993\"\nhttps = \"127.0.0.1:8443\"\n"...)
	if err := os.WriteFile(p.config, text, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.run("", "dns-records", "far.test"); err == nil || !strings.Contains(err.Error(), "far.test is not a local domain") {
		t.Errorf("foreign domain: %v", err)
	}
	out := p.must("", "dns-records", "hill.test")
	values := map[string]string{}
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			t.Fatalf("line %q: %v", line, err)
		}
		v := strings.TrimPrefix(rr.String(), rr.Header().String())
		if txt, ok := rr.(*dns.TXT); ok {
			v = strings.Join(txt.Txt, "")
		}
		values[rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype]] = v
	}
	if !strings.Contains(out, "; MTA-STS: senders fetch the policy from https://mta-sts.hill.test/ on port 443; listen.https is port 8443") {
		t.Errorf("no comment on the https port:\n%s", out)
	}
	if !strings.Contains(out, "; Autoconfig: mail clients fetch http://autoconfig.hill.test/ (port 80) and https://autoconfig.hill.test/ (port 443)") {
		t.Errorf("no comment on the autoconfig ports:\n%s", out)
	}
	cfg, err := config.Load(p.config)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"hill.test. MX":                     "10 mx.hill.test.",
		"hill.test. TXT":                    "v=spf1 mx -all",
		"_dmarc.hill.test. TXT":             "v=DMARC1; p=reject; rua=mailto:postmaster@hill.test",
		"_mta-sts.hill.test. TXT":           "v=STSv1; id=" + dnsrecords.MTASTSPolicy(cfg).ID(),
		"mta-sts.hill.test. CNAME":          "mx.hill.test.",
		"autoconfig.hill.test. CNAME":       "mx.hill.test.",
		"_autodiscover._tcp.hill.test. SRV": "0 1 8443 mx.hill.test.",
		"_smtp._tls.hill.test. TXT":         "v=TLSRPTv1; rua=mailto:postmaster@hill.test",
		"_submissions._tcp.hill.test. SRV":  "0 1 465 mx.hill.test.",
		"_imaps._tcp.hill.test. SRV":        "0 1 993 mx.hill.test.",
		"_pop3s._tcp.hill.test. SRV":        "0 0 0 .",
		"_submission._tcp.hill.test. SRV":   "0 0 0 .",
	} {
		if values[k] != v {
			t.Errorf("%s = %q, want %q\n%s", k, values[k], v, out)
		}
	}
	// The keys were made by dns-records; dkim list shows the same ones.
	list := p.must("", "dkim", "list")
	n := 0
	for line := range strings.Lines(list) {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "hill.test" {
			continue
		}
		n++
		txt := strings.Join(strings.Fields(line)[5:], " ")
		if got := values[f[1]+"._domainkey.hill.test. TXT"]; got != txt {
			t.Errorf("selector %s: dns-records %q, dkim list %q", f[1], got, txt)
		}
	}
	if n != 2 {
		t.Errorf("dkim list:\n%s", list)
	}
}

// TestDNSRecordsTLSA: pail dns-records shows the TLSA record of the
// self-signed certificate on disk, as a comment with the reason while
// pail's name server does not publish it (no signed zone holding the
// host; with [acme] a warning that renewals may change the key), and as
// a record when it does; nothing before the certificate exists.
func TestDNSRecordsTLSA(t *testing.T) {
	p := newPail(t)
	base, err := os.ReadFile(p.config)
	if err != nil {
		t.Fatal(err)
	}
	setConf := func(extra string) {
		t.Helper()
		if err := os.WriteFile(p.config, append(append([]byte{}, base...), extra...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out := p.must("", "dns-records", "hill.test"); !strings.Contains(out, "; DANE: no certificate yet") || strings.Contains(out, "IN\tTLSA") {
		t.Errorf("before the certificate exists:\n%s", out)
	}
	cfg, err := config.Load(p.config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconf.NewCerts("", "", cfg.DataDir, []string{"mx.hill.test"}); err != nil {
		t.Fatal(err)
	}
	cert, err := tlsconf.ReadLeaf("", cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	record := dnsrecords.TLSA("mx.hill.test", cert).String()
	for _, tc := range []struct {
		name, extra, note, line string
	}{
		{"no name server", "", "; DANE: pail's name server serves no zone holding mx.hill.test", "; " + record},
		{"acme", "[listen]\nhttp = \"127.0.0.1:0\"\n[acme]\nenabled = true\n", "; DANE: WARNING: not published: with [acme] a renewal may change the certificate's key", "; " + record},
		{"signed zone", "[dns]\nlisten = \"127.0.0.1:0\"\ndnssec = true\n[[dns.zones]]\norigin = \"hill.test\"\n", "", record},
		{"tlsa = false", "[dns]\ntlsa = false\n", "; DANE: dns.tlsa = false", ""},
	} {
		setConf(tc.extra)
		out := p.must("", "dns-records", "hill.test")
		if !strings.Contains(out, tc.note) || (tc.line != "" && !strings.Contains(out, "\n"+tc.line+"\n")) {
			t.Errorf("%s: want %q and line %q:\n%s", tc.name, tc.note, tc.line, out)
		}
		if tc.line == "" && strings.Contains(out, "IN\tTLSA") {
			t.Errorf("%s: a TLSA record:\n%s", tc.name, out)
		}
	}

	// With [acme] and a certificate in the ACME cache, the record is that
	// certificate's, the one port 25 presents (autocert's cache file: the
	// key's PEM block, then the chain).
	other, err := tlsconf.NewCerts("", "", t.TempDir(), []string{"mx.hill.test"})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := os.ReadFile(other.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(filepath.Dir(other.CertFile()), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cache := acme.CachedCertFile(filepath.Join(cfg.DataDir, "acme"), "mx.hill.test")
	if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cache, append(keyPEM, chain...), 0o600); err != nil {
		t.Fatal(err)
	}
	setConf("[listen]\nhttp = \"127.0.0.1:0\"\n[acme]\nenabled = true\n")
	acmeRecord := "; " + dnsrecords.TLSA("mx.hill.test", other.Leaf()).String()
	if out := p.must("", "dns-records", "hill.test"); !strings.Contains(out, "\n"+acmeRecord+"\n") || acmeRecord == "; "+record {
		t.Errorf("acme with a cached certificate: want %q:\n%s", acmeRecord, out)
	}
}
