package server

import (
	"crypto/tls"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/pop3d"
)

// addPOP3 adds one POP3 listener: [listen] pop3 (STLS) or pop3s (implicit
// TLS). Both share the server's maildrop lock table, so that an account
// logged in on one is [IN-USE] on the other.
func (s *Server) addPOP3(svc config.ListenEntry, tlsCfg *tls.Config, authn *auth.Authenticator) error {
	lim := s.cfg.Limits
	srv := pop3d.New(pop3d.Config{
		Hostname:            s.cfg.Hostname,
		ImplicitTLS:         svc.Name == "pop3s",
		TLS:                 tlsCfg,
		MaxConnections:      lim.MaxConnections,
		MaxConnectionsPerIP: lim.MaxConnectionsPerIP,
		ConnectionRatePerIP: lim.ConnectionRatePerIP,
		// IdleTimeout: pop3d's default, RFC 1939's 10 minutes; SMTP's
		// command_timeout may be shorter than POP3 allows.
	}, pop3d.Deps{
		Store:   s.store,
		Auth:    authn,
		Locks:   &s.pop3Locks,
		Log:     s.log.With("proto", svc.Name),
		MailLog: s.mailLog,
	})
	if err := s.listen(svc, srv.Serve, srv.Shutdown); err != nil {
		return err
	}
	s.countConnections(srv.Connections)
	return nil
}
