package proxy

import (
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// target is where one request goes and under which key it is cached.
type target struct {
	// key is the primary cache key: the effective request URI (RFC 9111
	// §2, RFC 9110 §7.1) with scheme and host lower case and the default
	// port dropped.
	key string
	// effective is the effective request URI, for resolving Location and
	// Content-Location (RFC 9111 §4.4).
	effective *url.URL
	eff       url.URL // what effective points to
	// origin is the site's origin in reverse-proxy mode, nil when forward
	// proxying.
	origin *url.URL
}

// upstream returns the URL requested from the origin. It is built on
// demand, since a hit never needs it.
func (t *target) upstream() *url.URL {
	if t.origin == nil {
		up := *t.effective
		return &up
	}
	eff, origin := t.effective, t.origin
	up := &url.URL{Scheme: origin.Scheme, Host: origin.Host, RawQuery: eff.RawQuery}
	p := eff.EscapedPath()
	if base := strings.TrimSuffix(origin.EscapedPath(), "/"); base != "" {
		p = base + p
	}
	if u, err := url.Parse(p); err == nil {
		up.Path, up.RawPath = u.Path, u.RawPath
	} else {
		up.Path = path.Clean(eff.Path)
	}
	return up
}

// route picks the origin for a request. Absolute-form requests (RFC 9112
// §3.2.2) go to the named host when forward proxying is on and the
// destination rules do not refuse its port or literal address (a name is
// checked when dialled: destination.go), unless the host is a configured
// site; origin-form requests go to the site named by Host, else to the
// default origin.
func (s *Server) route(r *http.Request) (*target, int, string) {
	if r.URL.IsAbs() {
		if r.URL.Scheme != "http" {
			return nil, http.StatusBadRequest, "only http URLs can be proxied; use CONNECT for https"
		}
		eff := url.URL{Scheme: "http", Host: strings.ToLower(r.URL.Host), Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		if origin := s.site(eff.Host); origin != nil {
			return newTarget(eff, origin), 0, ""
		}
		if !s.cfg.Forward {
			return nil, http.StatusForbidden, "forward proxying is disabled"
		}
		if eff.Host == "" {
			return nil, http.StatusBadRequest, "no host in the request target"
		}
		if err := s.dest.literalRefusal(eff.Host); err != nil {
			return nil, http.StatusForbidden, err.Reason
		}
		return newTarget(eff, nil), 0, ""
	}
	host := strings.ToLower(r.Host)
	if host == "" {
		return nil, http.StatusBadRequest, "no Host header" // RFC 9112 §3.2
	}
	eff := url.URL{Scheme: "http", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	origin := s.site(host)
	if origin == nil {
		origin = s.cfg.Origin
	}
	if origin == nil {
		// RFC 9110 §15.5.20: this server does not serve that authority.
		return nil, http.StatusMisdirectedRequest, "no site is configured for " + host
	}
	return newTarget(eff, origin), 0, ""
}

// site returns the configured origin for a host, matching host:port first
// and then the bare host name.
func (s *Server) site(host string) *url.URL {
	if o, ok := s.cfg.Sites[host]; ok {
		return o
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return s.cfg.Sites[h]
	}
	return nil
}

// newTarget returns the target for effective request URI eff, going to
// origin (nil when forward proxying), in one allocation.
func newTarget(eff url.URL, origin *url.URL) *target {
	t := &target{eff: eff, origin: origin}
	t.effective = &t.eff
	t.key = cacheKey(t.effective)
	return t
}

// cacheKey renders a URL as a primary cache key, in one allocation.
func cacheKey(u *url.URL) string {
	scheme, host, p := normalizeKeyParts(u)
	if p == "" {
		p = "/"
	}
	n := len(scheme) + len("://") + len(host) + len(p)
	if u.RawQuery != "" {
		n += 1 + len(u.RawQuery)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(p)
	if u.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(u.RawQuery)
	}
	return b.String()
}

// normalizeKeyPrefix renders scheme, host and path of u the way cacheKey
// does, for prefix purges.
func normalizeKeyPrefix(u *url.URL) string {
	scheme, host, p := normalizeKeyParts(u)
	return scheme + "://" + host + p
}

// normalizeKeyParts returns u's scheme and host in lower case, the host
// without its scheme's default port, and its escaped path.
func normalizeKeyParts(u *url.URL) (scheme, host, escapedPath string) {
	scheme = strings.ToLower(u.Scheme)
	host = strings.ToLower(u.Host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		if port := host[i+1:]; scheme == "http" && port == "80" || scheme == "https" && port == "443" {
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
		}
	}
	return scheme, host, u.EscapedPath()
}

// sameOrigin reports whether a and b share scheme, host and port (RFC
// 9111 §4.4 invalidates Location/Content-Location only then).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}
