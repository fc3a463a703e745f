//go:build !linux || mips || mipsle || mips64 || mips64le

package dnsd

import "syscall"

// reusePort does nothing: outside Linux, SO_REUSEPORT does not spread
// datagrams over the sockets sharing a port (and Linux on MIPS numbers it
// differently), so ServeUDP reads just one socket.
func reusePort(network, address string, c syscall.RawConn) error { return nil }
