package config

import (
	"strings"
	"testing"
)

func TestTLSRPTSection(t *testing.T) {
	cfg, err := load(t, "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\", \"dale.com\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.TLSRPT.Enabled || cfg.ReportOrganization() != "mx.hill.com" || cfg.ReportContact() != "postmaster@hill.com" || cfg.ReportFrom() != "postmaster@hill.com" {
		t.Errorf("default [tlsrpt]: %+v %q %q %q", cfg.TLSRPT, cfg.ReportOrganization(), cfg.ReportContact(), cfg.ReportFrom())
	}
	cfg, err = load(t, `
hostname = "mx.hill.com"
domains = ["hill.com", "dale.com"]

[tlsrpt]
enabled = false
organization = "Hill Mail"
contact = "https://hill.com/tls"
from = "tls-reports@dale.com"
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSRPT.Enabled || cfg.ReportOrganization() != "Hill Mail" || cfg.ReportContact() != "https://hill.com/tls" || cfg.ReportFrom() != "tls-reports@dale.com" {
		t.Errorf("[tlsrpt] = %+v", cfg.TLSRPT)
	}
	for text, want := range map[string]string{
		"[tlsrpt]\nEnabled = true\n":           `unknown key "tlsrpt.Enabled"`,
		"[tlsrpt]\nfrom = \"x@far.com\"\n":     `tlsrpt.from: "x@far.com" is not an address at a local domain`,
		"[tlsrpt]\nfrom = \"nobody\"\n":        `tlsrpt.from`,
		"[tlsrpt]\nrua = \"mailto:x@y.com\"\n": `unknown key "tlsrpt.rua"`,
	} {
		_, err := load(t, "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"+text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}
