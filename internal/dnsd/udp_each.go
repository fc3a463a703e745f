//go:build !(linux && (amd64 || arm64))

package dnsd

import (
	"errors"
	"net"
	"syscall"
)

// readUDP answers the queries arriving on c until u shuts down or c
// fails, one at a time: this system has no recvmmsg to batch them.
func (s *Server) readUDP(c *net.UDPConn, u *udpServer) error { return s.readUDPEach(c, u) }

// batchPktinfo: without recvmmsg's batches, a socket bound to a
// wildcard address is served by miekg/dns, which reads each datagram's
// destination itself.
const batchPktinfo = false

// askPktinfo fails (batchPktinfo).
func askPktinfo(*net.UDPConn) (string, error) { return askPktinfoRaw(nil) }

// askPktinfoRaw fails (batchPktinfo).
func askPktinfoRaw(syscall.RawConn) (string, error) {
	return "", errors.New("dns: pktinfo: not read by the UDP reader on this system")
}
