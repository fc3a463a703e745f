package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultACMEDirectory is Let's Encrypt's production directory, the CA
// that [acme] uses unless told otherwise.
const DefaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// DefaultACMERenewBefore is how long before expiry a certificate is
// renewed: Let's Encrypt's certificates live 90 days and its own advice
// is to renew with a third of the lifetime left.
const DefaultACMERenewBefore = 30 * 24 * time.Hour

// ACME configures certificates obtained from an ACME directory (RFC 8555,
// package acme): the [acme] section. Off unless Enabled is set.
type ACME struct {
	// Enabled turns ACME on: certificates for Hosts are obtained at start
	// and renewed, and every TLS listener presents them; until one exists
	// the [tls] (or self-signed) certificate is served.
	Enabled bool `toml:"enabled"`
	// Directory is the URL of the CA's ACME directory.
	Directory string `toml:"directory"`
	// Email is the contact address given to the CA (optional).
	Email string `toml:"email"`
	// Hosts are the names certificates are obtained for; empty means the
	// host name and mta-sts.D and autoconfig.D for every local domain D
	// (see ACMEHosts).
	Hosts []string `toml:"hosts"`
	// CAFile is a PEM file of certificates trusted, besides the system's,
	// for the directory's own HTTPS (a private CA such as pebble).
	CAFile string `toml:"ca_file"`
	// RenewBefore is how long before expiry a certificate is renewed.
	RenewBefore Duration `toml:"renew_before"`
}

// defaultACME returns the [acme] defaults: off, Let's Encrypt, renewal 30
// days before expiry.
func defaultACME() ACME {
	return ACME{Directory: DefaultACMEDirectory, RenewBefore: Duration{DefaultACMERenewBefore}}
}

// ACMEHosts returns the names [acme] obtains certificates for: acme.hosts,
// or by default the host name, then mta-sts.D and autoconfig.D for every
// local domain D (the names MTA-STS and client autoconfiguration are
// fetched from). Names are lower case, without a trailing dot, each once.
func (cfg *Config) ACMEHosts() []string {
	hosts := cfg.ACME.Hosts
	if len(hosts) == 0 {
		hosts = []string{cfg.Hostname}
		for _, d := range cfg.Domains {
			hosts = append(hosts, "mta-sts."+d, "autoconfig."+d)
		}
	}
	var out []string
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// validate checks the [acme] section when it is enabled; errors name the
// key.
func (a *ACME) validate(cfg *Config) error {
	if !a.Enabled {
		return nil
	}
	u, err := url.Parse(a.Directory)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("acme.directory: %q is not an http(s) URL", a.Directory)
	}
	if a.Email != "" && (!strings.Contains(a.Email, "@") || strings.ContainsAny(a.Email, " \t\r\n<>")) {
		return fmt.Errorf("acme.email: %q is not an address", a.Email)
	}
	key := "acme.hosts"
	if len(a.Hosts) == 0 {
		key = "acme.hosts (default: hostname, mta-sts. and autoconfig. of each domain)"
	}
	for _, h := range cfg.ACMEHosts() {
		// A CA issues for fully qualified names only; autocert refuses a
		// name without a dot. Wildcards need DNS-01, which pail lacks.
		if !validDomain(h) || !strings.Contains(h, ".") || strings.Contains(h, "_") || net.ParseIP(h) != nil {
			return fmt.Errorf("%s: %q is not a fully qualified host name", key, h)
		}
	}
	if a.RenewBefore.Duration <= 0 {
		return fmt.Errorf("acme.renew_before: %s must be positive", a.RenewBefore)
	}
	if cfg.Listen.HTTP == "" && cfg.Listen.HTTPS == "" {
		return fmt.Errorf("acme.enabled: needs [listen] http (HTTP-01) or https (TLS-ALPN-01) for the CA's challenges")
	}
	return nil
}
