package dnsd

import (
	"math"
	"net/netip"
	"slices"

	"github.com/miekg/dns"
)

// Client grouping when neither the location table nor the database knows
// a client: answers
// are then chosen per /24 (IPv4) or /56 (IPv6), so one site keeps one
// edge (and its warm cache), and that is the ECS scope returned.
const (
	unknownV4Bits = 24
	unknownV6Bits = 56
	// minLoadFactor keeps a fully loaded edge in rotation at 5% of its
	// weight rather than none: load figures lag, and a pool of loaded
	// edges must still answer.
	minLoadFactor = 0.05
	// nearSlackKm: edges this much farther than the nearest still count
	// as near, so weights share traffic between edges in one city.
	nearSlackKm = 100
)

// Pool is a name answered with some of its edges, chosen per client.
type Pool struct {
	Name    string
	TTL     uint32
	Answers int
	Edges   []*Edge
	loc     *locator
}

// Edge is one copy of a pooled service.
type Edge struct {
	Addr     netip.Addr
	Location Location
	Weight   float64
	// health is the URL checked; "" means none.
	health string
	// probe tracks health and load; nil means never checked: always up.
	probe *probe
	// index is the edge's place in its pool's Edges: what a prepared
	// answer's key records of a choice.
	index int
}

// up reports whether the edge may be given out.
func (e *Edge) up() bool { return e.probe == nil || e.probe.isUp() }

// load is the edge's last reported load in [0,1].
func (e *Edge) load() float64 {
	if e.probe == nil {
		return 0
	}
	return e.probe.loadFigure()
}

// client is who a query is answered for.
type client struct {
	// addr is the ECS address when the query carries one (RFC 7871), else
	// the source address of the query.
	addr netip.Addr
	// bits is how many leading bits of addr are known.
	bits int
	// ch is the memory a pool's choice for this client is made in, and
	// where it is left; nil: choose allocates its own.
	ch *chooser
}

// answer returns the pool's A or AAAA records for cl and the ECS scope
// prefix length they hold for (RFC 7871 §7.2.1). The edges chosen are
// left in cl.ch when it is set, so that the answer can be prepared for
// the next query that makes the same choice.
func (p *Pool) answer(owner string, qtype uint16, cl *client) ([]dns.RR, uint8) {
	ch := cl.ch
	if ch == nil {
		ch = new(chooser)
	}
	want4 := qtype == dns.TypeA
	chosen, scope := p.choose(cl, want4, ch)
	rrs := make([]dns.RR, 0, len(chosen))
	for _, e := range chosen {
		hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: p.TTL}
		if want4 {
			hdr.Rrtype = dns.TypeA
			rrs = append(rrs, &dns.A{Hdr: hdr, A: e.Addr.AsSlice()})
		} else {
			hdr.Rrtype = dns.TypeAAAA
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: e.Addr.AsSlice()})
		}
	}
	return rrs, scope
}

// chooser is the memory choose works in, reused from query to query so
// that choosing allocates nothing. chosen is the last choice made.
type chooser struct {
	healthy, family, near, chosen []*Edge
	scored                        []scored
}

// scored is an edge with its rendezvous score for one client.
type scored struct {
	e     *Edge
	score float64
}

// choose returns the edges of the address family asked (IPv4 when want4)
// that answer cl, in ch.chosen, and the ECS scope they hold for.
func (p *Pool) choose(cl *client, want4 bool, ch *chooser) ([]*Edge, uint8) {
	where, bits, known := p.loc.locate(cl.addr)
	key, scope := clientKey(cl, bits, known)
	healthy, family := ch.healthy[:0], ch.family[:0]
	for _, e := range p.Edges {
		if e.Addr.Is4() != want4 {
			continue
		}
		family = append(family, e)
		if e.up() {
			healthy = append(healthy, e)
		}
	}
	ch.healthy, ch.family = healthy, family
	var chosen []*Edge
	if len(healthy) == 0 {
		// Every edge failed its check: answer with all of them rather than
		// nothing; the checks may be what is broken.
		chosen = append(ch.chosen[:0], family...)
	} else {
		ch.near = appendNear(ch.near[:0], healthy, where)
		chosen = appendRank(ch.chosen[:0], ch.near, key, ch)
		if len(chosen) > p.Answers {
			chosen = chosen[:p.Answers]
		}
	}
	ch.chosen = chosen
	return chosen, scope
}

// clientKey returns the prefix that decides cl's answer and its length:
// the prefix its place was found for (bits long, when known), or the
// client's site prefix.
func clientKey(cl *client, bits int, known bool) (netip.Prefix, uint8) {
	if known {
		pf, _ := cl.addr.Unmap().Prefix(bits)
		return pf, uint8(bits)
	}
	bits = unknownV4Bits
	if !cl.addr.Unmap().Is4() {
		bits = unknownV6Bits
	}
	bits = min(bits, cl.bits)
	pf, _ := cl.addr.Unmap().Prefix(bits)
	return pf, uint8(bits)
}

// near returns the edges closest to where: those in its first region
// that has any, else those nearest its coordinates, else all of them.
func near(edges []*Edge, where place) []*Edge { return appendNear(nil, edges, where) }

// appendNear appends near's edges to dst.
func appendNear(dst, edges []*Edge, where place) []*Edge {
	for _, r := range where.regions {
		same := dst
		for _, e := range edges {
			if e.Location.Region == r {
				same = append(same, e)
			}
		}
		if len(same) > len(dst) {
			return same
		}
	}
	if loc := where.coord; loc.HasCoord {
		best := math.Inf(1)
		for _, e := range edges {
			if e.Location.HasCoord {
				best = min(best, distanceKm(loc, e.Location))
			}
		}
		close := dst
		for _, e := range edges {
			if e.Location.HasCoord && distanceKm(loc, e.Location) <= best+nearSlackKm {
				close = append(close, e)
			}
		}
		if len(close) > len(dst) {
			return close
		}
	}
	return append(dst, edges...)
}

// rank orders edges by weighted rendezvous hashing on the client key:
// each client prefix gets a stable first choice, edges get clients in
// proportion to weight × (1 − load), and an edge that leaves moves only
// its own clients.
func rank(edges []*Edge, key netip.Prefix) []*Edge {
	return appendRank(nil, edges, key, new(chooser))
}

// appendRank appends rank's order of edges to dst, scoring them in
// ch.scored.
func appendRank(dst, edges []*Edge, key netip.Prefix, ch *chooser) []*Edge {
	var kbuf, abuf [64]byte
	kb, _ := key.AppendBinary(kbuf[:0])
	kh := fnv1a(fnvOffset64, kb)
	s := ch.scored[:0]
	for _, e := range edges {
		ab, _ := e.Addr.AppendBinary(abuf[:0])
		u := (float64(mix64(fnv1a(kh, ab))>>11) + 0.5) / (1 << 53) // uniform in (0,1)
		w := e.Weight * max(minLoadFactor, 1-e.load())
		s = append(s, scored{e, w / -math.Log(u)})
	}
	ch.scored = s
	slices.SortFunc(s, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return a.e.Addr.Compare(b.e.Addr)
	})
	for i := range s {
		dst = append(dst, s[i].e)
	}
	return dst
}

// FNV-1a, 64 bits (hash/fnv's New64a, without its allocation per call).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fnv1a continues the FNV-1a hash h over b.
func fnv1a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

// mix64 is SplitMix64's finalizer: FNV alone spreads short keys that
// differ in one byte poorly over the high bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
