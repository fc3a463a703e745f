package dnsd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// UDP serving. miekg/dns's Server starts a goroutine per packet and sets
// a deadline before every read. serveUDP reads each socket from a few
// long-lived goroutines instead, each answering in its own reused
// memory, and, where the system allows, opens one socket per CPU on the
// same address with SO_REUSEPORT so that the kernel spreads queries over
// them. A socket bound to a wildcard address answers each query from the
// address it was sent to, read from the datagram's control messages
// (udp_batch_linux.go); where the batched reader does not do that, such
// a socket is served by miekg/dns, which does.
const (
	// headerSize is the DNS message header (RFC 1035 §4.1.1).
	headerSize = 12
	// readersPerSocket: while one reader waits for a packet, another
	// answers the one before.
	readersPerSocket = 2
)

// DNS header flags (RFC 1035 §4.1.1, RFC 4035 §3.2).
const (
	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagRA = 1 << 7
	flagZ  = 1 << 6
	flagAD = 1 << 5
	flagCD = 1 << 4
)

// ServeUDP answers queries arriving on pc until Shutdown or Close. When pc
// came from Listen it is joined by more sockets on its address, one per
// CPU. A socket bound to an unspecified address (0.0.0.0, ::) answers
// each query from the address it was sent to; on systems where the
// batched reader cannot (other than 64-bit Linux), it is served by
// miekg/dns, which does.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	conn, ok := pc.(*net.UDPConn)
	network, wild := "udp", false
	if ok && conn.LocalAddr().(*net.UDPAddr).IP.IsUnspecified() {
		var err error
		if network, err = askPktinfo(conn); err != nil {
			ok = false
		}
		wild = true
	}
	if !ok {
		return s.serve(&dns.Server{PacketConn: pc, Handler: s, UDPSize: readBufSize,
			// miekg/dns answers a query it rejects unread (FORMERR,
			// NOTIMP) itself, echoing the query's AD bit.
			DecorateWriter: func(w dns.Writer) dns.Writer { return noADWriter{w} }})
	}
	u := &udpServer{conns: []*net.UDPConn{conn}, pktinfo: wild, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("dns: server closed")
	}
	s.udp = append(s.udp, u)
	s.mu.Unlock()
	for range runtime.GOMAXPROCS(0) - 1 {
		c, err := listenUDPShared(network, conn.LocalAddr().String(), wild)
		if err != nil {
			// pc was not opened with SO_REUSEPORT: it is served alone.
			break
		}
		if !u.add(c) {
			c.Close()
			break
		}
	}
	return u.run(s)
}

// udpServer is the sockets of one ServeUDP and the goroutines reading them.
type udpServer struct {
	mu    sync.Mutex
	conns []*net.UDPConn
	// pktinfo: the sockets are bound to a wildcard address, and each
	// answer is sent from its query's destination.
	pktinfo bool
	// closing is set by shutdown; stopping also when a socket fails, so
	// that one broken socket ends them all.
	closing, stopping atomic.Bool
	done              chan struct{} // closed when every reader has returned
}

// add joins c to the sockets served, unless shutdown has begun.
func (u *udpServer) add(c *net.UDPConn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopping.Load() {
		return false
	}
	u.conns = append(u.conns, c)
	return true
}

// run reads the sockets until shutdown or an error, then closes them.
func (u *udpServer) run(s *Server) error {
	u.mu.Lock()
	conns := u.conns
	u.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns)*readersPerSocket)
	for _, c := range conns {
		for range readersPerSocket {
			wg.Go(func() {
				if err := s.readUDP(c, u); err != nil {
					errs <- err
					u.stop()
				}
			})
		}
	}
	wg.Wait()
	close(u.done)
	for _, c := range conns {
		c.Close()
	}
	close(errs)
	if u.closing.Load() {
		return nil
	}
	return <-errs
}

