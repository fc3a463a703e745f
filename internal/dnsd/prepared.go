package dnsd

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Prepared answers. Most queries a name server gets are asked again and
// again, so each reader keeps the answers it has packed, by everything in
// a query that can change its answer: the question (the name lower-cased,
// RFC 4343; type and class), the transport and the most octets the answer
// may take (so truncation is kept apart, RFC 1035 §4.2.1, RFC 6891 §7),
// whether there is an OPT record and its flags and version (the DO bit,
// RFC 3225), and the ECS option as sent (echoed in the answer, RFC 7871
// §7.2.1). A query of that key is answered by copying the packed answer
// and patching what is the query's own: the ID, the RD and CD bits (RFC
// 1035 §4.1.1, RFC 6840 §5.9) and the question name as the client wrote
// it, so that a resolver that randomises the case of its names (the
// "0x20" defence) finds them as it sent them. No message is unpacked or
// packed and nothing is allocated.
//
// A pool's answer depends also on the client and on its edges' health
// and load: for a pool name the key holds a mark instead of an answer,
// the edges are chosen for the client as they would be for the full
// answer (without allocating), and the answer is prepared per choice and
// ECS scope. A signed answer is kept until the first of its signatures is
// due to be made again (sigRefresh). The cache belongs to one catalog: a
// reload empties it, so an answer never outlives the zone it came from.
// Queries of other shapes (other EDNS options, compressed names, more
// records) and answers that may change (SERVFAIL, RRL's slip) are
// answered the long way, every time.
const (
	// maxPrepared bounds the answers one reader keeps; when it is full
	// they are forgotten and prepared again (names that do not exist,
	// asked at random, would otherwise grow it without end). 1–2 MB per
	// reader at the usual answer sizes (a few hundred octets and a key);
	// there are readersPerSocket readers per CPU.
	maxPrepared = 4096
	// maxECSData is the longest ECS option kept in a key: family, two
	// prefix lengths and an IPv6 address (RFC 7871 §6).
	maxECSData = 4 + 16
	// maxChoice bounds the edges of a prepared pool answer.
	maxChoice = 16
	// maxPreparedKey is the longest key: the fixed fields, an ECS option,
	// a name (RFC 1035 §2.3.4) and a choice.
	maxPreparedKey = 16 + maxECSData + maxNameWire + 2 + 2*maxChoice
	// choiceMark separates a key from the choice that follows it.
	choiceMark = 0xff
)

// Header octets patched into a prepared answer: RD and CD are in the
// third and fourth octets of the header.
const (
	rdOctet = flagRD >> 8
	cdOctet = flagCD
)

// preparedCache is one reader's prepared answers, for catalog cat.
type preparedCache struct {
	cat *catalog
	m   map[string]*prepared
}

// prepared is one prepared answer, or, when wire is nil, the mark of a
// question answered from pool, per client.
type prepared struct {
	wire    []byte
	pool    *Pool
	want4   bool
	expires time.Time // zero: good until the catalog changes
}

// wireQuery is what the cache needs of a query, read off the wire.
type wireQuery struct {
	// qnameEnd is the offset of the octet after the question name.
	qnameEnd      int
	qtype, qclass uint16
	// size is the most octets the answer may take.
	size   int
	edns   bool
	optTTL uint32 // extended RCODE, version and flags (RFC 6891 §6.1.3)
	hasECS bool
	ecs    []byte // the ECS option's data, in the query's buffer
}

