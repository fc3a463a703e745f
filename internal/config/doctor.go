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
	// is looked up in, such as "zen.spamhaus.org". nil, the key not set,
	// means the lists of [inbound] dnsbl; an empty list means none is
	// asked. Config.DoctorDNSBL gives the lists that apply.
	DNSBL []string `toml:"dnsbl"`
}

// DoctorDNSBL returns the blocklists `pail doctor` looks the outbound
// address up in: [doctor] dnsbl when it is set, even to an empty list,
// else [inbound] dnsbl, the lists whose listings the MX port refuses
// (an operator who trusts a list against others has reason to check
// their own address on it).
func (cfg *Config) DoctorDNSBL() []string {
	if cfg.Doctor.DNSBL != nil {
		return cfg.Doctor.DNSBL
	}
	return cfg.Inbound.DNSBL
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
