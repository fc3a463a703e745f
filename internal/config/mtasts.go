package config

import "fmt"

// DefaultMTASTSMaxAge is the max_age of the policy pail serves, in
// seconds: a week (RFC 8461 §3.2 expects "weeks or greater" to mitigate
// attacks at refresh time; short enough that a change of MX is picked up
// within days).
const DefaultMTASTSMaxAge = 604800

// maxMTASTSMaxAge is RFC 8461 §3.2's "maximum value of 31557600".
const maxMTASTSMaxAge = 31557600

// MTASTS configures the MTA-STS policy (RFC 8461) pail serves for its
// domains at https://mta-sts.DOMAIN/.well-known/mta-sts.txt ([mta_sts]).
type MTASTS struct {
	// Mode is "enforce", "testing" or "none"; empty: "enforce" when the
	// certificates are real (RealCertificates), else "testing".
	Mode string `toml:"mode"`
	// MaxAge is the policy's max_age in seconds.
	MaxAge int `toml:"max_age"`
}

// validate checks the [mta_sts] section.
func (m MTASTS) validate() error {
	switch m.Mode {
	case "", "enforce", "testing", "none":
	default:
		return fmt.Errorf("mta_sts.mode: %q must be enforce, testing or none", m.Mode)
	}
	if m.MaxAge < 1 || m.MaxAge > maxMTASTSMaxAge {
		return fmt.Errorf("mta_sts.max_age: %d must be between 1 and %d seconds", m.MaxAge, maxMTASTSMaxAge)
	}
	return nil
}

// RealCertificates reports whether the TLS certificates are ones other
// servers can verify: the operator configured certificate files, or
// pail gets them from an ACME directory, rather than making a
// self-signed one. The served MTA-STS policy's default mode depends on
// it. Until ACME has issued the certificate for mta-sts.DOMAIN no sender
// can fetch the policy (it must come over verified HTTPS, RFC 8461
// §3.3), so an enforce policy cannot take effect before the certificates
// it relies on exist.
func (cfg *Config) RealCertificates() bool {
	return cfg.TLS.Cert != "" || cfg.ACME.Enabled
}

// MTASTSMode returns the mode of the served MTA-STS policy: the
// configured one, else "enforce" with real certificates and "testing"
// with a self-signed one (which senders cannot verify, so enforcing
// would make them defer every message).
func (cfg *Config) MTASTSMode() string {
	switch {
	case cfg.MTASTS.Mode != "":
		return cfg.MTASTS.Mode
	case cfg.RealCertificates():
		return "enforce"
	}
	return "testing"
}
