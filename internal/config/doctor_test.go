package config

import (
	"slices"
	"strings"
	"testing"
)

// TestDoctorSection: [doctor] dnsbl is empty by default, read and
// normalised when set, and a zone that is not a domain name stops
// loading with the key named.
func TestDoctorSection(t *testing.T) {
	base := "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"
	cfg, err := load(t, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Doctor.DNSBL) != 0 {
		t.Errorf("default doctor.dnsbl %v", cfg.Doctor.DNSBL)
	}
	cfg, err = load(t, base+"[doctor]\ndnsbl = [\"Zen.Spamhaus.Org.\", \"bl.example\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"zen.spamhaus.org", "bl.example"}; !slices.Equal(cfg.Doctor.DNSBL, want) {
		t.Errorf("doctor.dnsbl %v, want %v", cfg.Doctor.DNSBL, want)
	}
	for text, want := range map[string]string{
		"[doctor]\ndnsbl = [\"bad..zone\"]\n": `doctor.dnsbl: "bad..zone" is not a domain name`,
		"[doctor]\ndnsbl = \"zen.test\"\n":    `dnsbl`,
		"[doctor]\nlists = []\n":              `unknown key "doctor.lists"`,
	} {
		if _, err := load(t, base+text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}
