package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Lookup outcomes that are answers, not failures.
var (
	// errNXDomain: the name does not exist (RCODE 3, RFC 1035 §4.1.1).
	errNXDomain = errors.New("no such domain")
	// errNoData: the name exists but has no records of the type asked.
	errNoData = errors.New("no records of the requested type")
)

// resolvConf is where the system's name servers are listed.
const resolvConf = "/etc/resolv.conf"

// ednsSize is the UDP payload size advertised with EDNS(0) (RFC 6891);
// 1232 avoids IP fragmentation (DNS flag day 2020).
const ednsSize = 1232

// resolver asks DNS servers directly, so that MX lookups can name a
// resolver of their own ([outbound] resolver) and tell "no such domain"
// from "no MX records" from "try again".
type resolver struct {
	server  string // "host:port"; "" means those of resolv.conf
	timeout time.Duration
}

func newResolver(server string, timeout time.Duration) *resolver {
	return &resolver{server: server, timeout: timeout}
}

// servers returns the name servers to ask, in order.
func (r *resolver) servers() []string {
	if r.server != "" {
		return []string{r.server}
	}
	cc, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil || len(cc.Servers) == 0 {
		// As the C library does without a resolv.conf.
		return []string{"127.0.0.1:53"}
	}
	out := make([]string, len(cc.Servers))
	for i, s := range cc.Servers {
		out[i] = net.JoinHostPort(s, cc.Port)
	}
	return out
}

// query asks each server in turn for name's records of type qtype and
// returns the records of that type in the answer section. A truncated UDP
// answer is asked again over TCP (RFC 7766).
func (r *resolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(ednsSize, false)
	var lastErr error
	for _, srv := range r.servers() {
		resp, err := r.exchange(ctx, m, srv)
		if err != nil {
			lastErr = fmt.Errorf("%s: %w", srv, err)
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
			var out []dns.RR
			for _, rr := range resp.Answer {
				if rr.Header().Rrtype == qtype {
					out = append(out, rr)
				}
			}
			if len(out) == 0 {
				return nil, errNoData
			}
			return out, nil
		case dns.RcodeNameError:
			return nil, errNXDomain
		default:
			lastErr = fmt.Errorf("%s answered %s", srv, dns.RcodeToString[resp.Rcode])
		}
	}
	return nil, fmt.Errorf("looking up %s %s: %w", name, dns.TypeToString[qtype], lastErr)
}

func (r *resolver) exchange(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: r.timeout, UDPSize: ednsSize}
	resp, _, err := c.ExchangeContext(ctx, m, srv)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, srv)
	}
	return resp, err
}

// mxHost is one MX record.
type mxHost struct {
	pref uint16
	host string // without the trailing dot; "" for a null MX
}

// lookupMX returns the MX records of domain.
func (r *resolver) lookupMX(ctx context.Context, domain string) ([]mxHost, error) {
	rrs, err := r.query(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]mxHost, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		out = append(out, mxHost{pref: mx.Preference, host: strings.ToLower(strings.TrimSuffix(mx.Mx, "."))})
	}
	return out, nil
}

// lookupIP returns host's IPv4 addresses, then its IPv6 ones. It returns
// errNXDomain or errNoData when the name has no address, and another error
// when no answer came.
func (r *resolver) lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	var errs []error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := r.query(ctx, host, qt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rr := range rrs {
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
		if !errors.Is(err, errNXDomain) && !errors.Is(err, errNoData) {
			return nil, err
		}
	}
	if len(errs) == 2 && errors.Is(errs[0], errNXDomain) && errors.Is(errs[1], errNXDomain) {
		return nil, errNXDomain
	}
	return nil, errNoData
}
