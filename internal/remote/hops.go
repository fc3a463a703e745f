package remote

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"pail/internal/resolve"
)

// maxMXHosts bounds the MX hosts tried per attempt, and maxAddrsPerHost
// the addresses of each (RFC 5321 §5.1: "a configurable limit").
const (
	maxMXHosts      = 10
	maxAddrsPerHost = 4
)

// hop is one next-hop host.
type hop struct {
	name      string       // host name or address literal: TLS SNI, Remote-MTA, logs
	port      string       // TCP port
	smarthost bool         // the configured smarthost: authenticate
	direct    bool         // a configured next hop (route, smarthost): its name is not an MX host
	implicit  bool         // the domain itself, for want of MX records (RFC 5321 §5.1)
	addrs     []netip.Addr // already known (an address literal)
}

// nextHops returns the hosts to try for domain, best first, and whether
// its MX records were authenticated by DNSSEC; or a status and reply that
// settle every recipient at once (no such domain, null MX, DNS failure).
func (c *Client) nextHops(ctx context.Context, domain string) ([]hop, bool, Status, Reply) {
	if c.cfg.Smarthost != "" {
		host, port, _ := net.SplitHostPort(c.cfg.Smarthost)
		return []hop{{name: host, port: port, smarthost: true, direct: true}}, false, 0, Reply{}
	}
	if route, ok := c.cfg.Routes[domain]; ok {
		host, port, _ := net.SplitHostPort(route)
		return []hop{{name: host, port: port, direct: true}}, false, 0, Reply{}
	}
	port := strconv.Itoa(c.cfg.Port)
	// RFC 5321 §4.1.3: an address literal names the host itself.
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		lit := domain[1 : len(domain)-1]
		if len(lit) > 5 && strings.EqualFold(lit[:5], "ipv6:") {
			lit = lit[5:]
		}
		a, err := netip.ParseAddr(lit)
		if err != nil || a.Zone() != "" {
			return nil, false, Failed, Reply{Enhanced: "5.1.2", Text: "bad address literal " + domain}
		}
		return []hop{{name: domain, port: port, addrs: []netip.Addr{a}}}, false, 0, Reply{}
	}
	if domain == "" {
		return nil, false, Failed, Reply{Enhanced: "5.1.3", Text: "recipient address has no domain"}
	}
	mxs, secure, err := c.dns.LookupMXSecure(ctx, domain)
	switch {
	case errors.Is(err, resolve.ErrNXDomain):
		return nil, false, Failed, Reply{Enhanced: "5.1.2", Text: "domain " + domain + " does not exist (DNS: NXDOMAIN)"}
	case errors.Is(err, resolve.ErrNoData):
		// RFC 5321 §5.1: no MX records: the domain is its own mail host.
		return []hop{{name: domain, port: port, implicit: true}}, false, 0, Reply{}
	case err != nil:
		return nil, false, Deferred, Reply{Enhanced: "4.4.3", Text: "DNS failure: " + err.Error()}
	}
	// RFC 7505 §3: a single MX record with the root as target says the
	// domain takes no mail; other records next to it are ignored.
	if len(mxs) == 1 && mxs[0].Host == "" {
		return nil, false, Failed, Reply{Enhanced: "5.1.10", Text: "domain " + domain + " accepts no mail (null MX, RFC 7505)"}
	}
	mxs = slices.DeleteFunc(mxs, func(m resolve.MX) bool { return m.Host == "" })
	// RFC 5321 §5.1: lowest preference first; hosts of equal preference
	// in random order to spread the load.
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	slices.SortStableFunc(mxs, func(a, b resolve.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	// RFC 5321 §5.1: when we are one of the MX hosts, only those
	// preferred to us may be tried; none means the mail would loop.
	self := strings.ToLower(strings.TrimSuffix(c.cfg.Hostname, "."))
	if i := slices.IndexFunc(mxs, func(m resolve.MX) bool { return m.Host == self }); i >= 0 {
		cut := mxs[i].Pref
		mxs = slices.DeleteFunc(mxs, func(m resolve.MX) bool { return m.Pref >= cut })
		if len(mxs) == 0 {
			return nil, false, Failed, Reply{Enhanced: "5.4.6", Text: "mail for " + domain + " loops back to myself"}
		}
	}
	if len(mxs) > maxMXHosts {
		mxs = mxs[:maxMXHosts]
	}
	hops := make([]hop, len(mxs))
	for i, m := range mxs {
		hops[i] = hop{name: m.Host, port: port}
	}
	return hops, secure, 0, Reply{}
}

// addresses returns the "host:port" dial strings of a hop, or a status and
// reply when it has none.
func (c *Client) addresses(ctx context.Context, h hop) ([]string, Status, Reply) {
	ips := h.addrs
	if a, err := netip.ParseAddr(h.name); err == nil && ips == nil {
		ips = []netip.Addr{a}
	}
	if ips == nil {
		var err error
		ips, err = c.dns.LookupIP(ctx, h.name)
		switch {
		case h.implicit && (errors.Is(err, resolve.ErrNXDomain) || errors.Is(err, resolve.ErrNoData)):
			return nil, Failed, Reply{Enhanced: "5.1.2", Text: "domain " + h.name + " has no MX and no address records"}
		case resolve.IsNotFound(err):
			return nil, Deferred, Reply{Enhanced: "4.4.4", Text: "mail host " + h.name + " has no address"}
		case err != nil:
			return nil, Deferred, Reply{Enhanced: "4.4.3", Text: "DNS failure: " + err.Error()}
		}
	}
	if src := c.cfg.Source; src.IsValid() {
		// A connection bound to an IPv4 source cannot reach an IPv6
		// address, nor the other way round.
		ips = slices.DeleteFunc(slices.Clone(ips), func(a netip.Addr) bool { return a.Is4() != src.Is4() })
		if len(ips) == 0 {
			return nil, Deferred, Reply{Enhanced: "4.4.4", Text: "mail host " + h.name + " has no address of the family of outbound.source " + src.String()}
		}
	}
	if len(ips) > maxAddrsPerHost {
		ips = ips[:maxAddrsPerHost]
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip.String(), h.port)
	}
	return out, 0, Reply{}
}