// parseWireQuery reads a query of the shape the cache answers: QR clear,
// opcode QUERY, one question whose name is not compressed, no answer or
// authority records, and at most an OPT record, version 0, whose one
// option, if any, is ECS. ok is false for anything else.
func parseWireQuery(wire []byte, udp bool) (q wireQuery, ok bool) {
	if len(wire) < headerSize+1+4 {
		return q, false
	}
	bits := binary.BigEndian.Uint16(wire[2:])
	if bits&flagQR != 0 || int(bits>>11)&0xF != dns.OpcodeQuery {
		return q, false
	}
	if binary.BigEndian.Uint16(wire[4:]) != 1 || binary.BigEndian.Uint16(wire[6:]) != 0 ||
		binary.BigEndian.Uint16(wire[8:]) != 0 {
		return q, false
	}
	arcount := binary.BigEndian.Uint16(wire[10:])
	if arcount > 1 {
		return q, false
	}
	off := headerSize
	for {
		if off >= len(wire) || off-headerSize >= maxNameWire {
			return q, false
		}
		l := int(wire[off])
		if l == 0 {
			off++
			break
		}
		if l > 63 {
			// A pointer or an extended label type (RFC 6891 §5).
			return q, false
		}
		off += 1 + l
	}
	if off+4 > len(wire) {
		return q, false
	}
	q.qnameEnd = off
	q.qtype = binary.BigEndian.Uint16(wire[off:])
	q.qclass = binary.BigEndian.Uint16(wire[off+2:])
	off += 4
	q.size = dns.MinMsgSize // RFC 1035 §4.2.1: 512 octets without EDNS
	if arcount == 1 {
		// RFC 6891 §6.1.2: the root name, TYPE 41, the UDP size in CLASS,
		// the extended RCODE, version and flags in TTL, then options.
		const optFixed = 1 + 2 + 2 + 4 + 2
		if off+optFixed > len(wire) || wire[off] != 0 || binary.BigEndian.Uint16(wire[off+1:]) != dns.TypeOPT {
			return q, false
		}
		udpSize := int(binary.BigEndian.Uint16(wire[off+3:]))
		q.optTTL = binary.BigEndian.Uint32(wire[off+5:])
		rdlen := int(binary.BigEndian.Uint16(wire[off+9:]))
		off += optFixed
		if off+rdlen != len(wire) || uint8(q.optTTL>>16) != ednsVersion {
			return q, false
		}
		for opts := wire[off:]; len(opts) > 0; {
			if len(opts) < 4 {
				return q, false
			}
			code, olen := binary.BigEndian.Uint16(opts), int(binary.BigEndian.Uint16(opts[2:]))
			if code != dns.EDNS0SUBNET || q.hasECS || 4+olen > len(opts) || olen > maxECSData {
				return q, false
			}
			q.hasECS, q.ecs = true, opts[4:4+olen]
			opts = opts[4+olen:]
		}
		q.edns = true
		q.size = max(dns.MinMsgSize, min(udpSize, maxUDPSize))
	} else if off != len(wire) {
		return q, false
	}
	if !udp {
		q.size = dns.MaxMsgSize
	}
	return q, true
}

// key appends the cache key of q (read from wire) to k.
func (q *wireQuery) key(k, wire []byte) []byte {
	k = binary.BigEndian.AppendUint16(k, uint16(q.size))
	flags := byte(0)
	if q.edns {
		flags |= 1
	}
	if q.hasECS {
		flags |= 2
	}
	k = append(k, flags)
	k = binary.BigEndian.AppendUint16(k, q.qtype)
	k = binary.BigEndian.AppendUint16(k, q.qclass)
	k = binary.BigEndian.AppendUint32(k, q.optTTL)
	k = append(k, byte(len(q.ecs)))
	k = append(k, q.ecs...)
	for _, c := range wire[headerSize:q.qnameEnd] {
		// RFC 4343 §3: names compare without regard to ASCII case. Length
		// octets are below 'A', so they pass unchanged.
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k = append(k, c)
	}
	return k
}

// client returns who q is answered for when it comes from src: the ECS
// prefix when it has one (RFC 7871 §7.1.2), else src, as respond finds
// it. ok is false for an ECS option respond would refuse.
func (q *wireQuery) client(src netip.Addr, ch *chooser) (cl client, ok bool) {
	cl = client{addr: src, bits: src.BitLen(), ch: ch}
	if !q.hasECS {
		return cl, true
	}
	e := q.ecs
	if len(e) < 4 || e[3] != 0 {
		return cl, false
	}
	netmask, addr := int(e[2]), e[4:]
	var a netip.Addr
	switch binary.BigEndian.Uint16(e) {
	case 0:
		return cl, netmask == 0
	case 1:
		var b [4]byte
		if netmask > 32 || len(addr) > len(b) {
			return cl, false
		}
		copy(b[:], addr)
		a = netip.AddrFrom4(b)
	case 2:
		var b [16]byte
		if netmask > 128 || len(addr) > len(b) {
			return cl, false
		}
		copy(b[:], addr)
		a = netip.AddrFrom16(b)
	default:
		return cl, false
	}
	if netmask == 0 {
		return cl, true
	}
	pf, _ := a.Unmap().Prefix(netmask)
	return client{addr: pf.Addr(), bits: netmask, ch: ch}, true
}

