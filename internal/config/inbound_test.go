package config

import (
	"slices"
	"strings"
	"testing"
)

func TestInboundSection(t *testing.T) {
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
