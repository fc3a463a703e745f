package config

import (
	"strings"
	"testing"
)

func TestDMARCSection(t *testing.T) {
	cfg, err := load(t, "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\", \"dale.com\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DMARC.Reports || cfg.DMARCOrganization() != "mx.hill.com" || cfg.DMARCContact() != "postmaster@mx.hill.com" || cfg.DMARCFrom() != "postmaster@hill.com" {
		t.Errorf("default [dmarc]: %+v %q %q %q", cfg.DMARC, cfg.DMARCOrganization(), cfg.DMARCContact(), cfg.DMARCFrom())
	}
	cfg, err = load(t, `
hostname = "mx.hill.com"
domains = ["hill.com", "dale.com"]

[dmarc]
reports = true
organization = "Hill Mail"
contact = "dmarc-help@hill.com"
from = "dmarc-reports@dale.com"
`)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DMARC.Reports || cfg.DMARCOrganization() != "Hill Mail" || cfg.DMARCContact() != "dmarc-help@hill.com" || cfg.DMARCFrom() != "dmarc-reports@dale.com" {
		t.Errorf("[dmarc] = %+v", cfg.DMARC)
	}
	for text, want := range map[string]string{
		"[dmarc]\nenabled = true\n":        `unknown key "dmarc.enabled"`,
		"[dmarc]\nfrom = \"x@far.com\"\n":  `dmarc.from: "x@far.com" is not an address at a local domain`,
		"[dmarc]\ncontact = \"nobody\"\n":  `dmarc.contact`,
		"[dmarc]\nreports = \"yes\"\n":     `dmarc.reports`,
		"[tlsrpt]\nfrom = \"x@far.com\"\n": `tlsrpt.from: "x@far.com" is not an address at a local domain`,
	} {
		_, err := load(t, "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"+text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}
