package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestACMEDefaults: [acme] is off by default (pail serve on loopback keeps
// its self-signed certificate), points at Let's Encrypt, renews 30 days
// ahead, and obtains certificates for the host name and the mta-sts. and
// autoconfig. names of every local domain.
func TestACMEDefaults(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ACME.Enabled || cfg.ACME.Directory != "https://acme-v02.api.letsencrypt.org/directory" ||
		cfg.ACME.RenewBefore.Duration != 30*24*time.Hour {
		t.Errorf("acme defaults: %+v", cfg.ACME)
	}
	cfg, err = load(t, "hostname = \"MX.hill.test\"\ndomains = [\"hill.test\", \"dale.test\"]\n[acme]\nenabled = true\nemail = \"ops@hill.test\"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mx.hill.test", "mta-sts.hill.test", "autoconfig.hill.test", "mta-sts.dale.test", "autoconfig.dale.test"}
	if got := cfg.ACMEHosts(); !slices.Equal(got, want) {
		t.Errorf("default hosts %v, want %v", got, want)
	}
	cfg, err = load(t, "hostname = \"mx.hill.test\"\ndomains = [\"hill.test\"]\n[acme]\nenabled = true\nhosts = [\"Mail.hill.test.\", \"mail.hill.test\"]\nrenew_before = \"720h\"\nca_file = \"/etc/pebble.pem\"\ndirectory = \"https://127.0.0.1:14000/dir\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ACMEHosts(); !slices.Equal(got, []string{"mail.hill.test"}) || cfg.ACME.CAFile != "/etc/pebble.pem" {
		t.Errorf("hosts %v, %+v", got, cfg.ACME)
	}
}

// TestACMEValidate: each bad [acme] value stops loading with an error that
// names its key; a disabled section is not checked.
func TestACMEValidate(t *testing.T) {
	const head = "hostname = \"mx.hill.test\"\ndomains = [\"hill.test\"]\n"
	for _, tc := range []struct{ text, want string }{
		{"[acme]\nenabled = true\ndirectory = \"ftp://x\"\n", "acme.directory"},
		{"[acme]\nenabled = true\ndirectory = \"\"\n", "acme.directory"},
		{"[acme]\nenabled = true\nemail = \"nobody\"\n", "acme.email"},
		{"[acme]\nenabled = true\nhosts = [\"*.hill.test\"]\n", "acme.hosts"},
		{"[acme]\nenabled = true\nhosts = [\"mx\"]\n", "acme.hosts"},
		{"[acme]\nenabled = true\nhosts = [\"192.0.2.1\"]\n", "acme.hosts"},
		{"[acme]\nenabled = true\nrenew_before = \"0s\"\n", "acme.renew_before"},
		{"[acme]\nenabled = true\nrenew_before = \"soon\"\n", "renew_before"},
		{"[listen]\nsmtp = \"127.0.0.1:25\"\n[acme]\nenabled = true\n", "acme.enabled"},
		{"[acme]\nEnabled = true\n", `unknown key "acme.Enabled"`},
		{"[acme]\nenabled = true\nhost = [\"mx.hill.test\"]\n", `unknown key "acme.host"`},
	} {
		_, err := load(t, head+tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one naming %s", tc.text, err, tc.want)
		}
	}
	// The default host name of a machine without a domain: refused only
	// when ACME is on.
	if _, err := load(t, "hostname = \"box\"\n"); err != nil {
		t.Errorf("acme off, short host name: %v", err)
	}
	if _, err := load(t, "hostname = \"box\"\n[acme]\nenabled = true\n"); err == nil || !strings.Contains(err.Error(), "acme.hosts (default") {
		t.Errorf("acme on, short host name: %v", err)
	}
}
