package server

import (
	"crypto/tls"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/managesieve"
	"pail/internal/sieve"
	"pail/internal/store"
)

// SieveOptions are the compile options of users' scripts under cfg, for
// every place that compiles one (delivery, ManageSieve, the webmail and
// `pail sieve put`).
func SieveOptions(cfg *config.Config) sieve.Options {
	return sieve.Options{Limits: sieve.Limits{MaxScriptBytes: cfg.Sieve.MaxScriptBytes, MaxRedirects: cfg.Sieve.MaxRedirects}}
}

// SieveLimits are the per-account script limits under cfg.
func SieveLimits(cfg *config.Config) store.SieveLimits {
	return store.SieveLimits{MaxScripts: cfg.Sieve.MaxScripts, MaxBytes: cfg.Sieve.MaxScriptBytes}
}

// addManageSieve adds the ManageSieve listener ([listen] managesieve,
// RFC 5804), with the login limits of the other protocols.
func (s *Server) addManageSieve(svc config.ListenEntry, tlsCfg *tls.Config, authn *auth.Authenticator) error {
	lim := s.cfg.Limits
	srv := managesieve.New(managesieve.Config{
		Hostname:            s.cfg.Hostname,
		TLS:                 tlsCfg,
		Options:             SieveOptions(s.cfg),
		Limits:              SieveLimits(s.cfg),
		MaxRedirects:        s.cfg.Sieve.MaxRedirects,
		MaxConnections:      lim.MaxConnections,
		MaxConnectionsPerIP: lim.MaxConnectionsPerIP,
		ConnectionRatePerIP: lim.ConnectionRatePerIP,
	}, managesieve.Deps{Store: s.store, Auth: authn, Log: s.log.With("proto", svc.Name), MailLog: s.mailLog})
	if err := s.listen(svc, srv.Serve, srv.Shutdown); err != nil {
		return err
	}
	s.countConnections(srv.Connections)
	return nil
}
