package config

import (
	"strings"
	"testing"
)

// FuzzParse checks that no config text crashes the parser or the
// validation, and that an accepted config names its domains in lower case.
func FuzzParse(f *testing.F) {
	f.Add("hostname = \"mx.hill.com\"\ndomains = [\"Hill.com\"]\n[limits]\nmax_recipients = 5\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg := Default()
		if err := cfg.parse(text); err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			return
		}
		for _, d := range cfg.Domains {
			if d != strings.ToLower(d) {
				t.Fatalf("domain %q not lower case", d)
			}
		}
	})
}
