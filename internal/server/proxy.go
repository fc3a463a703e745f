package server

import (
	"fmt"

	"pail/internal/config"
	"pail/internal/proxy"
)

// addProxy starts the web cache when [proxy] listen is set.
func (s *Server) addProxy() error {
	pc := s.cfg.Proxy
	if pc.Listen == "" {
		return nil
	}
	st, err := proxy.OpenStore(pc.CacheBytes, pc.MaxObjectBytes, pc.DiskDir, pc.DiskBytes)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	s.closers = append(s.closers, st)
	sites, err := proxy.ParseSites(pc.Sites)
	if err != nil {
		return fmt.Errorf("proxy.sites: %w", err)
	}
	cfg := proxy.Config{
		Name:           s.cfg.Hostname,
		Sites:          sites,
		Forward:        pc.Forward,
		ForwardAllow:   pc.ForwardAllow,
		TrustedProxies: pc.TrustedProxies,
		ConnectPorts:   pc.ConnectPorts,
		Store:          st,
		AdminToken:     pc.AdminToken,
		Log:            s.log.With("proto", "http-proxy"),
	}
	if s.cfg.Resolver != "" {
		// Without a resolver setting the forward proxy asks the system's,
		// which also reads /etc/hosts.
		cfg.LookupIP = s.resolver.LookupIP
	}
	if pc.Origin != "" {
		if cfg.Origin, err = proxy.ParseOrigin(pc.Origin); err != nil {
			return fmt.Errorf("proxy.origin: %w", err)
		}
	}
	srv, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	return s.listen(config.ListenEntry{Name: "proxy", Addr: pc.Listen}, srv.Serve, srv.Shutdown)
}
