package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// outboundAddrs learns the addresses mail leaves from: outbound.source
// when set, else (a guess, said so) the host name's A/AAAA records. The
// PTR, SPF and blocklist checks look at these.
func (d *doctor) outboundAddrs(ctx context.Context) []Result {
	const check = "outbound address"
	if src := d.cfg.Outbound.Source; src != "" {
		a, err := netip.ParseAddr(src)
		if err != nil { // config.Validate refuses it; kept for safety
			return []Result{{Check: check, Status: Fail, Detail: fmt.Sprintf("outbound.source %q is not an address", src), Fix: "set outbound.source to the IP address mail leaves from"}}
		}
		d.out = []netip.Addr{a.Unmap()}
		return []Result{{Check: check, Status: OK, Detail: a.String() + " (outbound.source)"}}
	}
	host := d.cfg.Hostname
	ips, err := d.r.LookupIP(ctx, host)
	switch {
	case isNotFound(err):
		return []Result{{Check: check, Status: Fail,
			Detail: fmt.Sprintf("outbound.source is not set and %s has no A/AAAA record, so the address mail leaves from is unknown", host),
			Fix:    fmt.Sprintf("publish %s. A (and AAAA) with this host's public address, and set outbound.source to the one mail leaves from", host)}}
	case err != nil:
		return []Result{{Check: check, Status: Fail, Detail: lookupFailed(host+" A/AAAA", err), Fix: resolverFix}}
	}
	d.out, d.guessed = ips, true
	return []Result{{Check: check, Status: Warn,
		Detail: fmt.Sprintf("guessed: %s, the addresses of %s (outbound.source is not set; mail may leave from another address)", joinAddrs(ips), host),
		Fix:    "set outbound.source to the IP address mail leaves from, so that SPF, PTR and blocklists are checked for it"}}
}

// checkPTR checks forward-confirmed reverse DNS of every outbound
// address (RFC 8601 §3 "iprev", RFC 1912 §2.1): its PTR names a host
// whose A/AAAA records hold the address, and that host is the host name
// (what EHLO says; receivers compare them).
func (d *doctor) checkPTR(ctx context.Context) []Result {
	host := strings.ToLower(d.cfg.Hostname)
	var out []Result
	for _, a := range d.out {
		check := "ptr " + a.String()
		fixPTR := fmt.Sprintf("ask whoever runs the network of %s (the hosting provider) to set its PTR record to %s, and publish %s. %s %s", a, host, host, addrType(a), a)
		names, err := d.r.LookupAddr(ctx, a.String())
		switch {
		case isNotFound(err):
			out = append(out, Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%s has no PTR record; receivers refuse or mark mail from addresses without reverse DNS", a), Fix: fixPTR})
			continue
		case err != nil:
			out = append(out, Result{Check: check, Status: Fail, Detail: lookupFailed("the PTR of "+a.String(), err), Fix: resolverFix})
			continue
		}
		var confirmed, unconfirmed []string
		for _, n := range names {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			ips, err := d.r.LookupIP(ctx, n)
			if err == nil && slices.Contains(ips, a) {
				confirmed = append(confirmed, n)
			} else {
				unconfirmed = append(unconfirmed, n)
			}
		}
		switch {
		case slices.Contains(confirmed, host):
			out = append(out, Result{Check: check, Status: OK, Detail: fmt.Sprintf("%s → %s → %s (forward-confirmed)", a, host, a)})
		case len(confirmed) > 0:
			out = append(out, Result{Check: check, Status: Warn,
				Detail: fmt.Sprintf("PTR %s is forward-confirmed but is not the host name %s", strings.Join(confirmed, ", "), host),
				Fix:    fixPTR})
		default:
			out = append(out, Result{Check: check, Status: Fail,
				Detail: fmt.Sprintf("PTR names %s, whose A/AAAA records do not hold %s (not forward-confirmed)", strings.Join(unconfirmed, ", "), a),
				Fix:    fixPTR})
		}
	}
	return out
}

// addrType is the record type of an address: A or AAAA.
func addrType(a netip.Addr) string {
	if a.Is4() {
		return "A"
	}
	return "AAAA"
}

// joinAddrs lists addresses for a message.
func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
