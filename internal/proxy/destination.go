package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Where the forward proxy may connect. Forwarding is off unless
// configured (Config.Forward); when on, a destination is refused unless
//
//   - its address is globally reachable: not loopback, private,
//     link-local, unique-local, CGNAT, documentation, multicast or any
//     other range the IANA special-purpose registries (RFC 6890) mark as
//     not global (nonGlobal), or it is in Config.ForwardAllow;
//   - its port is 80 or 1024 and above and not one of the ports that
//     browsers refuse to fetch from (the Fetch standard's "bad ports":
//     IRC, SIP, NFS, X11 ...), the idea of Squid's Safe_ports, so that
//     an HTTP body cannot be carried into SMTP, IMAP, SSH or the like;
//     or an entry of Config.ForwardAllow names it with its port. CONNECT
//     keeps its own port list (Config.ConnectPorts);
//   - it is not one of the proxy's own listening addresses (never
//     allowed: forwarding to itself is a loop).
//
// The check is made on the address actually dialled: the name is
// resolved, each address checked, and only an allowed one dialled, so a
// name cannot resolve to a public address for the check and a private
// one for the connection (DNS rebinding).

// RefusedError is a forward destination pail will not connect to; the
// client gets 403 with Reason.
type RefusedError struct {
	// Reason says which rule refused the destination.
	Reason string
}

func (e *RefusedError) Error() string { return "proxy: destination refused: " + e.Reason }

// nonGlobal lists the address ranges that are not globally reachable
// (IANA IPv4 and IPv6 Special-Purpose Address Registries, RFC 6890),
// each with what it is, for the refusal's reason. Read only.
var nonGlobal = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address (RFC 791)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address (RFC 1122)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (RFC 3927)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address (RFC 6890)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address (RFC 5737)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay address (RFC 7526)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address (RFC 2544)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address (RFC 5737)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address (RFC 5737)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address (RFC 5771)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address (RFC 1112, RFC 919)"},
	{netip.MustParsePrefix("::1/128"), "a loopback address (RFC 4291)"},
	{netip.MustParsePrefix("::/96"), "an unspecified or IPv4-compatible address (RFC 4291)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address (RFC 8215)"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address (RFC 6666)"},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol address (RFC 2928)"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address (RFC 3849)"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address (RFC 9637)"},
	{netip.MustParsePrefix("5f00::/16"), "an SRv6 SID (RFC 9602)"},
	{netip.MustParsePrefix("fc00::/7"), "a unique-local address (RFC 4193)"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address (RFC 4291)"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address (RFC 3879)"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address (RFC 4291)"},
}

// Ranges whose addresses embed an IPv4 address that is reached through
// them; the embedded address is checked too.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052
	sixToFour   = netip.MustParsePrefix("2002::/16")    // RFC 3056
)

// badPorts are the ports at or above 1024 that the Fetch standard's port
// blocking refuses (below 1024 only 80 is allowed anyway): services an
// HTTP request must not be smuggled into. Read only.
var badPorts = map[uint16]bool{
	1719: true, 1720: true, 1723: true, 2049: true, 3659: true, 4045: true, 4190: true,
	5060: true, 5061: true, 6000: true, 6566: true, 6665: true, 6666: true, 6667: true,
	6668: true, 6669: true, 6679: true, 6697: true, 10080: true,
}

// httpPort is the only port below 1024 a forwarded http URL may name.
const httpPort = 80

// firstUnprivilegedPort starts the ports a forwarded http URL may name.
const firstUnprivilegedPort = 1024

// nonGlobalReason says why ip is not globally reachable, or "".
func nonGlobalReason(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		if nat64Prefix.Contains(ip) || sixToFour.Contains(ip) {
			b := ip.As16()
			var v4 [4]byte
			if nat64Prefix.Contains(ip) {
				copy(v4[:], b[12:])
			} else {
				copy(v4[:], b[2:6])
			}
			if why := nonGlobalReason(netip.AddrFrom4(v4)); why != "" {
				return "an address that embeds " + netip.AddrFrom4(v4).String() + ", " + why
			}
			return ""
		}
	}
	if ip.Zone() != "" {
		return "a scoped address"
	}
	for _, r := range nonGlobal {
		if r.prefix.Contains(ip) {
			return r.what
		}
	}
	return ""
}

// destPolicy is the forward proxy's set of exceptions (Config.ForwardAllow)
// and the proxy's own addresses.
type destPolicy struct {
	prefixes  []netip.Prefix          // any address in them, at an allowed port
	addrPorts map[netip.AddrPort]bool // exactly these, at any port rule
	hostPorts map[string]bool         // "name:port", lower case: whatever it resolves to

	mu        sync.Mutex
	listeners []netip.AddrPort // the proxy's own listening addresses
}

