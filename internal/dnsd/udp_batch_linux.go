//go:build linux && (amd64 || arm64)

package dnsd

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batched UDP on Linux: recvmmsg(2) reads every query waiting on the
// socket (up to udpBatch) in one system call, and sendmmsg(2) sends their
// answers in one more, each to the address its query came from. Under
// load this is two system calls per batch instead of two per query (and
// NSD and Knot read the same way). golang.org/x/net/ipv4's ReadBatch
// does the same but allocates an address per packet; these buffers are
// made once per reader. The structures are the kernel's (struct mmsghdr:
// a msghdr and the octets moved), as laid out on 64-bit Linux.
//
// A socket bound to a wildcard address (0.0.0.0, ::) must answer each
// query from the address it was sent to, or the client (which checks the
// source of what it gets, RFC 5452 §4.1) drops the answer. The kernel
// says what that address was in a control message read with each
// datagram (IP_PKTINFO, RFC 3542 §6.1's IPV6_PKTINFO; an IPv4 datagram on
// a dual-stack IPv6 socket gets IPV6_PKTINFO with the address mapped),
// and a reply sent with the same control message leaves from it. The
// control messages are read into, and written from, buffers made once
// per message of the batch.
const (
	// udpBatch is the most queries read, and answers sent, at once.
	udpBatch = 32
	// udpAnswerRoom is the room for each answer of a batch: more than an
	// answer over UDP takes (maxUDPSize) or a rejection echoing a query
	// (at most readBufSize); a longer one is sent alone.
	udpAnswerRoom = readBufSize
	// pktinfoRoom is the room for the control messages of one datagram:
	// the one pktinfo asked for, IPv4's or IPv6's (at most
	// CMSG_SPACE(sizeof(struct in6_pktinfo)), 40 octets), with room to
	// spare. A datagram whose control messages did not fit (MSG_CTRUNC)
	// is answered without them.
	pktinfoRoom = 64
)

// mmsghdr is struct mmsghdr (recvmmsg(2)).
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
	_   [4]byte
}

// udpBatcher is one reader's batch buffers and its system calls, made
// once so that a batch allocates nothing.
type udpBatcher struct {
	rc                syscall.RawConn
	in, out           [udpBatch][]byte
	names             [udpBatch]syscall.RawSockaddrInet6
	inIov, outIov     [udpBatch]syscall.Iovec
	recv, send        [udpBatch]mmsghdr
	got, toSend, sent int
	errno             syscall.Errno
	// pktinfo: the socket is bound to a wildcard address, and each
	// datagram is read with its destination (inOOB) and answered from
	// it (outOOB, outOOBLen octets of it; 0: none).
	pktinfo       bool
	inOOB, outOOB [udpBatch][pktinfoRoom]byte
	outOOBLen     [udpBatch]int
	// readFn and writeFn are the functions given to rc, made once: a
	// closure made per call would be allocated per call.
	readFn, writeFn func(fd uintptr) bool
}

func newUDPBatcher(c *net.UDPConn, pktinfo bool) (*udpBatcher, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &udpBatcher{rc: rc, pktinfo: pktinfo}
	for i := range udpBatch {
		b.in[i] = make([]byte, readBufSize)
		b.out[i] = make([]byte, udpAnswerRoom)
		b.inIov[i].Base = &b.in[i][0]
		b.inIov[i].SetLen(readBufSize)
		b.recv[i].hdr.Iov = &b.inIov[i]
		b.recv[i].hdr.Iovlen = 1
	}
	b.readFn = b.doRead
	b.writeFn = b.doWrite
	return b, nil
}

// doRead is recvmmsg on fd; false asks to wait until fd is readable.
func (b *udpBatcher) doRead(fd uintptr) bool {
	for i := range udpBatch {
		b.recv[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.recv[i].hdr.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		b.recv[i].hdr.Flags = 0
		if b.pktinfo {
			b.recv[i].hdr.Control = &b.inOOB[i][0]
			b.recv[i].hdr.SetControllen(pktinfoRoom)
		}
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.recv[0])), udpBatch, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	b.got, b.errno = int(n), e
	if e != 0 {
		b.got = 0
	}
	return true
}

// doWrite is sendmmsg on fd of what is left to send; false asks to wait
// until fd is writable.
func (b *udpBatcher) doWrite(fd uintptr) bool {
	for b.sent < b.toSend {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.send[b.sent])), uintptr(b.toSend-b.sent), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EAGAIN:
			return false
		case e == unix.EINTR:
			continue
		case e != 0:
			// The first answer left could not be sent (its client's
			// address is unreachable, say): skip it, as a lost
			// datagram, and send the rest.
			b.sent++
			continue
		}
		b.sent += int(n)
	}
	return true
}

// addrPort reads a sockaddr_in or sockaddr_in6 that recvmmsg filled in.
func addrPort(sa *syscall.RawSockaddrInet6) (netip.AddrPort, bool) {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case syscall.AF_INET:
		in4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), port), true
	case syscall.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port), true
	}
	return netip.AddrPort{}, false
}

