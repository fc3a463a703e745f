package server

import (
	"slices"
	"testing"

	"pail/internal/config"
)

// TestCertNamesIncludeListenHosts: the self-signed certificate names the
// host name, the domains and each specific listen address, not 0.0.0.0 or
// ::.
func TestCertNamesIncludeListenHosts(t *testing.T) {
	cfg := &config.Config{Hostname: "mx.hill.test", Domains: []string{"hill.test"}}
	cfg.Listen.SMTP = "192.0.2.7:25"
	cfg.Listen.IMAPS = "[2001:db8::7]:993"
	cfg.Listen.POP3S = "0.0.0.0:995"
	cfg.Listen.HTTP = "[::]:8080"
	cfg.Listen.Submission = "mail.hill.test:587"
	got := certNames(cfg)
	for _, want := range []string{"mx.hill.test", "hill.test", "192.0.2.7", "2001:db8::7", "mail.hill.test"} {
		if !slices.Contains(got, want) {
			t.Errorf("certNames = %q, lacks %q", got, want)
		}
	}
	for _, not := range []string{"0.0.0.0", "::"} {
		if slices.Contains(got, not) {
			t.Errorf("certNames = %q, has %q", got, not)
		}
	}
}
