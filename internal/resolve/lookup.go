package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// MX is one MX record.
type MX struct {
	Pref uint16
	Host string // lower case, without the trailing dot; "" for a null MX (RFC 7505)
}

// LookupMX returns the MX records of domain.
func (r *Resolver) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	mxs, _, err := r.LookupMXSecure(ctx, domain)
	return mxs, err
}

// LookupMXSecure is LookupMX, also reporting whether a validating
// resolver authenticated the records (RFC 7672 §2.2.1: only then is the
// recipient domain a name the MX host's certificate may carry).
func (r *Resolver) LookupMXSecure(ctx context.Context, domain string) ([]MX, bool, error) {
	ans, err := r.Query(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, false, err
	}
	out := make([]MX, 0, len(ans.RRs))
	for _, rr := range ans.RRs {
		mx := rr.(*dns.MX)
		out = append(out, MX{Pref: mx.Preference, Host: strings.ToLower(strings.TrimSuffix(mx.Mx, "."))})
	}
	return out, ans.Authenticated, nil
}

// LookupIP returns host's IPv4 addresses, then its IPv6 ones. It returns
// a not-found error (IsNotFound) when the name has no address, and
// another error when no answer came. "localhost" is the loopback
// addresses without a query (RFC 6761 §6.3).
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if n := strings.ToLower(strings.TrimSuffix(host, ".")); n == "localhost" || strings.HasSuffix(n, ".localhost") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, nil
	}
	var out []netip.Addr
	var errs []error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, err := r.Query(ctx, host, qt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rr := range ans.RRs {
			var ip net.IP
			switch rr := rr.(type) {
			case *dns.A:
				ip = rr.A
			case *dns.AAAA:
				ip = rr.AAAA
			}
			if a, ok := netip.AddrFromSlice(ip); ok {
				out = append(out, a.Unmap())
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, err := range errs {
		if !IsNotFound(err) {
			return nil, err
		}
	}
	if len(errs) < 2 {
		return nil, notFound(host, dns.TypeA, "", ErrNoData)
	}
	// Both not found: NXDOMAIN only when both said so.
	if errors.Is(errs[0], ErrNXDomain) && errors.Is(errs[1], ErrNXDomain) {
		return nil, errs[0]
	}
	if errors.Is(errs[0], ErrNoData) {
		return nil, errs[0]
	}
	return nil, errs[1]
}

// LookupIPAddr is LookupIP in the form of net.Resolver's, for libraries
// that take such a resolver (the SPF checker).
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := r.LookupIP(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]net.IPAddr, len(ips))
	for i, a := range ips {
		out[i] = net.IPAddr{IP: a.AsSlice()}
	}
	return out, nil
}

// LookupTXT returns name's TXT records, each record's strings joined into
// one (RFC 7208 §3.3, RFC 6376 §3.6.2.2, RFC 8461 §3.1 all read them so),
// as net.Resolver.LookupTXT does.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ans, err := r.Query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ans.RRs))
	for _, rr := range ans.RRs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, nil
}

// LookupNetMX is LookupMX in the form of net.Resolver's, for libraries
// that take such a resolver (the SPF checker). A null MX is left out.
func (r *Resolver) LookupNetMX(ctx context.Context, domain string) ([]*net.MX, error) {
	mxs, err := r.LookupMX(ctx, domain)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(mxs))
	for _, m := range mxs {
		if m.Host != "" {
			out = append(out, &net.MX{Host: m.Host + ".", Pref: m.Pref})
		}
	}
	return out, nil
}

// LookupAddr returns the names of addr's PTR records (RFC 1035 §3.5),
// with their trailing dots, as net.Resolver.LookupAddr does.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "bad address", Name: addr}
	}
	ans, err := r.Query(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ans.RRs))
	for _, rr := range ans.RRs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, nil
}

// TLSA is the answer to a TLSA query (RFC 6698): the records, and whether
// a validating resolver vouched for them or for their absence.
type TLSA struct {
	Records       []*dns.TLSA
	Authenticated bool
}

// LookupTLSA returns the TLSA records at name ("_25._tcp.mx.example.").
// A denial (no such name, no records) is returned as a not-found error
// together with the Authenticated bit of the denial: an authenticated
// denial means "no DANE" (RFC 7672 §2.2), an unauthenticated one too,
// but any other error means the records could not be learnt.
func (r *Resolver) LookupTLSA(ctx context.Context, name string) (TLSA, error) {
	ans, err := r.Query(ctx, name, dns.TypeTLSA)
	t := TLSA{Authenticated: ans.Authenticated}
	if err != nil {
		return t, err
	}
	for _, rr := range ans.RRs {
		t.Records = append(t.Records, rr.(*dns.TLSA))
	}
	return t, nil
}

// DialContext dials addr ("host:port"), resolving host through r and
// trying each address in turn; it is the DialContext of an http.Transport
// whose lookups must go through the configured resolver (the MTA-STS
// policy fetch).
func (r *Resolver) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := r.LookupIP(ctx, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var first error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}
