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

// TestDoctorDNSBLDefault: with [doctor] dnsbl not set, pail doctor
// checks the outbound address against [inbound] dnsbl, normalised as
// there; [doctor] dnsbl set overrides it, an empty list too (no list is
// asked). With neither set, no list is.
func TestDoctorDNSBLDefault(t *testing.T) {
	base := "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"
	inbound := "[inbound]\ndnsbl = [\"ZEN.spamhaus.org.\", \"bl.example.net\"]\n"
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		{"neither", "", nil},
		{"inbound only", inbound, []string{"zen.spamhaus.org", "bl.example.net"}},
		{"doctor overrides", inbound + "[doctor]\ndnsbl = [\"Other.example\"]\n", []string{"other.example"}},
		{"doctor empty", inbound + "[doctor]\ndnsbl = []\n", nil},
		{"doctor only", "[doctor]\ndnsbl = [\"bl.example.net\"]\n", []string{"bl.example.net"}},
	} {
		cfg, err := load(t, base+c.text)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := cfg.DoctorDNSBL(); !slices.Equal(got, c.want) {
			t.Errorf("%s: DoctorDNSBL %q, want %q", c.name, got, c.want)
		}
	}
	// Built in code: nil is not set, an empty list is none.
	cfg := Default()
	cfg.Inbound.DNSBL = []string{"bl.example.net"}
	if got := cfg.DoctorDNSBL(); !slices.Equal(got, []string{"bl.example.net"}) {
		t.Errorf("Default with inbound lists: DoctorDNSBL %q", got)
	}
	cfg.Doctor.DNSBL = []string{}
	if got := cfg.DoctorDNSBL(); len(got) != 0 {
		t.Errorf("doctor.dnsbl set empty: DoctorDNSBL %q", got)
	}
}
