package server

import (
	"crypto/tls"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/pop3d"
)

// addPOP3 adds the POP3 service: [listen] pop3 (STLS) and pop3s (implicit
// TLS) are two listeners of one service. They share one maildrop lock
// table, so that an account logged in on one is [IN-USE] on the other;
// hence whichever of the two New meets first adds both.
func (s *Server) addPOP3(svc config.ListenEntry, tlsCfg *tls.Config, authn *auth.Authenticator) error {
	l := s.cfg.Listen
	if svc.Name == "pop3s" && l.POP3 != "" {
		return nil // added together with pop3
	}
	entries := []config.ListenEntry{svc}
	if svc.Name == "pop3" && l.POP3S != "" {
		entries = append(entries, config.ListenEntry{Name: "pop3s", Addr: l.POP3S})
	}
	locks := new(pop3d.Locks)
	lim := s.cfg.Limits
	for _, e := range entries {
		srv := pop3d.New(pop3d.Config{
			Hostname:            s.cfg.Hostname,
			ImplicitTLS:         e.Name == "pop3s",
			TLS:                 tlsCfg,
			MaxConnections:      lim.MaxConnections,
			MaxConnectionsPerIP: lim.MaxConnectionsPerIP,
			// IdleTimeout: pop3d's default, RFC 1939's 10 minutes; SMTP's
			// command_timeout may be shorter than POP3 allows.
		}, pop3d.Deps{
			Store:   s.store,
			Auth:    authn,
			Locks:   locks,
			Log:     s.log.With("proto", e.Name),
			MailLog: s.mailLog,
		})
		if err := s.listen(e, srv.Serve, srv.Shutdown); err != nil {
			return err
		}
	}
	return nil
}
