package server

import (
	"errors"
	"fmt"
	"net"

	"pail/internal/dnsd"
)

// addDNS prepares the authoritative name server when [dns] listen is set:
// one service named "dns" on UDP and TCP of the same address. In the
// zones it serves it also answers the local domains' own records
// (ownRecords), where the zone files do not have them.
func (s *Server) addDNS() error {
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
	return nil
}
