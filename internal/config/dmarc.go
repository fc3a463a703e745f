package config

import (
	"fmt"
	"strings"
)

// DMARC configures DMARC aggregate reports (RFC 7489 §7.2, package
// dmarcrpt). What the checks of [inbound] find is counted per day either
// way, for `pail dmarc show`, and reports received for the local domains
// are stored whatever is set here; sending is off unless Reports is set.
type DMARC struct {
	// Reports sends the daily aggregate reports to the rua of the
	// domains whose mail was checked (default false: they tell the
	// domain's owner which addresses sent mail to pail in its name).
	Reports bool `toml:"reports"`
	// Organization is the report's org_name; empty means the host name.
	Organization string `toml:"organization"`
	// Contact is the report's email; empty means postmaster@ the host
	// name.
	Contact string `toml:"contact"`
	// From is the address reports are mailed from; it must be at a local
	// domain so that they are DKIM-signed and pass DMARC themselves
	// (RFC 7489 §7.2.1.1). Empty means postmaster@ the first local
	// domain.
	From string `toml:"from"`
}

// DMARCOrganization returns the org_name DMARC reports carry.
func (cfg *Config) DMARCOrganization() string {
	if cfg.DMARC.Organization != "" {
		return cfg.DMARC.Organization
	}
	return cfg.Hostname
}

// DMARCContact returns the email DMARC reports carry.
func (cfg *Config) DMARCContact() string {
	if cfg.DMARC.Contact != "" {
		return cfg.DMARC.Contact
	}
	return "postmaster@" + cfg.Hostname
}

// DMARCFrom returns the address DMARC reports are mailed from.
func (cfg *Config) DMARCFrom() string {
	if cfg.DMARC.From != "" {
		return cfg.DMARC.From
	}
	return "postmaster@" + cfg.Domains[0]
}

func (d DMARC) validate(cfg *Config) error {
	if d.Contact != "" && strings.Count(d.Contact, "@") != 1 {
		return fmt.Errorf("dmarc.contact: %q is not a mail address (RFC 7489 §7.2: report_metadata email)", d.Contact)
	}
	return checkLocalFrom(cfg, "dmarc.from", d.From, "reports must pass DMARC, RFC 7489 §7.2.1.1")
}

// checkLocalFrom checks that addr, when set, is an address at a local
// domain, which pail's outgoing mail is signed for; key and why name the
// setting in the error.
func checkLocalFrom(cfg *Config, key, addr, why string) error {
	if addr == "" {
		return nil
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || !cfg.IsLocalDomain(addr[at+1:]) {
		return fmt.Errorf("%s: %q is not an address at a local domain (%s)", key, addr, why)
	}
	return nil
}
