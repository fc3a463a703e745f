package proxy

import (
	"fmt"
	"net/url"
	"strings"

	"pail/internal/httpcache"
)

// OpenStore opens the disk store in diskDir with a diskBytes budget when
// diskDir is set, else a memory store of memBytes; no object may exceed
// maxObject bytes.
func OpenStore(memBytes, maxObject int64, diskDir string, diskBytes int64) (httpcache.Store, error) {
	if diskDir != "" {
		st, err := httpcache.OpenDiskStore(diskDir, diskBytes, maxObject)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		return st, nil
	}
	return httpcache.NewMemoryStore(memBytes, maxObject), nil
}

// ParseOrigin parses an origin URL ("http://host:port[/base]").
func ParseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy: %q is not an http(s) origin URL", s)
	}
	return u, nil
}

// ParseSites parses a host → origin URL map, lower-casing the hosts.
func ParseSites(m map[string]string) (map[string]*url.URL, error) {
	out := make(map[string]*url.URL, len(m))
	for host, origin := range m {
		u, err := ParseOrigin(origin)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", host, err)
		}
		out[strings.ToLower(host)] = u
	}
	return out, nil
}
