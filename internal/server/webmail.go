package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/delivery"
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
	srv, err := webmail.New(ctx, webmail.Config{
		Hostname:        s.cfg.Hostname,
		MaxMessageBytes: s.cfg.Limits.MaxMessageBytes,
	}, webmail.Deps{
		Store:   s.store,
		Auth:    authn,
		Submit:  submitter{router: router, deliverer: deliverer},
		Log:     s.log.With("proto", "http"),
		MailLog: s.mailLog,
		Learner: s.webmailLearner(),
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		run := srv.Serve
		if e.Name == "http" && s.acme != nil {
			run = s.acmeHTTP(srv) // HTTP-01 challenges (acme.go)
		}
		if e.Name == "https" {
			tc := tlsCfg.Clone()
			tc.NextProtos = append([]string{"http/1.1"}, s.acmeALPN()...)
			// The MTA-STS policy of the local domains, on https only
			// (RFC 8461 §3.3).
			h := &mtasts.Handler{Policy: s.mtastsPolicy, Next: srv.Handler()}
			run = func(ln net.Listener) error { return srv.ServeHandler(tls.NewListener(ln, tc), h) }
		}
		if err := s.listen(e, run, srv.Shutdown); err != nil {
			return err
		}
	}
	return nil
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
