package ratelimit

import (
	"net/netip"
	"slices"
)

// ClientPrefix is the prefix that counts as one client of ip: its first
// ipv4Bits bits for IPv4 (an IPv4-mapped IPv6 address is IPv4), its first
// ipv6Bits for IPv6. The zero Addr gives the zero Prefix: one key for
// every client without an address.
func ClientPrefix(ip netip.Addr, ipv4Bits, ipv6Bits int) netip.Prefix {
	ip = ip.Unmap()
	bits := ipv4Bits
	if ip.Is6() {
		bits = ipv6Bits
	}
	p, err := ip.Prefix(min(bits, ip.BitLen()))
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// Trim cuts a per-client table m down to n entries when it holds more.
// Stale entries (those that carry no information) go first; then, if that
// was not enough, the entries that sort first by order, until n are left;
// each of those is passed to dropped (nil: not wanted), in order. Pinned
// entries (pinned nil: none) are never dropped, so the table may stay
// above n when most are pinned.
//
// Call it when a new entry would pass a bound, with an n about a tenth
// below that bound, so that the sort is paid once per n/9 new entries.
func Trim[K comparable, V any](m map[K]V, n int, stale, pinned func(V) bool, order func(a, b V) int, dropped func(K, V)) {
	for k, v := range m {
		if (pinned == nil || !pinned(v)) && stale(v) {
			delete(m, k)
		}
	}
	if len(m) <= n {
		return
	}
	type entry struct {
		k K
		v V
	}
	es := make([]entry, 0, len(m))
	for k, v := range m {
		if pinned == nil || !pinned(v) {
			es = append(es, entry{k, v})
		}
	}
	slices.SortFunc(es, func(x, y entry) int { return order(x.v, y.v) })
	for _, e := range es[:min(len(es), len(m)-n)] {
		delete(m, e.k)
		if dropped != nil {
			dropped(e.k, e.v)
		}
	}
}
