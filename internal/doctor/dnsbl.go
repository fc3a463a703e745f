package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Answers of a DNS blocklist (RFC 5782 §2.3): an A record in 127.0.0.0/8
// means listed. Lists answer 127.255.255.0/24 for a query they refuse
// (Spamhaus: 127.255.255.254 for queries through a public resolver,
// .255 for too many queries, .252 for a bad query), which says nothing
// about the address.
var (
	dnsblListed = netip.MustParsePrefix("127.0.0.0/8")
	dnsblError  = netip.MustParsePrefix("127.255.255.0/24")
)

// dnsblName is the name an address is looked up at in zone (RFC 5782
// §2.1: IPv4 octets reversed; §2.4: IPv6 nibbles reversed).
func dnsblName(a netip.Addr, zone string) string {
	rev, _ := dns.ReverseAddr(a.String()) // a valid address never fails
	rev = strings.TrimSuffix(strings.TrimSuffix(rev, "in-addr.arpa."), "ip6.arpa.")
	return rev + dns.Fqdn(zone)
}

// checkDNSBL looks every outbound address up in every configured
// blocklist ([doctor] dnsbl, else [inbound] dnsbl). With none configured
// it says so; it never fails for that.
func (d *doctor) checkDNSBL(ctx context.Context) []Result {
	if len(d.o.DNSBL) == 0 {
		return []Result{{Check: "dnsbl", Status: OK, Detail: "no blocklists configured ([doctor] dnsbl, else [inbound] dnsbl), none checked"}}
	}
	var out []Result
	for _, zone := range d.o.DNSBL {
		out = append(out, d.checkList(ctx, zone))
	}
	return out
}

// checkList looks the outbound addresses up in one list.
func (d *doctor) checkList(ctx context.Context, zone string) Result {
	check := "dnsbl " + zone
	if len(d.out) == 0 {
		return Result{Check: check, Status: Fail, Detail: errNoOutbound.Error(), Fix: "set outbound.source"}
	}
	var listed, errs, clean []string
	for _, a := range d.out {
		name := dnsblName(a, zone)
		ans, err := d.r.Query(ctx, name, dns.TypeA)
		switch {
		case isNotFound(err):
			clean = append(clean, a.String())
			continue
		case err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		var codes []string
		refused, isListed := false, false
		for _, rr := range ans.RRs {
			ip, _ := netip.AddrFromSlice(rr.(*dns.A).A)
			ip = ip.Unmap()
			codes = append(codes, ip.String())
			switch {
			case dnsblError.Contains(ip):
				refused = true
			case dnsblListed.Contains(ip):
				isListed = true
			}
		}
		switch {
		case isListed:
			reason := ""
			// §2.1: a TXT record at the same name may say why.
			if txts, err := d.r.LookupTXT(ctx, name); err == nil && len(txts) > 0 {
				reason = ": " + strings.Join(txts, " ")
			}
			listed = append(listed, fmt.Sprintf("%s (%s%s)", a, strings.Join(codes, ","), reason))
		case refused:
			errs = append(errs, fmt.Sprintf("%s: the list refused the query (%s)", a, strings.Join(codes, ",")))
		default:
			errs = append(errs, fmt.Sprintf("%s: answer %s is not a blocklist answer (outside 127.0.0.0/8)", a, strings.Join(codes, ",")))
		}
	}
	switch {
	case len(listed) > 0:
		return Result{Check: check, Status: Fail, Detail: "listed: " + strings.Join(listed, "; "),
			Fix: "find why on " + zone + "'s web site (delisting form), stop what caused it, and ask to be removed"}
	case len(errs) > 0:
		return Result{Check: check, Status: Warn, Detail: "could not be checked: " + strings.Join(errs, "; "),
			Fix: "lists refuse queries through public resolvers: set resolver to one of your own, or set [doctor] dnsbl (which replaces [inbound] dnsbl for the doctor) without " + zone}
	}
	return Result{Check: check, Status: OK, Detail: "not listed: " + strings.Join(clean, ", ")}
}
