package dnsd

import (
	"slices"

	"github.com/miekg/dns"
)

// maxChase bounds the CNAME records followed inside one zone for one
// answer. A longer chain is answered as far as maxChase links, and the
// resolver follows the last target itself (RFC 1034 §4.3.2 step 3a:
// it restarts at the CNAME's target, as for one that leaves the zone).
// Eight is more than any sane zone needs (RFC 1034 §3.6.2: chains of
// aliases "should be avoided").
const maxChase = 8

// result is the content of one answer, before EDNS and truncation.
type result struct {
	rcode         int
	authoritative bool
	answer        []dns.RR
	ns            []dns.RR
	extra         []dns.RR
	// policy marks an answer chosen for this client (a pool answer):
	// its ECS scope is scope rather than 0.
	policy bool
	scope  uint8
	// pool is the pool a policy answer comes from.
	pool *Pool
	// zone is the zone answering, nil when none does.
	zone *Zone
	// last is the name a negative answer is about (after any CNAME),
	// node its node (nil for a name that does not exist): what the NSEC
	// of a signed answer says.
	last string
	node *node
}

// answer resolves q from the catalog's data, for client cl. It implements
// the authoritative part of RFC 1034 §4.3.2's algorithm: delegations,
// CNAME chasing inside the zone, wildcards (RFC 4592) and negative
// answers with the SOA (RFC 2308).
func (c *catalog) answer(q dns.Question, cl *client) result {
	name := dns.CanonicalName(q.Name)
	z := c.zoneFor(name)
	if z == nil {
		// Not ours, and we never recurse (RFC 1035 §4.3.1: RA stays 0).
		return result{rcode: dns.RcodeRefused}
	}
	if z.signErr != nil {
		// The zone is to be signed and its keys cannot be read: no
		// answer rather than an unsigned one that validators reject as
		// bogus, or that strips the zone's security (the error was
		// logged when the zone was loaded).
		return result{rcode: dns.RcodeServerFailure}
	}
	r := result{rcode: dns.RcodeSuccess, authoritative: true, zone: z}
	if q.Qtype == dns.TypeANY {
		// RFC 8482 §4.2: a minimal synthesized HINFO answers ANY, so that
		// ANY cannot be used to amplify.
		if _, ok := z.names[name]; ok || c.pools[name] != nil {
			r.answer = []dns.RR{&dns.HINFO{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3600},
				Cpu: "RFC8482",
			}}
			return r
		}
	}
	// visited holds the owners of the CNAMEs followed so far.
	var visited [maxChase]string
	chased := 0
	for chased < maxChase {
		// The node at name, else its closest encloser (RFC 4592 §3.3.1),
		// whose referral is name's: every name between it and the apex
		// exists, empty non-terminals included.
		n, owner := z.names[name], name
		ce := n
		if n == nil {
			ce = z.closestEncloser(name)
		}
		if ce != nil && ce.ref != nil && !(q.Qtype == dns.TypeDS && n != nil && n.cut && n.ref[0] == n.rrsets[dns.TypeNS][0]) {
			// RFC 4035 §3.1.4.1: the DS set at a delegation point is the
			// parent's, answered from here; every other name at or below
			// a cut is referred.
			if len(r.answer) == 0 {
				// RFC 1034 §4.3.2 step 3b: a referral is not authoritative.
				r.authoritative = false
				r.ns = ce.ref
				r.extra = ce.glue
			}
			return r
		}
		if n == nil {
			if ce != nil {
				n = ce.wildcard
			}
			if n == nil {
				// RFC 2308 §2.1: NXDOMAIN with the SOA; after a CNAME the
				// rcode describes the last name (RFC 6604 §2).
				r.rcode = dns.RcodeNameError
				r.ns = z.negative
				r.last = name
				return r
			}
		}
		if p := c.pools[name]; p != nil && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA) {
			rrs, scope := p.answer(owner, q.Qtype, cl)
			r.policy, r.scope, r.pool = true, scope, p
			if len(rrs) == 0 {
				r.ns = z.negative
				r.last = name
			}
			r.answer = append(r.answer, rrs...)
			return r
		}
		if cn := n.rrsets[dns.TypeCNAME]; len(cn) > 0 && q.Qtype != dns.TypeCNAME {
			r.answer = appendRRs(r.answer, withOwner(cn, owner))
			visited[chased] = name
			chased++
			name = dns.CanonicalName(cn[0].(*dns.CNAME).Target)
			if !dns.IsSubDomain(z.Origin, name) {
				// Out of the zone: the resolver follows it.
				return r
			}
			if slices.Contains(visited[:chased], name) {
				// A loop (a→b→a): the chain goes out once, each CNAME
				// in it once, NOERROR, as NSD and Knot answer; the
				// resolver signals the loop (RFC 1034 §3.6.2).
				return r
			}
			continue
		}
		rrs := n.rrsets[q.Qtype]
		if len(rrs) == 0 {
			// NODATA: the name exists without this type (RFC 2308 §2.2).
			r.ns = z.negative
			r.last, r.node = owner, n
			return r
		}
		r.answer = appendRRs(r.answer, withOwner(rrs, owner))
		r.extra = n.extra[q.Qtype]
		return r
	}
	// A CNAME chain longer than maxChase: answer its first maxChase
	// links; the resolver goes on from the last target.
	return r
}

// appendRRs appends rrs to answer; the first set is used as it is,
// without a copy (zone slices are clipped, so a later append copies).
func appendRRs(answer, rrs []dns.RR) []dns.RR {
	if len(answer) == 0 {
		return rrs
	}
	return append(answer, rrs...)
}

// zoneFor returns the closest enclosing zone of name, or nil.
func (c *catalog) zoneFor(name string) *Zone {
	for n := name; n != ""; n = parent(n) {
		if z := c.zones[n]; z != nil {
			return z
		}
	}
	return nil
}

// referral returns the NS records of the delegation point at or above
// name (below the apex), or nil when name is in the zone's authority.
func (z *Zone) referral(name string) []dns.RR {
	n := z.names[name]
	if n == nil {
		n = z.closestEncloser(name)
	}
	if n == nil {
		return nil
	}
	return n.ref
}

// closestEncloser returns the node of the nearest ancestor of name that
// exists in the zone (RFC 4592 §3.3.1), or nil.
func (z *Zone) closestEncloser(name string) *node {
	for ce := parent(name); ce != "" && dns.IsSubDomain(z.Origin, ce); ce = parent(ce) {
		if n := z.names[ce]; n != nil {
			return n
		}
	}
	return nil
}

// withOwner returns rrs, copied with owner name when they come from a
// wildcard (RFC 4592 §3.3.1: synthesized records take the query name).
func withOwner(rrs []dns.RR, owner string) []dns.RR {
	if rrs[0].Header().Name == owner {
		return rrs
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = owner
	}
	return out
}

// additional returns the in-zone addresses of the hosts that MX, SRV and
// NS records name (RFC 1035 §3.3.9, §3.3.11; RFC 2782).
func (z *Zone) additional(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		var target string
		switch v := rr.(type) {
		case *dns.MX:
			target = v.Mx
		case *dns.SRV:
			target = v.Target
		case *dns.NS:
			target = v.Ns
		default:
			continue
		}
		out = append(out, z.addresses(dns.CanonicalName(target))...)
	}
	return out
}

// addresses returns the A and AAAA records of name.
func (z *Zone) addresses(name string) []dns.RR {
	n := z.names[name]
	if n == nil {
		return nil
	}
	return append(append([]dns.RR(nil), n.rrsets[dns.TypeA]...), n.rrsets[dns.TypeAAAA]...)
}