// appendChoice appends a pool's choice for a client to key k; ok is
// false when it has more edges than a key holds.
func appendChoice(k []byte, chosen []*Edge, scope uint8) ([]byte, bool) {
	if len(chosen) > maxChoice {
		return k, false
	}
	k = append(k, choiceMark, scope)
	for _, e := range chosen {
		k = binary.BigEndian.AppendUint16(k, uint16(e.index))
	}
	return k, true
}

// answerPrepared answers q (read from wire, sent by src) from sc's
// prepared answers, writing the answer at sc.buf[base:]; nil when none
// is prepared.
func (s *Server) answerPrepared(wire []byte, q *wireQuery, src netip.Addr, sc *scratch, base int) []byte {
	cat := s.cat.Load()
	pc := &sc.prep
	if pc.cat != cat {
		pc.cat, pc.m = cat, make(map[string]*prepared)
		return nil
	}
	k := q.key(sc.pkey[:0], wire)
	e := pc.m[string(k)]
	if e != nil && e.wire == nil {
		cl, ok := q.client(src, &sc.ch)
		if !ok {
			return nil
		}
		chosen, scope := e.pool.choose(&cl, e.want4, &sc.ch)
		if k, ok = appendChoice(k, chosen, scope); !ok {
			return nil
		}
		e = pc.m[string(k)]
	}
	sc.pkey = k[:0]
	if e == nil || e.wire == nil || (!e.expires.IsZero() && !s.now().Before(e.expires)) {
		return nil
	}
	out := sc.buf[base : base+len(e.wire)]
	copy(out, e.wire)
	out[0], out[1] = wire[0], wire[1]
	out[2] = out[2]&^rdOctet | wire[2]&rdOctet
	out[3] = out[3]&^cdOctet | wire[3]&cdOctet
	copy(out[headerSize:q.qnameEnd], wire[headerSize:q.qnameEnd])
	return out
}

// prepare keeps out, the answer respond gave to q (read from wire, sent
// by src), for the next query of its key, when it may be kept: when the
// answer echoes the question as sent, and, for a pool's answer, when the
// choice the cache would make for this client is the one the answer was
// made with.
func (s *Server) prepare(wire []byte, q *wireQuery, src netip.Addr, sc *scratch, out []byte) {
	pc := &sc.prep
	if pc.m == nil || len(out) < q.qnameEnd || !bytes.Equal(out[headerSize:q.qnameEnd], wire[headerSize:q.qnameEnd]) {
		return
	}
	if len(pc.m) >= maxPrepared {
		clear(pc.m)
	}
	k := q.key(sc.pkey[:0], wire)
	n := len(k)
	if p := sc.pool; p != nil {
		// The choice respond made, then the one answerPrepared would
		// make: they must be the same.
		var ok bool
		if k, ok = appendChoice(k, sc.ch.chosen, sc.scope); !ok {
			return
		}
		made := len(k)
		cl, ok := q.client(src, &sc.ch)
		if !ok {
			return
		}
		want4 := q.qtype == dns.TypeA
		chosen, scope := p.choose(&cl, want4, &sc.ch)
		if k, ok = appendChoice(k, chosen, scope); !ok || !bytes.Equal(k[n:made], k[made:]) {
			// The edges' health changed meanwhile, or the client is not
			// the one respond answered: prepare nothing.
			sc.pkey = k[:0]
			return
		}
		k = k[:made]
		if pc.m[string(k[:n])] == nil {
			pc.m[string(k[:n])] = &prepared{pool: p, want4: want4}
		}
	}
	pc.m[string(k)] = &prepared{wire: bytes.Clone(out), expires: sc.renew}
	sc.pkey = k[:0]
}
