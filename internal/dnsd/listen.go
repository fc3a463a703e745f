package dnsd

import (
	"context"
	"fmt"
	"net"
)

// listenTries bounds the search for a port free over both UDP and TCP
// when addr asks for any port (":0").
const listenTries = 20

// Listen opens the UDP socket and the TCP listener a name server needs on
// addr, on the same port even when addr's port is 0. Where the system
// has it, the UDP socket is opened with SO_REUSEPORT, so that ServeUDP
// can open more on its address and read them in parallel.
func Listen(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns listen %q: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = listenTries
	}
	for range tries {
		pc, err := listenUDPShared(addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns listen udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if tries == 1 {
			return nil, nil, fmt.Errorf("dns listen tcp %s: %w", addr, err)
		}
	}
	return nil, nil, fmt.Errorf("dns listen %s: no port free for both UDP and TCP", addr)
}

// listenUDPShared opens a UDP socket on addr that more sockets of this
// process may share (SO_REUSEPORT, where the system has it): the kernel
// then spreads the datagrams sent to addr over them by source. Linux lets
// only processes of the same user join the group.
func listenUDPShared(addr string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
