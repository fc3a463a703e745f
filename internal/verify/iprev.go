package verify

import (
	"context"
	"net/netip"
	"strings"

	"pail/internal/resolve"
)

// maxPTRNames bounds the names of a PTR answer whose addresses are looked
// up: RFC 8601 §3 leaves it to the verifier; Postfix's reverse check
// stops at a handful too.
const maxPTRNames = 5

// IPRevResult is the reverse DNS check of the client (RFC 8601 §3).
type IPRevResult struct {
	Value string // pass, fail, temperror, permerror
	IP    netip.Addr
	// Name is the PTR name that resolves back to IP, when Value is pass.
	Name   string
	Reason string
}

// checkIPRev does the forward-confirmed reverse lookup of ip: a PTR name
// whose addresses include ip passes; no PTR record, or none whose names
// lead back to ip, fails (§3).
func (c *Checker) checkIPRev(ctx context.Context, ip netip.Addr) IPRevResult {
	res := IPRevResult{IP: ip.Unmap()}
	if !ip.IsValid() {
		res.Value, res.Reason = "permerror", "no client address"
		return res
	}
	names, err := c.Resolver.LookupAddr(ctx, res.IP.String())
	switch {
	case resolve.IsNotFound(err) || (err == nil && len(names) == 0):
		res.Value, res.Reason = "fail", "no PTR record"
		return res
	case err != nil:
		res.Value, res.Reason = "temperror", "PTR lookup failed"
		return res
	}
	temp := false
	for _, n := range names[:min(len(names), maxPTRNames)] {
		addrs, err := c.Resolver.LookupIP(ctx, n)
		if err != nil {
			temp = temp || !resolve.IsNotFound(err)
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == res.IP {
				res.Value, res.Name = "pass", strings.ToLower(strings.TrimSuffix(n, "."))
				return res
			}
		}
	}
	if temp {
		res.Value, res.Reason = "temperror", "address lookup failed"
		return res
	}
	res.Value, res.Reason = "fail", "PTR names do not resolve to the address"
	return res
}
