package server

import (
	"github.com/miekg/dns"

	"pail/internal/config"
	"pail/internal/dnsrecords"
)

// hostTLSA is the TLSA record of the host name's SMTP service (RFC 7672
// §3.1.1: DANE-EE, the SPKI's SHA-256) for the certificate port 25
// presents now, when dnsrecords.HostDANE finds it safe to publish: the
// host in a zone served here, the zones signed, the certificate from
// [tls] or self-signed (not ACME). ownRecords calls it at start and at
// each reload, after the certificate files are read again, so that the
// record follows the key in use.
func (s *Server) hostTLSA(cfg *config.Config) []dns.RR {
	if s.certs == nil {
		return nil
	}
	d := dnsrecords.HostDANE(cfg, dnsrecords.ServedZones(cfg.DNS), s.certs.Leaf())
	if !d.Publish {
		if d.Warn {
			// d.Record is the fallback certificate's here, not the ACME
			// one's: pail dns-records reads the ACME cache.
			s.log.Info("dns: the TLSA record of the SMTP service is not published: with [acme] a renewal may change the key (pail dns-records shows the record)")
		}
		return nil
	}
	s.log.Info("dns: publishing the TLSA record of the SMTP service", "record", d.Record.String())
	return []dns.RR{d.Record}
}
