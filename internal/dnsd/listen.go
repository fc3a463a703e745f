package dnsd

import (
	"context"
	"fmt"
	"net"
	"syscall"
)

// listenTries bounds the search for a port free over both UDP and TCP
// when addr asks for any port (":0").
const listenTries = 20

// Listen opens the UDP socket and the TCP listener a name server needs on
// addr, on the same port even when addr's port is 0. Where the system
// has it, the UDP socket is opened with SO_REUSEPORT, so that ServeUDP
// can open more on its address and read them in parallel.
func Listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns listen %q: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = listenTries
	}
	// A wildcard socket asks for each datagram's destination as it is
	// made, before the first datagram can reach it (ServeUDP asks again).
	ip := net.ParseIP(host)
	pktinfo := batchPktinfo && (host == "" || ip != nil && ip.IsUnspecified())
	for range tries {
		pc, err := listenUDPShared("udp", addr, pktinfo)
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

// listenUDPShared opens a UDP socket of network ("udp", "udp4", "udp6")
// on addr that more sockets of this process may share (SO_REUSEPORT,
// where the system has it): the kernel then spreads the datagrams sent
// to addr over them by source. Linux lets only processes of the same
// user join the group. With pktinfo, the socket asks for the destination
// of each datagram (askPktinfo) before it is bound.
func listenUDPShared(network, addr string, pktinfo bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: reusePort}
	if pktinfo {
		lc.Control = func(network, address string, c syscall.RawConn) error {
			if err := reusePort(network, address, c); err != nil {
				return err
			}
			_, err := askPktinfoRaw(c)
			return err
		}
	}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
