package dnsd

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// EDNS0 sizes (RFC 6891).
const (
	// maxUDPSize is the largest UDP answer sent, whatever the client
	// offers: 1232 octets fit an IPv6 minimum MTU without fragmentation
	// (DNS Flag Day 2020), and fragments are what amplification and cache
	// poisoning attacks ride on.
	maxUDPSize = 1232
	// ednsVersion is the only EDNS version spoken (RFC 6891 §6.1.3).
	ednsVersion = 0
	// keepaliveUnit is the unit of an edns-tcp-keepalive timeout (RFC
	// 7828 §3.1).
	keepaliveUnit = 100 * time.Millisecond
)

// ServeDNS answers one query; it is the miekg/dns handler, for TCP and
// for UDP sockets that serveUDP does not read itself.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	defer func() {
		if v := recover(); v != nil {
			// A bug must not take the server down: answer SERVFAIL.
			s.log.Error("dns: panic answering a query", "panic", v, "question", req.Question)
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeServerFailure)
			w.WriteMsg(m)
		}
	}()
	sc := s.scratch.Get().(*scratch)
	src := addrOf(w.RemoteAddr())
	if isUDP(w.RemoteAddr()) {
		if buf := s.answerUDP(req, src, sc, s.limit(src)); buf != nil {
			w.Write(buf)
		}
	} else if m, _ := s.respond(req, src, false, sc); m != nil {
		w.WriteMsg(m)
	}
	// Not deferred: after a panic the scratch space is not reused.
	s.scratch.Put(sc)
}

// scratch is the memory one query is answered in, reused from query to
// query: by each UDP reader, and through Server.scratch for the rest.
type scratch struct {
	req   dns.Msg
	resp  dns.Msg
	opt   dns.OPT
	ecs   dns.EDNS0_SUBNET
	extra []dns.RR
	// ka is the TCP keepalive option of an answer (RFC 7828).
	ka dns.EDNS0_TCP_KEEPALIVE
	// buf holds a packed answer: PackBuffer wants room for the answer
	// uncompressed, at most a whole message.
	buf []byte
	// The sections of a signed answer, and the signature cache's key
	// (an RRset packed: at most a message).
	ans, ns, sigExtra []dns.RR
	key               []byte
	// ch is where a pool's choice is made (and left) for the answer
	// in hand.
	ch chooser
	// What respond found out about the answer in hand, for the
	// prepared-answer cache: whether it may be prepared, the pool a
	// policy answer comes from, and when its first signature is to be
	// made again (zero: unsigned).
	preparable bool
	pool       *Pool
	scope      uint8
	renew      time.Time
	// prep is the answers prepared by this scratch's reader, and pkey
	// the key of the query in hand.
	prep preparedCache
	pkey []byte
	// lower is a query with its name lower-cased (lowerQuery).
	lower []byte
}

func newScratch() *scratch {
	return &scratch{buf: make([]byte, dns.MaxMsgSize+1), key: make([]byte, dns.MaxMsgSize),
		pkey: make([]byte, 0, maxPreparedKey), lower: make([]byte, 0, readBufSize)}
}

// limit is the response-rate limiter's verdict on an answer to src over
// UDP: allow when RRL is off.
func (s *Server) limit(src netip.Addr) verdict {
	if s.rrl == nil {
		return allow
	}
	return s.rrl.check(src, s.now())
}

// answerUDP returns the packed answer to req from src over UDP, in sc's
// buffer, as the response-rate limiter's verdict v allows; nil means
// send nothing.
func (s *Server) answerUDP(req *dns.Msg, src netip.Addr, sc *scratch, v verdict) []byte {
	if v == drop {
		return nil
	}
	m, limit := s.respond(req, src, true, sc)
	if m == nil {
		return nil
	}
	if v == slip {
		// An empty answer with TC asks a real client to retry over
		// TCP, where the source address cannot be spoofed.
		m.Answer, m.Ns, m.Extra = nil, nil, keepOPT(m.Extra)
		m.Truncated = true
		sc.preparable = false
	}
	// Pack once; truncate and pack again only when the answer does not fit
	// (RFC 1035 §4.2.1, RFC 6891 §7: the client then retries over TCP).
	buf, err := m.PackBuffer(sc.buf)
	if err == nil && len(buf) > limit {
		m.Truncate(limit)
		m.Compress = true
		buf, err = m.PackBuffer(sc.buf)
	}
	if err != nil {
		s.log.Error("dns: packing an answer", "err", err, "question", req.Question)
		return nil
	}
	return buf
}

