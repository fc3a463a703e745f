package server

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"time"

	"pail/internal/mtasts"
	"pail/internal/resolve"
)

// stsIdleConns bounds the idle HTTPS connections kept to policy hosts:
// policies are fetched rarely (once per id and max_age), so a few suffice.
const stsIdleConns = 4

// newSTSFetcher returns the fetcher of receivers' MTA-STS policies (RFC
// 8461 §3, §5.1) for outgoing mail, or nil when outbound.mta_sts is off.
// Policy hosts are resolved through the one resolver and their
// certificates verified against the system's roots (SSL_CERT_FILE and
// SSL_CERT_DIR are honoured); the cache lives in data_dir/mtasts.
func (s *Server) newSTSFetcher() *mtasts.Fetcher {
	if !s.cfg.Outbound.MTASTS {
		return nil
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:         s.resolver.DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        stsIdleConns,
		IdleConnTimeout:     time.Minute,
	}}
	cfg := mtasts.Config{
		Resolver:   s.resolver,
		IsNotFound: resolve.IsNotFound,
		Client:     client,
		Dir:        filepath.Join(s.cfg.DataDir, "mtasts"),
		Log:        s.log.With("proto", "mta-sts"),
	}
	f, err := mtasts.New(cfg)
	if err != nil {
		s.log.Warn("mta-sts: policy cache unusable; keeping policies in memory only", "err", err)
		cfg.Dir = ""
		if f, err = mtasts.New(cfg); err != nil {
			s.log.Error("mta-sts: receivers' policies are not applied", "err", err)
			return nil
		}
	}
	return f
}