// parseDestPolicy reads Config.ForwardAllow: each entry is a CIDR
// ("10.0.0.0/8"), an address ("10.0.0.5"), an address and port
// ("10.0.0.5:8080", "[fd00::5]:8080") or a host name and port
// ("intranet.example:8080").
func parseDestPolicy(entries []string) (*destPolicy, error) {
	p := &destPolicy{addrPorts: map[netip.AddrPort]bool{}, hostPorts: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if pf, err := netip.ParsePrefix(e); err == nil {
			p.prefixes = append(p.prefixes, pf.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if ap, err := netip.ParseAddrPort(e); err == nil && ap.Port() != 0 {
			p.addrPorts[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = true
			continue
		}
		host, port, err := net.SplitHostPort(e)
		if n, perr := strconv.ParseUint(port, 10, 16); err == nil && perr == nil && n != 0 && host != "" && !strings.ContainsAny(host, "/[]") {
			p.hostPorts[strings.ToLower(host)+":"+port] = true
			continue
		}
		return nil, fmt.Errorf("proxy: forward allow %q: want a CIDR, an address, address:port or host:port", e)
	}
	return p, nil
}

// addListener records one of the proxy's own addresses.
func (p *destPolicy) addListener(a net.Addr) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return
	}
	ap := ta.AddrPort()
	p.mu.Lock()
	p.listeners = append(p.listeners, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	p.mu.Unlock()
}

// own reports whether ip:port reaches one of the proxy's listeners.
func (p *destPolicy) own(ip netip.Addr, port uint16) bool {
	p.mu.Lock()
	ls := slices.Clone(p.listeners)
	p.mu.Unlock()
	for _, l := range ls {
		if l.Port() != port {
			continue
		}
		if l.Addr() == ip {
			return true
		}
		if l.Addr().IsUnspecified() && localAddress(ip) {
			return true
		}
	}
	return false
}

// localAddress reports whether ip is one of this host's addresses.
func localAddress(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: assume the worst
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if la, ok := netip.AddrFromSlice(n.IP); ok && la.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// checkPort refuses a forwarded http URL's port (see the rules above);
// host is the name or address the client gave.
func (p *destPolicy) checkPort(host string, port uint16) *RefusedError {
	if port == httpPort || port >= firstUnprivilegedPort && !badPorts[port] {
		return nil
	}
	if p.hostPorts[strings.ToLower(host)+":"+strconv.Itoa(int(port))] {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && p.addrPorts[netip.AddrPortFrom(a.Unmap(), port)] {
		return nil
	}
	return &RefusedError{Reason: "port " + strconv.Itoa(int(port)) + " is not an HTTP port"}
}

// checkAddr refuses ip:port reached for the name host unless the rules
// above allow it. Ports are checked by checkPort (or ConnectPorts).
func (p *destPolicy) checkAddr(host string, ip netip.Addr, port uint16) *RefusedError {
	ip = ip.Unmap()
	if p.own(ip, port) {
		return &RefusedError{Reason: netip.AddrPortFrom(ip, port).String() + " is this proxy's own address"}
	}
	why := nonGlobalReason(ip)
	if why == "" || p.addrPorts[netip.AddrPortFrom(ip, port)] || p.hostPorts[strings.ToLower(host)+":"+strconv.Itoa(int(port))] {
		return nil
	}
	for _, pf := range p.prefixes {
		if pf.Contains(ip) {
			return nil
		}
	}
	return &RefusedError{Reason: ip.String() + " is " + why + "; list it in forward_allow (--forward-allow) to reach it"}
}

// literalRefusal checks an absolute-form target's authority before any
// lookup: its port, and its address when it is an IP literal (a name is
// checked when it is dialled). It returns nil when nothing refuses it yet.
func (p *destPolicy) literalRefusal(authority string) *RefusedError {
	host, port := authority, uint16(httpPort)
	if h, ps, err := net.SplitHostPort(authority); err == nil {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil {
			return &RefusedError{Reason: "bad port " + strconv.Quote(ps)}
		}
		host, port = h, uint16(n)
	}
	if err := p.checkPort(host, port); err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.checkAddr(host, ip, port)
	}
	return nil
}

// dialDestination connects to a forward-proxy destination addr
// ("host:port"): it resolves host, checks each address and dials only
// the allowed ones, in order, until one answers. When every address is
// refused, the error is a *RefusedError.
func (s *Server) dialDestination(ctx context.Context, addr string) (net.Conn, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: dial %q: %w", addr, err)
	}
	port64, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("proxy: dial %q: bad port", addr)
	}
	port := uint16(port64)
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = s.lookupIP(ctx, host); err != nil {
		return nil, fmt.Errorf("proxy: resolve %s: %w", host, err)
	}
	var refused, failed error
	dial := s.cfg.DialChecked
	if dial == nil {
		d := &net.Dialer{Timeout: dialTimeout, KeepAlive: originKeepAlive}
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	for _, ip := range ips {
		if err := s.dest.checkAddr(host, ip, port); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		// The address checked is the address dialled.
		c, err := dial(ctx, netip.AddrPortFrom(ip.Unmap(), port).String())
		if err == nil {
			return c, nil
		}
		failed = err
	}
	if failed != nil {
		return nil, fmt.Errorf("proxy: connect %s: %w", addr, failed)
	}
	if refused != nil {
		return nil, refused
	}
	return nil, fmt.Errorf("proxy: resolve %s: no addresses", host)
}

// lookupIP resolves host with the configured resolver (Config.LookupIP)
// or the system's.
func (s *Server) lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if s.cfg.LookupIP != nil {
		return s.cfg.LookupIP(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// refusal returns err's *RefusedError, if any.
func refusal(err error) *RefusedError {
	var re *RefusedError
	if errors.As(err, &re) {
		return re
	}
	return nil
}