// shutdown wakes the readers, which finish the query in hand and return,
// and waits for them until ctx ends.
func (u *udpServer) shutdown(ctx context.Context) error {
	u.closing.Store(true)
	u.stop()
	select {
	case <-u.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop wakes every reader to return.
func (u *udpServer) stop() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopping.Store(true)
	for _, c := range u.conns {
		// A deadline in the past ends the reads under way.
		c.SetReadDeadline(time.Unix(1, 0))
	}
}

// readUDPEach answers the queries arriving on c, one read and one write
// each, until u shuts down or c fails. readUDP does the same in batches
// where the system allows (udp_batch_linux.go).
func (s *Server) readUDPEach(c *net.UDPConn, u *udpServer) error {
	in := make([]byte, readBufSize)
	sc := newScratch()
	for {
		n, from, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			if u.stopping.Load() {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		if out := s.answerWire(in[:n], from.Addr().Unmap(), true, sc); out != nil {
			c.WriteToUDPAddrPort(out, from)
		}
	}
}

// answerWire answers one query as it came off the wire, over UDP or a
// stream (TCP, TLS): what miekg/dns's Server does before and after
// calling ServeDNS. It returns the packed answer in sc's memory, or nil:
// send nothing.
func (s *Server) answerWire(wire []byte, src netip.Addr, udp bool, sc *scratch) (out []byte) {
	req := &sc.req
	defer func() {
		if v := recover(); v != nil {
			// A bug must not take the server down: answer SERVFAIL.
			s.log.Error("dns: panic answering a query", "panic", v, "question", req.Question)
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeServerFailure)
			out, _ = m.Pack()
		}
	}()
	if len(wire) < headerSize {
		// Too short to answer, even with an error.
		return nil
	}
	q, ok := parseWireQuery(wire, udp)
	if !ok {
		return s.answerUnpacked(wire, src, udp, sc, nil)
	}
	v := allow
	if udp {
		if v = s.limit(src); v == drop {
			return nil
		}
	}
	base := 0
	if !udp {
		base = lenPrefix
	}
	if v == allow {
		if out := s.answerPrepared(wire, &q, src, sc, base); out != nil {
			return out
		}
	}
	// The answer is made for the name lower-cased, and then given the
	// client's case, so that it is the same whatever case the query that
	// prepares it has: miekg/dns compresses names only into names of the
	// same case, so how many records fit a truncated answer would
	// otherwise depend on it.
	lw := lowerQuery(wire, &q, sc)
	out = s.answerUnpacked(lw, src, udp, sc, &v)
	if out == nil {
		return nil
	}
	if sc.preparable && v == allow {
		s.prepare(lw, &q, src, sc, out)
	}
	if len(out) >= q.qnameEnd && bytes.Equal(out[headerSize:q.qnameEnd], lw[headerSize:q.qnameEnd]) {
		copy(out[headerSize:q.qnameEnd], wire[headerSize:q.qnameEnd])
	}
	return out
}

// lowerQuery returns wire with q's name lower-cased (RFC 4343), in sc's
// memory when it has upper-case letters.
func lowerQuery(wire []byte, q *wireQuery, sc *scratch) []byte {
	name := wire[headerSize:q.qnameEnd]
	if !slices.ContainsFunc(name, func(c byte) bool { return 'A' <= c && c <= 'Z' }) {
		return wire
	}
	lw := append(sc.lower[:0], wire...)
	sc.lower = lw
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			lw[headerSize+i] = c + 'a' - 'A'
		}
	}
	return lw
}

// answerUnpacked answers a query as answerWire does, unpacking it. v is
// the response-rate limiter's verdict when it has been asked already;
// nil: ask it here, for a UDP query that is answered. sc.preparable
// says whether the answer may be prepared for the next query like it.
func (s *Server) answerUnpacked(wire []byte, src netip.Addr, udp bool, sc *scratch, v *verdict) []byte {
	req := &sc.req
	sc.preparable = false
	dh := dns.Header{
		Id:      binary.BigEndian.Uint16(wire[0:]),
		Bits:    binary.BigEndian.Uint16(wire[2:]),
		Qdcount: binary.BigEndian.Uint16(wire[4:]),
		Ancount: binary.BigEndian.Uint16(wire[6:]),
		Nscount: binary.BigEndian.Uint16(wire[8:]),
		Arcount: binary.BigEndian.Uint16(wire[10:]),
	}
	*req = dns.Msg{}
	switch action := dns.DefaultMsgAcceptFunc(dh); action {
	case dns.MsgAccept:
		if err := req.Unpack(wire); err == nil {
			if !udp {
				return s.answerTCP(req, src, sc)
			}
			if v == nil {
				lv := s.limit(src)
				v = &lv
			}
			return s.answerUDP(req, src, sc, *v)
		}
		// A query that does not parse is FORMERR, as below.
		return reject(req, dns.MsgReject, sc)
	case dns.MsgReject, dns.MsgRejectNotImplemented:
		setHeader(req, dh)
		return reject(req, action, sc)
	}
	// MsgIgnore: a response, or worse; answering could feed a loop.
	return nil
}

// reject packs the answer to a query refused before it was read through:
// FORMERR, or NOTIMP for opcodes other than QUERY and NOTIFY; the same
// answer miekg/dns's Server gives.
func reject(req *dns.Msg, action dns.MsgAcceptAction, sc *scratch) []byte {
	opcode := req.Opcode
	req.SetRcodeFormatError(req)
	// Only the query's RD and CD bits carry over into an answer (RFC 1035
	// §4.1.1, RFC 6840 §5.8): AD would claim validated data.
	req.Zero, req.AuthenticatedData, req.Authoritative, req.Truncated, req.RecursionAvailable = false, false, false, false, false
	if action == dns.MsgRejectNotImplemented {
		req.Opcode = opcode
		req.Rcode = dns.RcodeNotImplemented
	}
	req.Ns, req.Answer, req.Extra = nil, nil, nil
	req.Compress = false
	buf, err := req.PackBuffer(sc.buf)
	if err != nil {
		return nil
	}
	return buf
}

// setHeader fills m's header from the wire header dh.
func setHeader(m *dns.Msg, dh dns.Header) {
	m.Id = dh.Id
	m.Response = dh.Bits&flagQR != 0
	m.Opcode = int(dh.Bits>>11) & 0xF
	m.Authoritative = dh.Bits&flagAA != 0
	m.Truncated = dh.Bits&flagTC != 0
	m.RecursionDesired = dh.Bits&flagRD != 0
	m.RecursionAvailable = dh.Bits&flagRA != 0
	m.Zero = dh.Bits&flagZ != 0
	m.AuthenticatedData = dh.Bits&flagAD != 0
	m.CheckingDisabled = dh.Bits&flagCD != 0
	m.Rcode = int(dh.Bits & 0xF)
}
