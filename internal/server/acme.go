package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"pail/internal/acme"
	"pail/internal/config"
	"pail/internal/sqldb"
	"pail/internal/webmail"
)

// acmeLeaseTTL is how long a cluster node's hold on ACME ordering lasts
// unrenewed: a node that died is replaced as orderer after this long.
const acmeLeaseTTL = 2 * time.Minute

// tlsConfig is the TLS config every listener shares. With [acme] enabled
// its certificate comes from the ACME manager, which falls back to the
// [tls] or self-signed certificate (s.certs) while it has none.
func (s *Server) tlsConfig() (*tls.Config, error) {
	base := s.certs.Config()
	a := s.cfg.ACME
	if !a.Enabled {
		return base, nil
	}
	// A cluster's nodes share the account and certificates, and one of
	// them at a time (the acme lease's holder) talks to the CA.
	var acmeCache autocert.Cache
	var acmeLease acme.Lease
	if s.blobs != nil {
		acmeCache = acme.NewDBCache(s.blobs)
		acmeLease = s.blobs.Lease("acme", sqldb.NodeID(), acmeLeaseTTL)
	}
	m, err := acme.New(acme.Config{
		Directory:   a.Directory,
		Email:       a.Email,
		Hosts:       s.cfg.ACMEHosts(),
		Default:     s.cfg.Hostname,
		CAFile:      a.CAFile,
		RenewBefore: a.RenewBefore.Duration,
		CacheDir:    filepath.Join(s.cfg.DataDir, "acme"),
		HTTP01:      s.cfg.Listen.HTTP != "",
		Cache:       acmeCache,
		Lease:       acmeLease,
	}, base.GetCertificate, s.log.With("proto", "acme"))
	if err != nil {
		return nil, err
	}
	if s.cfg.Listen.HTTPS == "" {
		s.log.Warn("acme: no [listen] https: each issuance tries TLS-ALPN-01 first, which fails, then HTTP-01")
	}
	s.acme = m
	cfg := base.Clone()
	cfg.GetCertificate = m.GetCertificate
	return cfg, nil
}

// warnACMEReload says when a reload changes [acme] or the hosts it
// covers: the ACME manager keeps what it started with until a restart.
func (s *Server) warnACMEReload(cfg *config.Config) {
	o, n := s.cfg.ACME, cfg.ACME
	if o.Enabled != n.Enabled || o.Directory != n.Directory || o.Email != n.Email || o.CAFile != n.CAFile ||
		o.RenewBefore != n.RenewBefore || (n.Enabled && !slices.Equal(s.cfg.ACMEHosts(), cfg.ACMEHosts())) {
		s.log.Warn("reload: [acme] changes (and new hosts for it) need a restart; they are not applied")
	}
}

// startACME obtains the certificates in the background and keeps them
// renewed until Shutdown.
func (s *Server) startACME() {
	if s.acme == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.acme.Run(ctx) })
	s.acmeStop = func() { cancel(); wg.Wait() }
}

func (s *Server) stopACME() {
	if s.acmeStop != nil {
		s.acmeStop()
	}
}

// acmeHTTP serves next (the web pages) on the http listener with the
// ACME manager's HTTP-01 challenge answers in front (RFC 8555 §8.3).
func (s *Server) acmeHTTP(srv *webmail.Server, next http.Handler) func(net.Listener) error {
	h := s.acme.HTTPHandler(next)
	return func(ln net.Listener) error { return srv.ServeHandler(ln, h) }
}

// acmeALPN is the protocol the https listener adds for TLS-ALPN-01
// validations (RFC 8737 §3), when ACME is on.
func (s *Server) acmeALPN() []string {
	if s.acme == nil {
		return nil
	}
	return []string{xacme.ALPNProto}
}

// CertsReal reports whether the server's certificate is one clients can
// verify: the operator configured certificate files ([tls] cert), or ACME
// holds a valid certificate for the host name. It is false while the
// self-signed certificate is served. MTA-STS uses it to choose its default
// mode (enforce once certificates are real).
func (s *Server) CertsReal() bool {
	return s.cfg.TLS.Cert != "" || (s.acme != nil && s.acme.Real())
}
