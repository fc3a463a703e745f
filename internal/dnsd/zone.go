package dnsd

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Bounds on what a zone may hold, so that a mistaken file cannot exhaust
// memory.
const (
	maxZoneRecords = 1 << 20
	// synthNegativeTTL is the SOA MINIMUM of a made-up SOA: how long a
	// resolver caches "no such name" (RFC 2308 §5 suggests 1–3 hours for
	// real zones; a config-written zone is more often edited, so less).
	synthNegativeTTL = 60
	synthSOATTL      = 300
)

// Zone is one zone of authority: the records under its origin, indexed by
// owner name. A Zone is never changed after it is built, so lookups need
// no locks; a reload builds new zones and swaps them in.
type Zone struct {
	// Origin is the apex, lower case and fully qualified.
	Origin string
	// SOA is the apex SOA record (RFC 1035 §5.2: exactly one per zone).
	SOA *dns.SOA
	// names holds every owner name, including empty non-terminals
	// (names with no records but with names below them, RFC 4592 §2.2.2).
	names map[string]*node
	// negative is the authority section of negative answers: the SOA
	// with its negative TTL (see negativeSOA), built once.
	negative []dns.RR
	// signer signs the zone's answers when dns.dnssec is set; nil:
	// unsigned. signErr is why a zone to be signed cannot be: its
	// queries are answered SERVFAIL.
	signer  *zoneSigner
	signErr error
}

// node is the records at one owner name. Everything an answer takes from
// it is computed when the zone is built, so that answering allocates
// nothing; the slices are clipped (len == cap), so an append to one
// copies it rather than write into the zone.
type node struct {
	rrsets map[uint16][]dns.RR
	// cut marks a delegation point: NS records below the apex
	// (RFC 1034 §4.2.1).
	cut bool
	// ref is the NS set of the highest cut at or above this name (below
	// the apex), nil when the name is in the zone's authority; glue is
	// the in-zone addresses of those name servers.
	ref, glue []dns.RR
	// extra is the additional section for each type here that names
	// hosts (MX, SRV, NS).
	extra map[uint16][]dns.RR
	// wildcard is the "*" child, which synthesizes the names below this
	// one that do not exist (RFC 4592 §3.3.1); nil when there is none.
	wildcard *node
}

// ParseZone reads one zone in RFC 1035 master-file syntax. origin may be
// empty when the file sets $ORIGIN or names its records fully; the zone's
// apex is the owner of its SOA record. file names the source in errors.
func ParseZone(r io.Reader, origin, file string) (*Zone, error) {
	if origin != "" {
		origin = dns.Fqdn(origin)
	}
	zp := dns.NewZoneParser(r, origin, file)
	// $INCLUDE could read any file on the machine into answers.
	zp.SetIncludeAllowed(false)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if len(rrs) >= maxZoneRecords {
			return nil, fmt.Errorf("%s: more than %d records", file, maxZoneRecords)
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	return NewZone(origin, rrs)
}

// LoadZoneFile reads a master file.
func LoadZoneFile(path string) (*Zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone file: %w", err)
	}
	defer f.Close()
	z, err := ParseZone(f, "", path)
	if err != nil {
		return nil, fmt.Errorf("zone file %s: %w", path, err)
	}
	return z, nil
}

// InlineZone builds a zone from records written relative to origin, one
// per string; without an SOA one is made up (ns1.ORIGIN, serial from
// the clock) so that negative answers carry one.
func InlineZone(origin string, records []string) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	text := "$ORIGIN " + origin + "\n$TTL 300\n" + strings.Join(records, "\n") + "\n"
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "zone "+origin)
	zp.SetIncludeAllowed(false)
	var rrs []dns.RR
	hasSOA := false
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if rr.Header().Rrtype == dns.TypeSOA {
			hasSOA = true
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if !hasSOA {
		rrs = append(rrs, &dns.SOA{
			Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: synthSOATTL},
			Ns:      "ns1." + origin,
			Mbox:    "hostmaster." + origin,
			Serial:  uint32(time.Now().Unix()),
			Refresh: 3600, Retry: 900, Expire: 604800,
			Minttl: synthNegativeTTL,
		})
	}
	return NewZone(origin, rrs)
}

