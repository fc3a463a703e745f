// Package resolve is the one DNS client every part of pail looks names up
// through: MX and address records for outgoing mail, TLSA for DANE, TXT
// for MTA-STS, TLS-RPT, DKIM, DMARC and SPF, PTR for reverse lookups, and
// the addresses the HTTPS fetch of an MTA-STS policy dials. It asks one
// configured server (the top-level `resolver` setting) or those of
// /etc/resolv.conf, tells "no such name" from "no records of that type"
// from "no answer", and reports whether a validating resolver vouched for
// the answer (the AD bit, RFC 4035 §3.2.3), which DANE requires.
//
// Every query has a short deadline and is retried once; a caller that
// makes several lookups for one piece of work bounds them together with
// Budget, so that a dead resolver delays a message by a few seconds, not
// by the sum of many timeouts.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Lookup outcomes that are answers, not failures. They arrive wrapped in
// a *net.DNSError with IsNotFound set, the form the standard library's
// resolver uses, so that libraries written for net.Resolver (SPF, DKIM
// and DMARC checkers) read them as they expect.
var (
	// ErrNXDomain: the name does not exist (RCODE 3, RFC 1035 §4.1.1).
	ErrNXDomain = errors.New("no such domain")
	// ErrNoData: the name exists but has no records of the type asked
	// (RFC 2308 §2.2).
	ErrNoData = errors.New("no records of the requested type")
)

// IsNotFound reports whether err says the name or its records do not
// exist, an answer rather than a failure to get one.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoData)
}

// Defaults.
const (
	// DefaultTimeout bounds one query to one server. A resolver on the
	// same network answers in milliseconds, or from its cache at once;
	// two seconds leaves room for a recursion it has to do.
	DefaultTimeout = 2 * time.Second
	// DefaultBudget bounds all the lookups Budget groups together: one
	// message's MX, address, TLSA and policy lookups.
	DefaultBudget = 10 * time.Second
	// attempts is how often a query is sent to each server before the
	// next is tried: once more after a lost UDP datagram.
	attempts = 2
)

// resolvConf is where the system's name servers are listed.
const resolvConf = "/etc/resolv.conf"

// ednsSize is the UDP payload size advertised with EDNS(0) (RFC 6891);
// 1232 avoids IP fragmentation (DNS flag day 2020).
const ednsSize = 1232

// Resolver asks DNS servers directly. It is safe for concurrent use.
type Resolver struct {
	server  string // "host:port"; "" means those of resolv.conf
	timeout time.Duration
	budget  time.Duration
}

// New returns a Resolver that asks server ("host:port"; empty means the
// name servers of /etc/resolv.conf), each query bounded by timeout (zero:
// DefaultTimeout).
func New(server string, timeout time.Duration) *Resolver {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Resolver{server: server, timeout: timeout, budget: DefaultBudget}
}

// Server returns the configured server, "" for the system's.
func (r *Resolver) Server() string { return r.server }

// Budget returns a context whose deadline bounds every lookup made with
// it to the resolver's budget (DefaultBudget), and its cancel function.
func (r *Resolver) Budget(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.budget)
}

// servers returns the name servers to ask, in order.
func (r *Resolver) servers() []string {
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

// Answer is the outcome of one query.
type Answer struct {
	// RRs are the answer section's records of the type asked, CNAMEs
	// followed by the resolver left out.
	RRs []dns.RR
	// Authenticated is the AD bit: the resolver validated the answer
	// with DNSSEC (RFC 4035 §3.2.3). It means something only when the
	// resolver is trusted and the path to it is (RFC 6698 §4.1,
	// RFC 7672 §2.1.1): a validating resolver on this host or network.
	Authenticated bool
	// Name is the name the records belong to: the query name, or the
	// last target of a CNAME chain.
	Name string
}

// Query asks for name's records of type qtype. A name that does not
// exist, or has none of them, gives ErrNXDomain or ErrNoData (in a
// *net.DNSError) with the Authenticated bit of that denial; any other
// failure is a temporary *net.DNSError. A truncated UDP answer is asked
// again over TCP (RFC 7766).
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) (Answer, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	// RFC 6840 §5.7: AD in a query asks for the AD bit in the answer
	// without the DNSSEC records DO would bring.
	m.AuthenticatedData = true
	m.SetEdns0(ednsSize, false)
	var lastErr error
	for _, srv := range r.servers() {
		resp, err := r.exchange(ctx, m, srv)
		if err != nil {
			lastErr = fmt.Errorf("%s: %w", srv, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		ans := Answer{Authenticated: resp.AuthenticatedData, Name: dns.Fqdn(name)}
		switch resp.Rcode {
		case dns.RcodeSuccess:
			for _, rr := range resp.Answer {
				switch h := rr.Header(); {
				case h.Rrtype == qtype:
					ans.RRs = append(ans.RRs, rr)
					ans.Name = h.Name
				case h.Rrtype == dns.TypeCNAME && qtype != dns.TypeCNAME:
					ans.Name = rr.(*dns.CNAME).Target
				}
			}
			if len(ans.RRs) == 0 {
				return ans, notFound(name, qtype, srv, ErrNoData)
			}
			return ans, nil
		case dns.RcodeNameError:
			return ans, notFound(name, qtype, srv, ErrNXDomain)
		default:
			// SERVFAIL is also what a validating resolver answers for
			// data whose signatures do not verify (RFC 4035 §5.5).
			lastErr = fmt.Errorf("%s answered %s", srv, dns.RcodeToString[resp.Rcode])
		}
	}
	return Answer{}, &net.DNSError{
		Err:         fmt.Sprintf("looking up %s %s: %v", name, dns.TypeToString[qtype], lastErr),
		Name:        name,
		IsTemporary: true,
		IsTimeout:   errors.Is(lastErr, context.DeadlineExceeded) || isTimeout(lastErr),
		UnwrapErr:   lastErr,
	}
}

func notFound(name string, qtype uint16, srv string, why error) error {
	return &net.DNSError{
		Err:        why.Error() + " (" + dns.TypeToString[qtype] + ")",
		Name:       name,
		Server:     srv,
		IsNotFound: true,
		UnwrapErr:  why,
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// exchange sends m to srv, once more when the first datagram gets no
// answer in time, and over TCP when the answer was truncated.
func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: r.timeout, UDPSize: ednsSize}
	var resp *dns.Msg
	var err error
	for range attempts {
		resp, _, err = c.ExchangeContext(ctx, m, srv)
		if err == nil || !isTimeout(err) || ctx.Err() != nil {
			break
		}
	}
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, srv)
	}
	return resp, err
}
