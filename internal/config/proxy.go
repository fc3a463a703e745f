package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Proxy configures the web cache (the [proxy] section): a forward proxy
// for absolute-form requests and a reverse proxy for the host names in
// [proxy.sites]. It runs only when Listen is set.
type Proxy struct {
	// Listen is the "host:port" the cache listens on; empty: off.
	Listen string `toml:"listen"`
	// CacheBytes is the memory store's budget.
	CacheBytes int64 `toml:"cache_bytes"`
	// MaxObjectBytes is the largest response stored; larger ones stream
	// through uncached.
	MaxObjectBytes int64 `toml:"max_object_bytes"`
	// DiskDir, when set, keeps the cache in this directory instead of
	// memory, so it survives a restart.
	DiskDir string `toml:"disk_dir"`
	// DiskBytes is the disk store's budget.
	DiskBytes int64 `toml:"disk_bytes"`
	// AdminToken authorises purges at /_pail/purge; empty disables them.
	AdminToken string `toml:"admin_token"`
	// Forward enables the forward proxy (absolute-form requests and
	// CONNECT). Bind Listen to a trusted network when it is on.
	Forward bool `toml:"forward"`
	// ConnectPorts are the ports CONNECT may reach.
	ConnectPorts []int `toml:"connect_ports"`
	// Origin, when set, is the origin for any Host not in Sites.
	Origin string `toml:"origin"`
	// Sites maps a host name to its origin URL ("http://10.0.0.5:8080").
	Sites map[string]string `toml:"sites"`
}

// Default sizes of the web cache.
const (
	DefaultProxyCacheBytes     = 256 << 20
	DefaultProxyMaxObjectBytes = 16 << 20
	DefaultProxyDiskBytes      = 4 << 30
)

// DefaultProxy returns the [proxy] defaults: off, 256 MiB of memory,
// forward proxying on (it only matters once Listen is set), CONNECT to 443.
func DefaultProxy() Proxy {
	return Proxy{
		CacheBytes:     DefaultProxyCacheBytes,
		MaxObjectBytes: DefaultProxyMaxObjectBytes,
		DiskBytes:      DefaultProxyDiskBytes,
		Forward:        true,
		ConnectPorts:   []int{443},
	}
}

// validate checks the [proxy] section; errors name the key.
func (p *Proxy) validate() error {
	if p.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(p.Listen); err != nil {
		return fmt.Errorf("proxy.listen: %q is not host:port", p.Listen)
	}
	switch {
	case p.CacheBytes <= 0:
		return fmt.Errorf("proxy.cache_bytes: %d must be positive", p.CacheBytes)
	case p.MaxObjectBytes <= 0:
		return fmt.Errorf("proxy.max_object_bytes: %d must be positive", p.MaxObjectBytes)
	case p.DiskDir != "" && p.DiskBytes <= 0:
		return fmt.Errorf("proxy.disk_bytes: %d must be positive", p.DiskBytes)
	}
	for _, port := range p.ConnectPorts {
		if port < 1 || port > 65535 {
			return fmt.Errorf("proxy.connect_ports: %d is not a port", port)
		}
	}
	if p.Origin != "" {
		if err := checkOrigin(p.Origin); err != nil {
			return fmt.Errorf("proxy.origin: %w", err)
		}
	}
	for host, origin := range p.Sites {
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		if !validDomain(strings.ToLower(h)) && net.ParseIP(h) == nil {
			return fmt.Errorf("proxy.sites: %q is not a host name", host)
		}
		if err := checkOrigin(origin); err != nil {
			return fmt.Errorf("proxy.sites.%s: %w", host, err)
		}
	}
	if len(p.Sites) == 0 && p.Origin == "" && !p.Forward {
		return fmt.Errorf("proxy: no origin, no sites and forward = false: nothing to serve")
	}
	return nil
}

// checkOrigin accepts an absolute http or https URL with a host and no
// query.
func checkOrigin(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("%q is not an http(s) origin URL", s)
	}
	return nil
}
