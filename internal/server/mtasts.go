package server

import (
	"github.com/miekg/dns"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsrecords"
	"pail/internal/mtasts"
)

// recordsConfig is the configuration the published records and the
// served MTA-STS policy are made from: the one pail started with, with
// what a reload changes (domains, [dkim], [mta_sts], [dns]) as it is now.
func (s *Server) recordsConfig() *config.Config {
	c := *s.cfg
	c.Domains = *s.domains.Load()
	c.DKIM = *s.dkim.Load()
	c.MTASTS = *s.mtastsCfg.Load()
	c.DNS = *s.dnsCfg.Load()
	return &c
}

// mtastsPolicy is the MTA-STS policy served for domain (RFC 8461 §3.2),
// the one whose id pail dns-records prints; false when domain is not
// local.
func (s *Server) mtastsPolicy(domain string) (*mtasts.Policy, bool) {
	if !s.isLocalDomain(domain) {
		return nil, false
	}
	return dnsrecords.MTASTSPolicy(s.recordsConfig()), true
}

// ownRecords are the records of every local domain, as pail dns-records
// prints them, for the name server to answer where it is authoritative,
// and the TLSA record of the host name's SMTP service where that is safe
// (hostTLSA): made again at start and at each reload, so that they
// follow the DKIM keys (pail dkim rotate), the certificate files and the
// config. A domain whose DKIM keys cannot be read is logged and served
// without them.
func (s *Server) ownRecords() []dns.RR {
	cfg := s.recordsConfig()
	out := s.hostTLSA(cfg)
	for _, d := range cfg.Domains {
		var keys []dkim.Key
		if cfg.DKIM.SignsFor(d) && s.dkimKeys != nil {
			var err error
			if keys, err = s.dkimKeys.Keys(d); err != nil {
				s.log.Warn("dns: DKIM keys not readable; their records are not served", "domain", d, "err", err)
			}
		}
		rrs, err := dnsrecords.Domain(cfg, d, keys)
		if err != nil {
			s.log.Warn("dns: records of a local domain not made", "domain", d, "err", err)
			continue
		}
		out = append(out, rrs...)
	}
	return out
}
