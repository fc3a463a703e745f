//go:build linux && (amd64 || arm64)

package dnsd

import (
	"encoding/binary"
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
const (
	// udpBatch is the most queries read, and answers sent, at once.
	udpBatch = 32
	// udpAnswerRoom is the room for each answer of a batch: more than an
	// answer over UDP takes (maxUDPSize) or a rejection echoing a query
	// (at most readBufSize); a longer one is sent alone.
	udpAnswerRoom = readBufSize
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
	// readFn and writeFn are the functions given to rc, made once: a
	// closure made per call would be allocated per call.
	readFn, writeFn func(fd uintptr) bool
}

func newUDPBatcher(c *net.UDPConn) (*udpBatcher, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &udpBatcher{rc: rc}
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

// readUDP answers the queries arriving on c, a batch at a time, until u
// shuts down or c fails.
func (s *Server) readUDP(c *net.UDPConn, u *udpServer) error {
	b, err := newUDPBatcher(c)
	if err != nil {
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
			out := s.answerWire(b.in[i][:b.recv[i].n], from.Addr().Unmap(), true, sc)
			if out == nil {
				continue
			}
			if len(out) > udpAnswerRoom {
				c.WriteToUDPAddrPort(out, from)
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
			b.toSend++
		}
		if b.toSend > 0 {
			b.rc.Write(b.writeFn)
		}
	}
}
