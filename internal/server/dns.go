package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"pail/internal/dnsd"
)

// addDNS prepares the authoritative name server when [dns] listen is set:
// one service named "dns" on UDP and TCP of the same address. In the
// zones it serves it also answers the local domains' own records
// (ownRecords), where the zone files do not have them. With dns.tls_listen
// set, a second service, "dns-tls", answers DNS over TLS (RFC 7858) with
// the certificate every TLS listener uses (tlsCfg).
func (s *Server) addDNS(tlsCfg *tls.Config) error {
	if s.cfg.DNS.Listen == "" {
		return nil
	}
	d, err := dnsd.NewWithRecords(s.cfg.DNS, s.log.With("proto", "dns"), s.ownRecords)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, d)
	s.dns = d
	pc, ln, err := dnsd.Listen(s.cfg.DNS.Listen)
	if err != nil {
		return fmt.Errorf("dns.listen: %w", err)
	}
	s.closers = append(s.closers, pc, ln)
	run := func(ln net.Listener) error {
		udp := make(chan error, 1)
		go func() { udp <- d.ServeUDP(pc) }()
		err := d.ServeTCP(ln)
		return errors.Join(err, <-udp)
	}
	s.services = append(s.services, service{name: "dns", ln: ln, run: run, stop: d.Shutdown})
	if addr := s.cfg.DNS.TLSListen; addr != "" {
		tln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("dns.tls_listen: %w", err)
		}
		s.closers = append(s.closers, tln)
		tc := tlsCfg.Clone()
		// RFC 7858 §3.2 and the ALPN registry: "dot".
		tc.NextProtos = []string{"dot"}
		s.services = append(s.services, service{name: "dns-tls", ln: tln,
			run:  func(ln net.Listener) error { return d.ServeTLS(tls.NewListener(ln, tc)) },
			stop: d.Shutdown})
	}
	return nil
}
