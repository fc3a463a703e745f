package dnsd

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Online signing (RFC 4033–4035, RFC 6840). With dns.dnssec set, every
// zone is signed as it is answered, so that pool answers, which differ
// per client, are signed like the rest: each RRset of an answer to a
// query with the DO bit (RFC 3225) gets an RRSIG from each of the zone's
// keys. Authenticated denial uses minimal NSEC records made per query,
// the "black lies" of RFC 4470's online signing: a name that does not
// exist is answered NOERROR with no data (not NXDOMAIN) and an NSEC at
// the query name whose next name is its immediate successor
// (\000.NAME), with only RRSIG and NSEC in its type bitmap; a name that
// exists without the type asked gets an NSEC at the name listing the
// types it has. Each NSEC covers no name but its owner, so it can never
// deny a name that exists, and a resolver's aggressive use of NSEC (RFC
// 8198) stays correct. NSEC3 is not used: with one-name NSEC records
// there is no zone walk for it to hide.
//
// Signatures are cached per RRset (owner, type, TTL and data), so the
// same answer is signed once per sigRefresh, not per packet.
const (
	// sigValidity is how long a signature is valid after it is made.
	sigValidity = 7 * 24 * time.Hour
	// sigBackdate sets the inception this far back, so that a resolver
	// whose clock is behind still accepts a fresh signature (RFC 6781
	// §4.4.2.2: clock skew).
	sigBackdate = time.Hour
	// sigRefresh: a cached signature is made again when it is this old,
	// so one handed out always has six days of validity left, more than
	// any TTL pail serves.
	sigRefresh = 24 * time.Hour
	// maxSigCache bounds the signatures cached per zone (NSEC records of
	// names that do not exist are made per name); when full it is
	// emptied and refilled.
	maxSigCache = 1 << 16
)

// errNoSuccessor: a name so long that \000.NAME is no name; its denial
// is SERVFAIL (such names come from probes, not from zones).
var errNoSuccessor = errors.New("dnssec: no successor name for an NSEC")

// maxNameWire is the longest name in wire form (RFC 1035 §2.3.4).
const maxNameWire = 255

// zoneSigner signs one zone's answers.
type zoneSigner struct {
	origin string
	keys   []signingKey
	now    func() time.Time
	// negTTL is the TTL of NSEC records: the negative TTL of the SOA
	// (RFC 4034 §4, RFC 9077).
	negTTL uint32

	mu    sync.RWMutex
	cache map[string]sigEntry
}

// signingKey is a key that signs: its tag and private key.
type signingKey struct {
	tag    uint16
	signer crypto.Signer
}

// sigEntry is the signatures of one RRset, with when to make them again.
type sigEntry struct {
	sigs  []dns.RR
	renew time.Time
}

func newZoneSigner(z *Zone, keys []ZoneKey, now func() time.Time) *zoneSigner {
	s := &zoneSigner{origin: z.Origin, now: now, negTTL: z.negative[0].Header().Ttl, cache: map[string]sigEntry{}}
	for _, k := range keys {
		s.keys = append(s.keys, signingKey{tag: k.Tag, signer: k.signer})
	}
	return s
}

// sigs returns the RRSIGs of rrset (one owner and type), from the cache
// or made now. buf is scratch memory for the cache key. renew is moved
// back to when these signatures are to be made again, if sooner: an
// answer prepared with them is good until then.
func (s *zoneSigner) sigs(rrset []dns.RR, buf []byte, renew *time.Time) ([]dns.RR, error) {
	key, err := rrsetKey(rrset, buf)
	if err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.RLock()
	e, ok := s.cache[string(key)]
	s.mu.RUnlock()
	if ok && now.Before(e.renew) {
		earlier(renew, e.renew)
		return e.sigs, nil
	}
	sigs := make([]dns.RR, 0, len(s.keys))
	for _, k := range s.keys {
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Ttl: rrset[0].Header().Ttl},
			Algorithm:  dns.ECDSAP256SHA256,
			KeyTag:     k.tag,
			SignerName: s.origin,
			// RFC 4034 §3.1.5: seconds since the epoch, modulo 2^32.
			Inception:  uint32(now.Add(-sigBackdate).Unix()),
			Expiration: uint32(now.Add(sigValidity).Unix()),
		}
		if err := sig.Sign(k.signer, rrset); err != nil {
			return nil, fmt.Errorf("dnssec: signing %s %s: %w", rrset[0].Header().Name, dns.TypeToString[rrset[0].Header().Rrtype], err)
		}
		sigs = append(sigs, sig)
	}
	s.mu.Lock()
	if len(s.cache) >= maxSigCache {
		clear(s.cache)
	}
	s.cache[string(key)] = sigEntry{sigs: sigs, renew: now.Add(sigRefresh)}
	s.mu.Unlock()
	earlier(renew, now.Add(sigRefresh))
	return sigs, nil
}

// earlier sets *t to u when *t is zero or later than u.
func earlier(t *time.Time, u time.Time) {
	if t.IsZero() || u.Before(*t) {
		*t = u
	}
}

// rrsetKey packs rrset, uncompressed, into buf: the cache key. It packs
// a message holding rrset rather than each record with dns.PackRR,
// which writes each record's RDLENGTH back into it: the records are the
// zone's, read by every query at once.
func rrsetKey(rrset []dns.RR, buf []byte) ([]byte, error) {
	m := dns.Msg{Answer: rrset}
	key, err := m.PackBuffer(buf)
	if err != nil {
		return nil, fmt.Errorf("dnssec: packing %s: %w", rrset[0].Header().Name, err)
	}
	return key, nil
}

