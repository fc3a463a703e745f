package dnsrecords

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/mtasts"
)

// quoted matches a character-string of a printed TXT record.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// parse prints rrs and parses every line back as a zone-file record, as
// a name server loading the pasted lines would.
func parse(t *testing.T, rrs []dns.RR) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, rr := range rrs {
		line := rr.String()
		back, err := dns.NewRR(line)
		if err != nil || back == nil {
			t.Fatalf("line %q does not parse: %v", line, err)
		}
		if !strings.HasSuffix(back.Header().Name, ".") || back.Header().Ttl != TTL {
			t.Errorf("line %q: name or TTL", line)
		}
		// The printed strings themselves, not only the parsed ones (a
		// parser may split a long string on its own; BIND's refuses it).
		for _, q := range quoted.FindAllString(line, -1) {
			if len(q)-2 > maxTXTString {
				t.Errorf("line %q: a string of %d bytes", line, len(q)-2)
			}
		}
		out = append(out, back)
	}
	return out
}

// publicKey is the p= value a verifier would compute from k's key.
func publicKey(t *testing.T, k dkim.Key) string {
	t.Helper()
	switch pub := k.Signer().Public().(type) {
	case ed25519.PublicKey:
		return base64.StdEncoding.EncodeToString(pub)
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(der)
	}
}

// TestDomainRecords: every record parses back from its printed line with
// the expected name, type and value; the DKIM records carry the public
// keys of the active and retiring selectors, an RSA one in strings of at
// most 255 bytes; services that do not listen get the "." target.
func TestDomainRecords(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "MX.Hill.Test"
	cfg.Domains = []string{"hill.test", "dale.test"}
	cfg.Listen = config.Listen{SMTP: ":25", Submission: ":587", Submissions: "[::]:465", IMAPS: "0.0.0.0:993", HTTPS: ":443"}
	store, err := dkim.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Ensure("hill.test"); err != nil {
		t.Fatal(err)
	}
	keys, err := store.Rotate("hill.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("%d keys after a rotation", len(keys))
	}
	if _, err := Domain(cfg, "far.test", keys); err == nil || !strings.Contains(err.Error(), "far.test is not a local domain") {
		t.Errorf("foreign domain: %v", err)
	}
	rrs, err := Domain(cfg, "Hill.Test.", keys)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // "name type" -> value(s)
	dkimP := map[string]string{}
	for _, rr := range parse(t, rrs) {
		h := rr.Header()
		key := h.Name + " " + dns.TypeToString[h.Rrtype]
		switch rr := rr.(type) {
		case *dns.MX:
			got[key] = fmt.Sprintf("%s %d", rr.Mx, rr.Preference)
		case *dns.CNAME:
			got[key] = rr.Target
		case *dns.SRV:
			got[key] = fmt.Sprintf("%d %d %d %s", rr.Priority, rr.Weight, rr.Port, rr.Target)
		case *dns.TXT:
			for _, s := range rr.Txt {
				if len(s) > maxTXTString {
					t.Errorf("%s: a string of %d bytes", h.Name, len(s))
				}
			}
			v := strings.Join(rr.Txt, "")
			got[key] = v
			if sel, ok := strings.CutSuffix(h.Name, "._domainkey.hill.test."); ok {
				_, p, _ := strings.Cut(v, "; p=")
				dkimP[sel] = p
				if strings.Contains(v, "k=rsa") && len(rr.Txt) < 2 {
					t.Errorf("RSA key record in one string: %q", rr.Txt)
				}
			}
		default:
			t.Errorf("unexpected record %s", rr)
		}
	}
	want := map[string]string{
		"hill.test. MX":                     "mx.hill.test. 10",
		"hill.test. TXT":                    "v=spf1 mx -all",
		"_dmarc.hill.test. TXT":             "v=DMARC1; p=reject; rua=mailto:postmaster@hill.test",
		"_mta-sts.hill.test. TXT":           "v=STSv1; id=" + MTASTSPolicy(cfg).ID(),
		"mta-sts.hill.test. CNAME":          "mx.hill.test.",
		"_smtp._tls.hill.test. TXT":         "v=TLSRPTv1; rua=mailto:postmaster@hill.test",
		"_submissions._tcp.hill.test. SRV":  "0 1 465 mx.hill.test.",
		"_submission._tcp.hill.test. SRV":   "10 1 587 mx.hill.test.",
		"_imaps._tcp.hill.test. SRV":        "0 1 993 mx.hill.test.",
		"_imap._tcp.hill.test. SRV":         "0 0 0 .",
		"_pop3s._tcp.hill.test. SRV":        "0 0 0 .",
		"_pop3._tcp.hill.test. SRV":         "0 0 0 .",
		"autoconfig.hill.test. CNAME":       "mx.hill.test.",
		"_autodiscover._tcp.hill.test. SRV": "0 1 443 mx.hill.test.",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want)+len(keys) {
		t.Errorf("%d records, want %d: %v", len(got), len(want)+len(keys), got)
	}
	for _, k := range keys {
		if dkimP[k.Selector] != publicKey(t, k) {
			t.Errorf("%s (%s, %s): p=%q, want the key's public key", k.Selector, k.Algorithm, k.State, dkimP[k.Selector])
		}
	}
}

