//go:build !(linux && (amd64 || arm64))

package dnsd

import "net"

// readUDP answers the queries arriving on c until u shuts down or c
// fails, one at a time: this system has no recvmmsg to batch them.
func (s *Server) readUDP(c *net.UDPConn, u *udpServer) error { return s.readUDPEach(c, u) }
