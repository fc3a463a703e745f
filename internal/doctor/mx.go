package doctor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"pail/internal/resolve"
)

// checkMX checks that the domain's MX records lead here (RFC 5321 §5.1):
// an MX host that is the host name, or one whose addresses are this
// host's (outbound.source, or the SMTP listen address when it names
// one). Other MX hosts (backups) are mentioned, not failed.
func (d *doctor) checkMX(ctx context.Context, domain string) Result {
	check := "mx " + domain
	host := strings.ToLower(d.cfg.Hostname)
	fix := fmt.Sprintf("publish %s. MX 10 %s. (pail dns-records %s prints it)", domain, host, domain)
	mxs, err := d.r.LookupMX(ctx, domain)
	switch {
	case isNotFound(err):
		return Result{Check: check, Status: Fail, Detail: domain + " has no MX record; senders try its A/AAAA record instead, if any", Fix: fix}
	case err != nil:
		return Result{Check: check, Status: Fail, Detail: lookupFailed(domain+" MX", err), Fix: resolverFix}
	}
	if slices.ContainsFunc(mxs, func(m resolve.MX) bool { return m.Host == "" }) {
		// RFC 7505 §3: a null MX says the domain takes no mail.
		return Result{Check: check, Status: Fail, Detail: domain + " publishes a null MX (\"MX 0 .\"): it receives no mail", Fix: fix}
	}
	own := d.ownAddrs()
	var here, elsewhere []string
	for _, m := range mxs {
		if m.Host == host {
			here = append(here, m.Host)
			continue
		}
		ips, err := d.r.LookupIP(ctx, m.Host)
		if err == nil && slices.ContainsFunc(ips, func(a netip.Addr) bool { return slices.Contains(own, a) }) {
			here = append(here, m.Host)
			continue
		}
		elsewhere = append(elsewhere, m.Host)
	}
	if len(here) == 0 {
		return Result{Check: check, Status: Fail,
			Detail: fmt.Sprintf("MX %s: none is %s or has this host's address", strings.Join(elsewhere, ", "), host),
			Fix:    fix}
	}
	detail := "MX " + strings.Join(here, ", ") + " is this host"
	if len(elsewhere) > 0 {
		detail += "; also " + strings.Join(elsewhere, ", ") + " (not this host: a backup must relay here)"
	}
	return Result{Check: check, Status: OK, Detail: detail}
}

// ownAddrs are the addresses known to be this host's: outbound.source
// and the SMTP listen address when it is one address (not 0.0.0.0 or ::).
func (d *doctor) ownAddrs() []netip.Addr {
	var out []netip.Addr
	if a, err := netip.ParseAddr(d.cfg.Outbound.Source); err == nil {
		out = append(out, a.Unmap())
	}
	if h, _, err := net.SplitHostPort(d.cfg.Listen.SMTP); err == nil {
		if a, err := netip.ParseAddr(h); err == nil && !a.IsUnspecified() {
			out = append(out, a.Unmap())
		}
	}
	return out
}
