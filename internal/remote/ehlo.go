package remote

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"pail/internal/resolve"
)

// EHLOName returns the name to say in EHLO when connections come from
// src (outbound.source): hostname when its A/AAAA records hold src, else
// the name of src's PTR record whose addresses hold it (forward-confirmed
// reverse DNS, which receivers check, RFC 8601 §3 "iprev"). When neither
// does it returns hostname and an error saying what to publish.
func EHLOName(ctx context.Context, r *resolve.Resolver, hostname string, src netip.Addr) (string, error) {
	holds := func(name string) bool {
		ips, err := r.LookupIP(ctx, name)
		return err == nil && slices.Contains(ips, src.Unmap())
	}
	if holds(hostname) {
		return hostname, nil
	}
	names, err := r.LookupAddr(ctx, src.String())
	if err != nil && !resolve.IsNotFound(err) {
		return hostname, fmt.Errorf("remote: reverse lookup of outbound.source %s: %w", src, err)
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n != "" && holds(n) {
			return n, nil
		}
	}
	return hostname, fmt.Errorf("remote: outbound.source %s is neither an address of %s nor has a PTR name that resolves back to it: publish A/AAAA %s and PTR %s", src, hostname, src, hostname)
}
