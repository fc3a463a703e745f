package config

import (
	"strings"
	"testing"
)

func TestDKIMSection(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DKIM.SignsFor("localhost") || cfg.DKIM.SelectorsFor("localhost") != nil {
		t.Errorf("default [dkim]: %+v", cfg.DKIM)
	}
	cfg, err = load(t, `
hostname = "mx.hill.com"
domains = ["hill.com", "dale.com", "vale.com"]
data_dir = "/var/lib/pail"

[dkim]
enabled = false

[dkim.domains."Hill.com"]
enabled = true
selectors = ["p20261206r"]

[dkim.domains."dale.com"]
selectors = ["p20261206e"]
`)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DKIM
	if !d.SignsFor("hill.com") || d.SignsFor("dale.com") || d.SignsFor("vale.com") ||
		strings.Join(d.SelectorsFor("HILL.com"), ",") != "p20261206r" || d.SelectorsFor("vale.com") != nil {
		t.Errorf("[dkim] = %+v", d)
	}
	for text, want := range map[string]string{
		"[dkim]\nEnabled = true\n":                          `unknown key "dkim.Enabled"`,
		"[dkim.domains.\"hill.com\"]\nselector = [\"a\"]\n": `unknown key "dkim.domains.\"hill.com\".selector"`,
		"[dkim.domains.\"far.com\"]\nenabled = false\n":     `dkim.domains: "far.com" is not one of the local domains`,
	} {
		_, err := load(t, "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"+text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}