// NewZone indexes rrs as the zone at origin; an empty origin means the
// owner of the one SOA record. Every record must lie at or below the
// origin, and only class IN is served.
func NewZone(origin string, rrs []dns.RR) (*Zone, error) {
	if origin == "" {
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeSOA {
				origin = rr.Header().Name
				break
			}
		}
		if origin == "" {
			return nil, fmt.Errorf("no SOA record")
		}
	}
	z := &Zone{Origin: dns.CanonicalName(origin), names: map[string]*node{}}
	for _, rr := range rrs {
		h := rr.Header()
		h.Name = dns.CanonicalName(h.Name)
		if h.Class != dns.ClassINET {
			return nil, fmt.Errorf("%s: class %s is not served", h.Name, dns.ClassToString[h.Class])
		}
		if !dns.IsSubDomain(z.Origin, h.Name) {
			return nil, fmt.Errorf("%s is outside the zone %s", h.Name, z.Origin)
		}
		n := z.node(h.Name)
		switch h.Rrtype {
		case dns.TypeSOA:
			if h.Name != z.Origin || z.SOA != nil {
				return nil, fmt.Errorf("%s: exactly one SOA, at the apex %s (RFC 1035 §5.2)", h.Name, z.Origin)
			}
			z.SOA = rr.(*dns.SOA)
		case dns.TypeNS:
			if h.Name != z.Origin {
				n.cut = true
			}
		}
		n.rrsets[h.Rrtype] = append(n.rrsets[h.Rrtype], rr)
	}
	if z.SOA == nil {
		return nil, fmt.Errorf("zone %s has no SOA record at its apex", z.Origin)
	}
	for name, n := range z.names {
		// RFC 1034 §3.6.2: a name with a CNAME has no other data.
		if _, ok := n.rrsets[dns.TypeCNAME]; ok && len(n.rrsets) > 1 {
			return nil, fmt.Errorf("%s: CNAME and other data at one name (RFC 1034 §3.6.2)", name)
		}
		if len(n.rrsets[dns.TypeCNAME]) > 1 {
			return nil, fmt.Errorf("%s: more than one CNAME", name)
		}
	}
	z.index()
	return z, nil
}

// index computes what answers take from each node: referrals, glue,
// additional sections and the negative SOA.
func (z *Zone) index() {
	z.negative = []dns.RR{z.negativeSOA()}
	for _, n := range z.names {
		for t, set := range n.rrsets {
			n.rrsets[t] = slices.Clip(set)
		}
	}
	for name, n := range z.names {
		n.wildcard = z.names["*."+name]
		// The highest cut wins (RFC 1034 §4.3.2): walk up to the apex and
		// keep the last cut seen.
		for p := name; p != z.Origin && p != ""; p = parent(p) {
			if a := z.names[p]; a != nil && a.cut {
				n.ref = a.rrsets[dns.TypeNS]
			}
		}
		if n.ref != nil {
			n.glue = slices.Clip(z.additional(n.ref))
		}
		for _, t := range []uint16{dns.TypeMX, dns.TypeSRV, dns.TypeNS} {
			if set := n.rrsets[t]; len(set) > 0 {
				if extra := z.additional(set); len(extra) > 0 {
					if n.extra == nil {
						n.extra = map[uint16][]dns.RR{}
					}
					n.extra[t] = slices.Clip(extra)
				}
			}
		}
	}
}

// node returns the node at name, creating it and every empty
// non-terminal between it and the apex.
func (z *Zone) node(name string) *node {
	n, ok := z.names[name]
	if !ok {
		n = &node{rrsets: map[uint16][]dns.RR{}}
		z.names[name] = n
		for p := parent(name); p != "" && dns.IsSubDomain(z.Origin, p); p = parent(p) {
			if _, ok := z.names[p]; ok {
				break
			}
			z.names[p] = &node{rrsets: map[uint16][]dns.RR{}}
		}
	}
	return n
}

// Len is the number of records in the zone.
func (z *Zone) Len() int {
	total := 0
	for _, n := range z.names {
		for _, set := range n.rrsets {
			total += len(set)
		}
	}
	return total
}

// negativeSOA is the SOA for a negative answer, its TTL: the smaller of
// the SOA's own TTL and its MINIMUM field (RFC 2308 §3).
func (z *Zone) negativeSOA() dns.RR {
	soa := *z.SOA
	soa.Hdr.Ttl = min(z.SOA.Hdr.Ttl, z.SOA.Minttl)
	return &soa
}

// parent strips the first label of a fully qualified name; the root has
// no parent ("").
func parent(name string) string {
	if name == "." || name == "" {
		return ""
	}
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}
