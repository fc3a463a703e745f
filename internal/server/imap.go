package server

import (
	"crypto/tls"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/imapd"
)

// addIMAP prepares an IMAP service: STARTTLS on [listen] imap, implicit TLS
// on [listen] imaps (RFC 8314).
func (s *Server) addIMAP(svc config.ListenEntry, implicitTLS bool, tlsCfg *tls.Config, authn *auth.Authenticator) error {
	lim := s.cfg.Limits
	srv := imapd.New(imapd.Config{
		Hostname:            s.cfg.Hostname,
		ImplicitTLS:         implicitTLS,
		TLS:                 tlsCfg,
		MaxMessageBytes:     lim.MaxMessageBytes,
		MaxConnections:      lim.MaxConnections,
		MaxConnectionsPerIP: lim.MaxConnectionsPerIP,
		ConnectionRatePerIP: lim.ConnectionRatePerIP,
	}, imapd.Deps{
		Store:   s.store,
		Auth:    authn,
		Log:     s.log.With("proto", "imap", "service", svc.Name),
		MailLog: s.mailLog,
		Learner: s.imapLearner(),
	})
	if err := s.listen(svc, srv.Serve, srv.Shutdown); err != nil {
		return err
	}
	s.countConnections(srv.Connections)
	return nil
}
