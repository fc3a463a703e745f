package config

import (
	"fmt"
	"strings"
)

// Doctor configures `pail doctor` ([doctor]), the checks of DNS,
// certificates and the data directory that an operator runs by hand or
// from cron.
type Doctor struct {
	// DNSBL are the DNS blocklist zones (RFC 5782) the outbound address
	// is looked up in, such as "zen.spamhaus.org"; empty: none is asked.
	DNSBL []string `toml:"dnsbl"`
}

// validate checks the [doctor] section and normalises the zones to lower
// case without a trailing dot.
func (d *Doctor) validate() error {
	for i, z := range d.DNSBL {
		n := strings.ToLower(strings.TrimSuffix(z, "."))
		if !validDomain(n) {
			return fmt.Errorf("doctor.dnsbl: %q is not a domain name", z)
		}
		d.DNSBL[i] = n
	}
	return nil
}
