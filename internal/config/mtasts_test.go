package config

import (
	"strings"
	"testing"
)

// TestMTASTSSection: [mta_sts] mode defaults to testing with pail's
// self-signed certificate and to enforce with configured certificate
// files; max_age defaults to a week; bad values name their key.
func TestMTASTSSection(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MTASTSMode() != "testing" || cfg.MTASTS.MaxAge != 604800 || cfg.RealCertificates() {
		t.Errorf("default: mode %s, %+v", cfg.MTASTSMode(), cfg.MTASTS)
	}
	cfg, err = load(t, "[tls]\ncert = \"/etc/pail/cert.pem\"\nkey = \"/etc/pail/key.pem\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.RealCertificates() || cfg.MTASTSMode() != "enforce" {
		t.Errorf("with certificate files: mode %s", cfg.MTASTSMode())
	}
	cfg, err = load(t, "[tls]\ncert = \"/etc/pail/cert.pem\"\nkey = \"/etc/pail/key.pem\"\n[mta_sts]\nmode = \"testing\"\nmax_age = 86400\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MTASTSMode() != "testing" || cfg.MTASTS.MaxAge != 86400 {
		t.Errorf("configured: mode %s, %+v", cfg.MTASTSMode(), cfg.MTASTS)
	}
	for text, want := range map[string]string{
		"[mta_sts]\nmode = \"report\"\n":         `mta_sts.mode: "report" must be enforce, testing or none`,
		"[mta_sts]\nmode = \"Enforce\"\n":        `mta_sts.mode: "Enforce"`,
		"[mta_sts]\nmax_age = 0\n":               "mta_sts.max_age: 0 must be between 1 and 31557600",
		"[mta_sts]\nmax_age = 31557601\n":        "mta_sts.max_age: 31557601",
		"[mta_sts]\nMode = \"none\"\n":           `unknown key "mta_sts.Mode"`,
		"[mta_sts]\nmax_age = \"1w\"\n":          "max_age",
		"[MTA_STS]\nmode = \"enforce\"\n":        `unknown key "MTA_STS"`,
		"[mta_sts]\nmode = \"enforce\"\nx = 1\n": `unknown key "mta_sts.x"`,
	} {
		if _, err := load(t, text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", text, err, want)
		}
	}
}
