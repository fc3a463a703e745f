package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Proxy configures the web cache (the [proxy] section): a reverse proxy
// for the host names in [proxy.sites] (and Origin) and, when Forward is
// set, a forward proxy for absolute-form requests. It runs only when
// Listen is set.
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
	// CONNECT); off by default. When on, loopback, private, link-local
	// and other non-global destinations, non-HTTP ports and the proxy's
	// own address are refused unless ForwardAllow lists them.
	Forward bool `toml:"forward"`
	// ForwardAllow lists destinations the forward proxy may reach
	// although they are refused by default: CIDRs or addresses (at HTTP
	// ports), address:port or host:port (that destination).
	ForwardAllow []string `toml:"forward_allow"`
	// TrustedProxies lists the CIDRs or addresses of proxies in front
	// whose Forwarded / X-Forwarded-* fields reach the origin; from any
	// other client they are removed.
	TrustedProxies []string `toml:"trusted_proxies"`
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
// forward proxying off, CONNECT (when forwarding) to 443.
func DefaultProxy() Proxy {
	return Proxy{
		CacheBytes:     DefaultProxyCacheBytes,
		MaxObjectBytes: DefaultProxyMaxObjectBytes,
		DiskBytes:      DefaultProxyDiskBytes,
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
	for _, e := range p.ForwardAllow {
		if !validForwardAllow(e) {
			return fmt.Errorf("proxy.forward_allow: %q is not a CIDR, address, address:port or host:port", e)
		}
	}
	for _, e := range p.TrustedProxies {
		if _, err := netip.ParsePrefix(e); err != nil {
			if _, err := netip.ParseAddr(e); err != nil {
				return fmt.Errorf("proxy.trusted_proxies: %q is neither a CIDR nor an address", e)
			}
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

// validForwardAllow accepts the forms of a forward_allow entry.
func validForwardAllow(e string) bool {
	if _, err := netip.ParsePrefix(e); err == nil {
		return true
	}
	if _, err := netip.ParseAddr(e); err == nil {
		return true
	}
	host, port, err := net.SplitHostPort(e)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return validDomain(strings.ToLower(host))
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
