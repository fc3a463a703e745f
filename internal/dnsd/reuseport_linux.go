//go:build linux && !(mips || mipsle || mips64 || mips64le)

package dnsd

import (
	"syscall"
)

// soReusePort is Linux's SO_REUSEPORT (asm-generic/socket.h), which the
// syscall package does not name.
const soReusePort = 0xf

// reusePort sets SO_REUSEPORT on a socket before it is bound.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
