package config

// TLSRPT configures SMTP TLS reporting (RFC 8460, package tlsrpt):
// counting the outcome of outbound TLS sessions and sending the daily
// reports to the domains that ask for them. Reports received for the
// local domains are stored whatever is set here.
type TLSRPT struct {
	// Enabled sends the daily reports (default true); counts are kept
	// either way, for `pail tlsrpt show`.
	Enabled bool `toml:"enabled"`
	// Organization is the report's organization-name; empty means the
	// host name.
	Organization string `toml:"organization"`
	// Contact is the report's contact-info; empty means postmaster@ the
	// first local domain.
	Contact string `toml:"contact"`
	// From is the address reports are mailed from; it must be at a local
	// domain so that they are DKIM-signed (RFC 8460 §5.3). Empty means
	// postmaster@ the first local domain.
	From string `toml:"from"`
}

// ReportOrganization returns the organization-name reports carry.
func (cfg *Config) ReportOrganization() string {
	if cfg.TLSRPT.Organization != "" {
		return cfg.TLSRPT.Organization
	}
	return cfg.Hostname
}

// ReportContact returns the contact-info reports carry.
func (cfg *Config) ReportContact() string {
	if cfg.TLSRPT.Contact != "" {
		return cfg.TLSRPT.Contact
	}
	return "postmaster@" + cfg.Domains[0]
}

// ReportFrom returns the address reports are mailed from.
func (cfg *Config) ReportFrom() string {
	if cfg.TLSRPT.From != "" {
		return cfg.TLSRPT.From
	}
	return "postmaster@" + cfg.Domains[0]
}

func (t TLSRPT) validate(cfg *Config) error {
	return checkLocalFrom(cfg, "tlsrpt.from", t.From, "reports must be DKIM-signed, RFC 8460 §5.3")
}
