package doctor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"pail/internal/resolve"
)

// spfResolver hands blitiri.com.ar/go/spf the project's resolver. The
// library's DNSResolver is net.Resolver's method set, which
// resolve.Resolver has but for LookupMX, whose net.Resolver form is
// LookupNetMX; its not-found errors are *net.DNSError with IsNotFound, as
// the library expects.
type spfResolver struct{ *resolve.Resolver }

// LookupMX is net.Resolver's LookupMX.
func (r spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return r.LookupNetMX(ctx, name)
}

var _ spf.DNSResolver = spfResolver{}

// checkSPF evaluates the domain's SPF record (RFC 7208 §4) for each
// outbound address, as a receiver does for mail from postmaster@domain
// sent by this host: only "pass" lets the mail through a strict
// receiver, and DMARC (RFC 7489 §4.2) counts only a pass.
func (d *doctor) checkSPF(ctx context.Context, domain string) Result {
	check := "spf " + domain
	if len(d.out) == 0 {
		return Result{Check: check, Status: Fail, Detail: errNoOutbound.Error(), Fix: "set outbound.source"}
	}
	want := spfRecord(d.out)
	var bad []string
	var fix string
	for _, a := range d.out {
		res, err := spf.CheckHostWithSender(net.IP(a.AsSlice()), d.cfg.Hostname, "postmaster@"+domain,
			spf.WithResolver(spfResolver{d.r}), spf.WithContext(ctx))
		switch res {
		case spf.Pass:
			continue
		case spf.None:
			return Result{Check: check, Status: Fail, Detail: domain + " has no SPF record (TXT \"v=spf1 ...\"); receivers cannot tell mail from this host from forgeries",
				Fix: fmt.Sprintf("publish %s. TXT %q", domain, want)}
		case spf.TempError:
			return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("SPF of %s could not be evaluated: %v", domain, err), Fix: resolverFix}
		case spf.PermError:
			return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("the SPF record of %s is broken (permerror): %v", domain, err),
				Fix: fmt.Sprintf("replace it with %s. TXT %q", domain, want)}
		}
		// fail, softfail, neutral: the record does not allow a.
		bad = append(bad, fmt.Sprintf("%s for %s", res, a))
		if fix == "" {
			fix = fmt.Sprintf("add %s to the SPF record of %s (for example %s. TXT %q)", spfMechanism(a), domain, domain, want)
		} else {
			fix += "; add " + spfMechanism(a) + " too"
		}
	}
	if len(bad) > 0 {
		return Result{Check: check, Status: Fail, Detail: "SPF of " + domain + " does not allow the outbound address: " + strings.Join(bad, ", "), Fix: fix}
	}
	return Result{Check: check, Status: OK, Detail: "pass for " + joinAddrs(d.out)}
}

// spfMechanism is the mechanism that allows a (RFC 7208 §5.6).
func spfMechanism(a netip.Addr) string {
	if a.Is4() {
		return "ip4:" + a.String()
	}
	return "ip6:" + a.String()
}

// spfRecord is an SPF record allowing the MX hosts and addrs.
func spfRecord(addrs []netip.Addr) string {
	rec := "v=spf1 mx"
	for _, a := range addrs {
		rec += " " + spfMechanism(a)
	}
	return rec + " -all"
}