// respond builds the answer to req from src in sc, and returns it with
// the most octets it may take over UDP; nil means send nothing. The
// answer shares records with the zone: it is packed, never changed.
func (s *Server) respond(req *dns.Msg, src netip.Addr, udp bool, sc *scratch) (*dns.Msg, int) {
	sc.preparable, sc.pool, sc.renew = false, nil, time.Time{}
	m := &sc.resp
	*m = dns.Msg{Question: m.Question[:0]}
	setReply(m, req)
	m.Compress = true
	// RFC 1035 §4.1.1: RA is 0, recursion is never available here.
	m.RecursionAvailable = false
	if req.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m, dns.MinMsgSize
	}
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m, dns.MinMsgSize
	}
	q := req.Question[0]

	size := dns.MinMsgSize // RFC 1035 §4.2.1: 512 octets without EDNS
	cl := client{addr: src, bits: src.BitLen(), ch: &sc.ch}
	var ecs *dns.EDNS0_SUBNET
	keepalive := false
	opt := req.IsEdns0()
	if opt != nil {
		if opt.Version() != ednsVersion {
			// RFC 6891 §6.1.3: BADVERS, with our version in the OPT.
			m.SetRcode(req, dns.RcodeBadVers)
			m.SetEdns0(maxUDPSize, false)
			return m, dns.MinMsgSize
		}
		size = max(dns.MinMsgSize, min(int(opt.UDPSize()), maxUDPSize))
		for _, o := range opt.Option {
			if k, ok := o.(*dns.EDNS0_TCP_KEEPALIVE); ok && !udp {
				// RFC 7828 §3.2.2: over UDP the option is ignored; over
				// TCP a query's option carries no timeout (§3.2.1), and
				// one that does is FORMERR.
				if k.Timeout != 0 {
					m.Rcode = dns.RcodeFormatError
					m.SetEdns0(maxUDPSize, false)
					return m, dns.MinMsgSize
				}
				keepalive = true
			}
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				if !validECS(e) {
					// RFC 7871 §7.1.2: a malformed option is FORMERR.
					m.Rcode = dns.RcodeFormatError
					m.SetEdns0(maxUDPSize, false)
					return m, dns.MinMsgSize
				}
				ecs = e
				if e.SourceNetmask > 0 {
					a, _ := netip.AddrFromSlice(e.Address)
					pf, _ := a.Unmap().Prefix(int(e.SourceNetmask))
					cl = client{addr: pf.Addr(), bits: int(e.SourceNetmask), ch: &sc.ch}
				}
			}
		}
	}
	if !udp {
		size = dns.MaxMsgSize
	}

	var r result
	cat := s.cat.Load()
	if q.Qclass != dns.ClassINET {
		r = result{rcode: dns.RcodeRefused}
	} else {
		r = cat.answer(q, &cl)
	}
	m.Rcode = r.rcode
	m.Authoritative = r.authoritative
	m.Answer, m.Ns, m.Extra = r.answer, r.ns, r.extra
	// An answer is the same for the next query of the same key (see
	// preparedCache), but SERVFAIL, which may pass; and a TCP
	// keepalive option, which is not in the key.
	sc.preparable = r.rcode != dns.RcodeServerFailure && !keepalive
	if r.policy {
		sc.pool, sc.scope = r.pool, r.scope
	}
	do := opt != nil && opt.Do()
	if do && r.zone != nil && r.zone.signer != nil {
		// RFC 4035 §3.1: a query with DO gets the signatures and the
		// denial of existence.
		sec, err := cat.sign(&r, q, sc)
		if err != nil {
			if !errors.Is(err, errNoSuccessor) {
				s.log.Error("dns: signing an answer", "err", err, "question", req.Question)
			}
			m.Rcode = dns.RcodeServerFailure
			sec = signedSections{rcode: dns.RcodeServerFailure}
			sc.preparable = false
		}
		m.Rcode = sec.rcode
		m.Answer, m.Ns, m.Extra = sec.answer, sec.ns, sec.extra
		r.extra = sec.extra
	}

	if opt != nil {
		// RFC 6891 §6.1.1: an OPT in the answer when the query had one.
		ro := &sc.opt
		*ro = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}, Option: ro.Option[:0]}
		ro.SetUDPSize(maxUDPSize)
		if do {
			// RFC 3225 §3: the DO bit is copied into the answer.
			ro.SetDo()
		}
		if keepalive {
			// RFC 7828 §3.3.2: the idle time this connection is kept,
			// in units of 100 ms.
			sc.ka = dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: uint16(s.idle / keepaliveUnit)}
			ro.Option = append(ro.Option, &sc.ka)
		}
		if ecs != nil {
			// RFC 7871 §7.2.1: echo family, source prefix and address; the
			// scope says how far the answer holds: 0 for answers that do
			// not depend on the client.
			scope := uint8(0)
			if r.policy {
				scope = r.scope
			}
			sc.ecs = dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: ecs.Family, SourceNetmask: ecs.SourceNetmask,
				SourceScope: scope, Address: ecs.Address,
			}
			ro.Option = append(ro.Option, &sc.ecs)
		}
		// A copy: the OPT must not be appended to the zone's own slice,
		// and Truncate moves it in place.
		m.Extra = append(append(sc.extra[:0], r.extra...), ro)
		sc.extra = m.Extra[:0]
	}
	return m, size
}

// setReply makes m a reply to req as dns.Msg.SetReply does, reusing m's
// question slice.
func setReply(m, req *dns.Msg) {
	m.Id = req.Id
	m.Response = true
	m.Opcode = req.Opcode
	if m.Opcode == dns.OpcodeQuery {
		m.RecursionDesired = req.RecursionDesired
		m.CheckingDisabled = req.CheckingDisabled
	}
	m.Rcode = dns.RcodeSuccess
	if len(req.Question) > 0 {
		m.Question = append(m.Question[:0], req.Question[0])
	}
}

// validECS checks an ECS option from a query (RFC 7871 §6, §7.1.2).
func validECS(e *dns.EDNS0_SUBNET) bool {
	switch e.Family {
	case 1:
		return e.SourceNetmask <= 32 && e.SourceScope == 0
	case 2:
		return e.SourceNetmask <= 128 && e.SourceScope == 0
	case 0:
		return e.SourceNetmask == 0
	}
	return false
}

// keepOPT returns only the OPT record of an additional section.
func keepOPT(extra []dns.RR) []dns.RR {
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			return []dns.RR{rr}
		}
	}
	return nil
}

func addrOf(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.UDPAddr:
		return v.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return v.AddrPort().Addr().Unmap()
	}
	return netip.IPv4Unspecified()
}

func isUDP(a net.Addr) bool {
	_, ok := a.(*net.UDPAddr)
	return ok
}
