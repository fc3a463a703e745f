package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"

	"pail/internal/admin"
	"pail/internal/auth"
	"pail/internal/autoconfig"
	"pail/internal/config"
	"pail/internal/delivery"
	"pail/internal/dkim"
	"pail/internal/mtasts"
	"pail/internal/store"
	"pail/internal/webmail"
)

// addWebmail adds the web pages: [listen] http (plain) and https (TLS with
// the configured certificate) are two listeners of one service sharing
// one session table; whichever of the two New meets first adds both.
func (s *Server) addWebmail(ctx context.Context, svc config.ListenEntry, tlsCfg *tls.Config, authn *auth.Authenticator, router *delivery.Router, deliverer *delivery.Deliverer) error {
	l := s.cfg.Listen
	if svc.Name == "https" && l.HTTP != "" {
		return nil // added together with http
	}
	entries := []config.ListenEntry{svc}
	if svc.Name == "http" && l.HTTPS != "" {
		entries = append(entries, config.ListenEntry{Name: "https", Addr: l.HTTPS})
	}
	clients := s.clientServices()
	srv, err := webmail.New(ctx, webmail.Config{
		Hostname:        s.cfg.Hostname,
		MaxMessageBytes: s.cfg.Limits.MaxMessageBytes,
		DoctorDir:       s.cfg.DataDir,
		TrustedProxies:  s.cfg.Limits.TrustedProxyPrefixes,
		Sieve:           SieveOptions(s.cfg),
		SieveLimits:     SieveLimits(s.cfg),
	}, webmail.Deps{
		Store:  s.store,
		Auth:   authn,
		Submit: submitter{router: router, deliverer: deliverer},
		// The admin pages run the operations the pail command runs,
		// on the configuration in force (recordsConfig: domains and
		// [dkim] follow a reload) and the queue this server delivers.
		Admin:    &admin.Admin{Store: s.store, Config: s.recordsConfig, DKIMKeys: s.dkimKeysOf},
		Queue:    s.queue,
		Log:      s.log.With("proto", "http"),
		MailLog:  s.mailLog,
		Profiles: clients,
		Learner:  s.webmailLearner(),
		Sieve:    s.store,
	})
	if err != nil {
		return err
	}
	// Client autoconfiguration (Thunderbird's autoconfig, Outlook's
	// autodiscover) on both listeners, in front of the web pages.
	pages := &autoconfig.Handler{Services: clients, IsLocal: s.isLocalDomain, Next: srv.Handler(), Log: s.log.With("proto", "http")}
	for _, e := range entries {
		run := func(ln net.Listener) error { return srv.ServeHandler(ln, pages) }
		if e.Name == "http" && s.acme != nil {
			run = s.acmeHTTP(srv, pages) // HTTP-01 challenges (acme.go)
		}
		if e.Name == "https" {
			tc := tlsCfg.Clone()
			tc.NextProtos = append([]string{"http/1.1"}, s.acmeALPN()...)
			// The MTA-STS policy of the local domains, on https only
			// (RFC 8461 §3.3).
			h := &mtasts.Handler{Policy: s.mtastsPolicy, Next: pages}
			run = func(ln net.Listener) error { return srv.ServeHandler(tls.NewListener(ln, tc), h) }
		}
		if err := s.listen(e, run, srv.Shutdown); err != nil {
			return err
		}
	}
	return nil
}

// dkimKeysOf returns a local domain's DKIM keys for its records, as the
// name server serves them (ownRecords).
func (s *Server) dkimKeysOf(domain string) ([]dkim.Key, error) {
	if s.dkimKeys == nil {
		return nil, nil
	}
	return s.dkimKeys.Keys(domain)
}

// submitter sends webmail's messages through the one submission path,
// delivery.Deliverer.Submit with the server's router.
type submitter struct {
	router    *delivery.Router
	deliverer *delivery.Deliverer
}

func (sb submitter) Submit(ctx context.Context, acct store.Account, from string, rcpts []string, content io.Reader, tr delivery.Trace) (string, error) {
	return sb.deliverer.Submit(ctx, sb.router, acct, from, rcpts, content, tr)
}
