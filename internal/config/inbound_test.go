package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInboundBlocklistKeys(t *testing.T) {
	const head = "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"
	cfg, err := load(t, head)
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Inbound
	if len(in.DNSBL) != 0 || in.DNSBLAction != DNSBLReject || in.Greylist || in.CheckLoopback ||
		in.GreylistDelay.Duration != 5*time.Minute || in.GreylistExpire.Duration != 35*24*time.Hour {
		t.Errorf("default [inbound] = %+v", in)
	}
	cfg, err = load(t, head+`
[inbound]
dnsbl = ["Zen.Example.ORG.", "bl.example.net"]
dnsbl_action = "score"
greylist = true
greylist_delay = "1s"
greylist_expire = "30d"
check_loopback = true
`)
	if err != nil {
		t.Fatal(err)
	}
	in = cfg.Inbound
	if !slices.Equal(in.DNSBL, []string{"zen.example.org", "bl.example.net"}) || in.DNSBLAction != DNSBLScore || !in.Greylist ||
		!in.CheckLoopback || in.GreylistDelay.Duration != time.Second || in.GreylistExpire.Duration != 720*time.Hour {
		t.Errorf("[inbound] = %+v", in)
	}
	for text, want := range map[string]string{
		"[inbound]\ndnsbl = [\"not a name\"]\n":                          `inbound.dnsbl: "not a name" is not a valid domain name`,
		"[inbound]\ndnsbl = [\"a.example\", \"A.example.\"]\n":           `inbound.dnsbl: "A.example." is listed twice`,
		"[inbound]\ndnsbl_action = \"drop\"\n":                           `inbound.dnsbl_action: "drop" must be reject or score`,
		"[inbound]\ngreylist_delay = \"-1s\"\n":                          `inbound.greylist_delay`,
		"[inbound]\ngreylist_delay = \"1h\"\ngreylist_expire = \"1h\"\n": `inbound.greylist_expire`,
		"[inbound]\ngreylist_expire = \"1.5d\"\n":                        `"1.5d" is not a duration`,
		"[inbound]\nDNSBL = []\n":                                        `unknown key "inbound.DNSBL"`,
	} {
		_, err := load(t, head+text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}

func TestInboundAuthenticationKeys(t *testing.T) {
	cfg, err := load(t, "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if in := cfg.Inbound; !in.Checks || in.DMARCReject != "reject" || in.DMARCQuarantine != "junk" || in.JunkScore != DefaultJunkScore || len(in.AcceptFrom) != 0 {
		t.Errorf("default [inbound]: %+v", in)
	}
	cfg, err = load(t, `
hostname = "mx.hill.com"
domains = ["hill.com"]

[inbound]
checks = false
dmarc_reject = "junk"
dmarc_quarantine = "inbox"
accept_from = ["Lists.Example.org", "alerts@bank.test"]
junk_score = 6.5
`)
	if err != nil {
		t.Fatal(err)
	}
	if in := cfg.Inbound; in.Checks || in.DMARCReject != "junk" || in.DMARCQuarantine != "inbox" || in.JunkScore != 6.5 ||
		!slices.Equal(in.AcceptFrom, []string{"lists.example.org", "alerts@bank.test"}) {
		t.Errorf("[inbound] = %+v", in)
	}
	for text, want := range map[string]string{
		"[inbound]\ndmarc_reject = \"inbox\"\n":         `inbound.dmarc_reject: "inbox" must be`,
		"[inbound]\ndmarc_quarantine = \"drop\"\n":      `inbound.dmarc_quarantine: "drop" must be`,
		"[inbound]\naccept_from = [\"a@@b\"]\n":         `inbound.accept_from: "a@@b"`,
		"[inbound]\naccept_from = [\"not a domain\"]\n": `inbound.accept_from`,
		"[inbound]\njunk_score = 0\n":                   `inbound.junk_score`,
		"[inbound]\nChecks = true\n":                    `unknown key "inbound.Checks"`,
	} {
		_, err := load(t, "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"+text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}