// TestMTASTSRecords: the _mta-sts record carries the id of the policy
// served, which names the MX host and changes with the mode; without
// listen.https no policy is served and no _mta-sts or mta-sts record is
// made, while the TLS-RPT record stays.
func TestMTASTSRecords(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "MX.Hill.Test."
	cfg.Domains = []string{"hill.test"}
	cfg.Listen = config.Listen{SMTP: ":25", HTTPS: ":443"}
	p := MTASTSPolicy(cfg)
	if p.Mode != mtasts.ModeTesting || len(p.MX) != 1 || p.MX[0] != "mx.hill.test" || p.MaxAge != 7*24*time.Hour {
		t.Errorf("policy with a self-signed certificate: %+v", *p)
	}
	if !p.Matches("mx.hill.test.") {
		t.Errorf("the served policy does not allow the MX host")
	}
	cfg.TLS = config.TLS{Cert: "/etc/pail/cert.pem", Key: "/etc/pail/key.pem"}
	if q := MTASTSPolicy(cfg); q.Mode != mtasts.ModeEnforce || q.ID() == p.ID() {
		t.Errorf("with real certificates: %+v, id %s (was %s)", *q, q.ID(), p.ID())
	}
	find := func(rrs []dns.RR, name string) dns.RR {
		for _, rr := range rrs {
			if rr.Header().Name == name {
				return rr
			}
		}
		return nil
	}
	rrs, err := Domain(cfg, "hill.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := find(rrs, "_mta-sts.hill.test.").(*dns.TXT)
	if !ok {
		t.Fatalf("no _mta-sts record: %v", rrs)
	}
	r, err := mtasts.RecordFrom([]string{strings.Join(rec.Txt, "")})
	if err != nil || r.ID != MTASTSPolicy(cfg).ID() {
		t.Errorf("_mta-sts record %q: %+v, %v; want id %s", rec.Txt, r, err, MTASTSPolicy(cfg).ID())
	}
	cfg.Listen.HTTPS = ""
	rrs, _ = Domain(cfg, "hill.test", nil)
	if find(rrs, "_mta-sts.hill.test.") != nil || find(rrs, "mta-sts.hill.test.") != nil || find(rrs, "_smtp._tls.hill.test.") == nil {
		t.Errorf("without listen.https: %v", rrs)
	}
}

// With outbound.source the SPF record names the address mail leaves from.
func TestSPFSource(t *testing.T) {
	for src, want := range map[string]string{
		"":             "v=spf1 mx -all",
		"192.0.2.25":   "v=spf1 mx ip4:192.0.2.25 -all",
		"2001:db8::25": "v=spf1 mx ip6:2001:db8::25 -all",
	} {
		cfg := config.Default()
		cfg.Outbound.Source = src
		if got := spf(cfg); got != want {
			t.Errorf("source %q: %q, want %q", src, got, want)
		}
	}
}

// TestAutoconfigRecords: autoconfig.DOMAIN names the host whenever a web
// listener serves the autoconfiguration, _autodiscover._tcp only with
// https (Outlook POSTs over HTTPS alone), on its port; with neither
// listener there is nothing to point at.
func TestAutoconfigRecords(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mx.hill.test"
	cfg.Domains = []string{"hill.test"}
	for _, tc := range []struct {
		listen     config.Listen
		cname, srv string
	}{
		{config.Listen{SMTP: ":25", IMAPS: ":993", HTTP: ":80"}, "mx.hill.test.", ""},
		{config.Listen{SMTP: ":25", IMAPS: ":993", HTTPS: "0.0.0.0:8443"}, "mx.hill.test.", "0 1 8443 mx.hill.test."},
		{config.Listen{SMTP: ":25", IMAPS: ":993"}, "", ""},
	} {
		cfg.Listen = tc.listen
		if ServesAutoconfig(cfg) != (tc.cname != "") {
			t.Errorf("%+v: ServesAutoconfig %v", tc.listen, ServesAutoconfig(cfg))
		}
		rrs, err := Domain(cfg, "hill.test", nil)
		if err != nil {
			t.Fatal(err)
		}
		var cname, srv string
		for _, rr := range rrs {
			switch {
			case rr.Header().Name == "autoconfig.hill.test.":
				cname = rr.(*dns.CNAME).Target
			case rr.Header().Name == "_autodiscover._tcp.hill.test.":
				s := rr.(*dns.SRV)
				srv = fmt.Sprintf("%d %d %d %s", s.Priority, s.Weight, s.Port, s.Target)
			}
		}
		if cname != tc.cname || srv != tc.srv {
			t.Errorf("%+v: autoconfig %q, _autodiscover %q; want %q, %q", tc.listen, cname, srv, tc.cname, tc.srv)
		}
	}
}