// appendSigned appends rrs to out with the RRSIGs of each RRset in it
// (runs of one owner and type) after it (RFC 4035 §3.1.1).
func (s *zoneSigner) appendSigned(out, rrs []dns.RR, buf []byte, renew *time.Time) ([]dns.RR, error) {
	for i := 0; i < len(rrs); {
		h := rrs[i].Header()
		j := i + 1
		for j < len(rrs) && rrs[j].Header().Rrtype == h.Rrtype && rrs[j].Header().Name == h.Name {
			j++
		}
		sigs, err := s.sigs(rrs[i:j], buf, renew)
		if err != nil {
			return nil, err
		}
		out = append(append(out, rrs[i:j]...), sigs...)
		i = j
	}
	return out, nil
}

// nsec returns the minimal NSEC record for owner with types (and RRSIG
// and NSEC) in its bitmap (RFC 4470 §3: the next name is owner's
// immediate successor, so it covers no other name).
func (s *zoneSigner) nsec(owner string, types []uint16) (*dns.NSEC, error) {
	next := `\000.` + owner
	var wire [maxNameWire]byte
	if _, err := dns.PackDomainName(next, wire[:], 0, nil, false); err != nil {
		// A name too long for a label more has no successor that is
		// simple to write; refuse rather than deny more than owner.
		return nil, errNoSuccessor
	}
	bitmap := append(slices.Clone(types), dns.TypeRRSIG, dns.TypeNSEC)
	slices.Sort(bitmap)
	bitmap = slices.Compact(bitmap)
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: s.negTTL},
		NextDomain: next,
		TypeBitMap: bitmap,
	}, nil
}

// nodeTypes returns the types an NSEC at n lists: those it has, or, at
// a delegation point, only NS and DS (RFC 4035 §2.3: the rest there is
// glue, not authoritative).
func nodeTypes(n *node) []uint16 {
	var out []uint16
	for t, set := range n.rrsets {
		if len(set) == 0 {
			continue
		}
		if n.cut && t != dns.TypeNS && t != dns.TypeDS {
			continue
		}
		out = append(out, t)
	}
	return out
}

// poolTypes returns the address types pool p answers: A when it has an
// IPv4 edge, AAAA when it has an IPv6 one.
func poolTypes(p *Pool) []uint16 {
	var out []uint16
	for _, e := range p.Edges {
		t := uint16(dns.TypeA)
		if e.Addr.Is6() {
			t = dns.TypeAAAA
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// signedSections is the answer, authority and additional sections of a
// signed answer.
type signedSections struct {
	rcode             int
	answer, ns, extra []dns.RR
}

// sign returns the sections of r, for question q, with signatures and
// denial of existence added; sc's slices hold them, and sc.renew when
// the first of the signatures is to be made again.
func (c *catalog) sign(r *result, q dns.Question, sc *scratch) (signedSections, error) {
	z := r.zone
	s := z.signer
	buf := sc.key[:cap(sc.key)]
	out := signedSections{rcode: r.rcode}
	var err error
	if out.answer, err = s.appendSigned(sc.ans[:0], r.answer, buf, &sc.renew); err != nil {
		return out, err
	}
	ns := sc.ns[:0]
	switch {
	case !r.authoritative && len(r.ns) > 0:
		// A referral: the NS set unsigned (it is the child's), then the
		// DS set signed, or an NSEC proving there is none (RFC 4035
		// §3.1.4).
		ns = append(ns, r.ns...)
		cut := r.ns[0].Header().Name
		n := z.names[cut]
		if ds := n.rrsets[dns.TypeDS]; len(ds) > 0 {
			if ns, err = s.appendSigned(ns, ds, buf, &sc.renew); err != nil {
				return out, err
			}
		} else {
			nsec, err := s.nsec(cut, nodeTypes(n))
			if err != nil {
				return out, err
			}
			if ns, err = s.appendSigned(ns, []dns.RR{nsec}, buf, &sc.renew); err != nil {
				return out, err
			}
		}
		out.ns, out.extra = ns, r.extra // glue is never signed
		sc.ans, sc.ns = out.answer[:0], ns[:0]
		return out, nil
	case len(r.ns) > 0:
		// A negative answer: the SOA signed, and an NSEC at the name
		// the answer is about (RFC 4035 §3.1.3).
		var types []uint16
		switch {
		case r.rcode == dns.RcodeNameError:
			// Black lie: the name "exists" with nothing at it.
			out.rcode = dns.RcodeSuccess
		case c.pools[r.last] != nil:
			types = poolTypes(c.pools[r.last])
		case r.node != nil:
			types = nodeTypes(r.node)
		}
		nsec, err := s.nsec(r.last, types)
		if err != nil {
			return out, err
		}
		if ns, err = s.appendSigned(ns, r.ns, buf, &sc.renew); err != nil {
			return out, err
		}
		if ns, err = s.appendSigned(ns, []dns.RR{nsec}, buf, &sc.renew); err != nil {
			return out, err
		}
	}
	out.ns = ns
	sc.ns = ns[:0]
	if out.extra, err = s.appendSigned(sc.sigExtra[:0], r.extra, buf, &sc.renew); err != nil {
		return out, err
	}
	sc.ans, sc.sigExtra = out.answer[:0], out.extra[:0]
	return out, nil
}