// replyFrom reads the destination of the i-th datagram read from its
// control messages and writes those its answer is sent with, so that it
// leaves from that address: IP_PKTINFO with the address as ipi_spec_dst
// (ip(7)), or IPV6_PKTINFO with the address and, for an IPv6 address,
// the interface the query came in on (RFC 3542 §6.1; a link-local
// address means something only on its link). An IPv4 answer is given no
// interface, so that it is routed as any other (a reply forced out of
// the interface its query came in by would break asymmetric routes;
// unbound does the same). It returns the destination, or the zero Addr
// when the kernel gave none (the answer is then sent without control
// messages, from the address routing picks).
func (b *udpBatcher) replyFrom(i int) netip.Addr {
	b.outOOBLen[i] = 0
	h := &b.recv[i].hdr
	if h.Flags&unix.MSG_CTRUNC != 0 {
		return netip.Addr{}
	}
	oob := b.inOOB[i][:min(int(h.Controllen), pktinfoRoom)]
	for len(oob) >= unix.SizeofCmsghdr {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(cm.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return netip.Addr{}
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case cm.Level == unix.IPPROTO_IP && cm.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			in := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			if in.Spec_dst == ([4]byte{}) {
				// Queued before IP_PKTINFO was set.
				return netip.Addr{}
			}
			out := b.setPktinfo(i, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
			*(*unix.Inet4Pktinfo)(unsafe.Pointer(&out[0])) = unix.Inet4Pktinfo{Spec_dst: in.Spec_dst}
			return netip.AddrFrom4(in.Spec_dst)
		case cm.Level == unix.IPPROTO_IPV6 && cm.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			in := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			a := netip.AddrFrom16(in.Addr)
			if a.Unmap().IsUnspecified() {
				return netip.Addr{}
			}
			info := unix.Inet6Pktinfo{Addr: in.Addr}
			if !a.Is4In6() {
				info.Ifindex = in.Ifindex
			}
			out := b.setPktinfo(i, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
			*(*unix.Inet6Pktinfo)(unsafe.Pointer(&out[0])) = info
			return a
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return netip.Addr{}
}

// setPktinfo writes the header of a control message of level and typ
// with n octets of data as the i-th answer's, and returns its data.
func (b *udpBatcher) setPktinfo(i int, level, typ, n int) []byte {
	o := &b.outOOB[i]
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&o[0]))
	cm.Level, cm.Type = int32(level), int32(typ)
	cm.SetLen(unix.CmsgLen(n))
	b.outOOBLen[i] = unix.CmsgSpace(n)
	return o[unix.CmsgLen(0):unix.CmsgLen(n)]
}

// batchPktinfo: the batched reader answers a socket bound to a wildcard
// address from each query's destination.
const batchPktinfo = true

// askPktinfo has c's kernel give the destination address of each
// datagram read (IP_PKTINFO on an IPv4 socket, IPV6_RECVPKTINFO on an
// IPv6 one, dual-stack or not), for a socket bound to a wildcard
// address. It returns the network that opens more sockets like c on its
// address: "udp4", "udp6" (IPv6 only) or "udp" (dual-stack).
func askPktinfo(c *net.UDPConn) (network string, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return "", fmt.Errorf("dns: pktinfo: %w", err)
	}
	return askPktinfoRaw(rc)
}

// askPktinfoRaw is askPktinfo on a socket not yet bound, maybe (from a
// net.ListenConfig's Control), so that no datagram is queued on it
// without its destination.
func askPktinfoRaw(rc syscall.RawConn) (network string, err error) {
	var serr error
	err = rc.Control(func(fd uintptr) {
		var family, v6only int
		if family, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); serr != nil {
			return
		}
		switch family {
		case unix.AF_INET:
			network = "udp4"
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		case unix.AF_INET6:
			if v6only, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); serr != nil {
				return
			}
			network = "udp"
			if v6only != 0 {
				network = "udp6"
			}
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		default:
			serr = fmt.Errorf("address family %d", family)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return "", fmt.Errorf("dns: pktinfo: %w", err)
	}
	return network, nil
}

// readUDP answers the queries arriving on c, a batch at a time, until u
// shuts down or c fails.
func (s *Server) readUDP(c *net.UDPConn, u *udpServer) error {
	b, err := newUDPBatcher(c, u.pktinfo)
	if err != nil {
		if u.pktinfo {
			// One at a time, the answers would leave from any address.
			return fmt.Errorf("dns: udp reader: %w", err)
		}
		return s.readUDPEach(c, u)
	}
	sc := newScratch()
	for {
		if err := b.rc.Read(b.readFn); err != nil || b.errno != 0 {
			if u.stopping.Load() {
				return nil
			}
			if err == nil {
				err = b.errno
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		b.toSend, b.sent = 0, 0
		for i := range b.got {
			from, ok := addrPort(&b.names[i])
			if !ok {
				continue
			}
			var to netip.Addr
			if b.pktinfo {
				to = b.replyFrom(i)
			}
			if s.batchHook != nil {
				s.batchHook(to)
			}
			out := s.answerWire(b.in[i][:b.recv[i].n], from.Addr().Unmap(), true, sc)
			if out == nil {
				continue
			}
			if len(out) > udpAnswerRoom {
				c.WriteMsgUDPAddrPort(out, b.outOOB[i][:b.outOOBLen[i]], from)
				continue
			}
			j := b.toSend
			n := copy(b.out[i], out)
			b.outIov[j].Base = &b.out[i][0]
			b.outIov[j].SetLen(n)
			b.send[j].hdr = syscall.Msghdr{
				Name:    (*byte)(unsafe.Pointer(&b.names[i])),
				Namelen: b.recv[i].hdr.Namelen,
				Iov:     &b.outIov[j],
				Iovlen:  1,
			}
			if b.outOOBLen[i] > 0 {
				b.send[j].hdr.Control = &b.outOOB[i][0]
				b.send[j].hdr.SetControllen(b.outOOBLen[i])
			}
			b.toSend++
		}
		if b.toSend > 0 {
			b.rc.Write(b.writeFn)
		}
	}
}
