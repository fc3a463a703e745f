package dnsd

import (
	"fmt"
	"net"
)

// listenTries bounds the search for a port free over both UDP and TCP
// when addr asks for any port (":0").
const listenTries = 20

// Listen opens the UDP socket and the TCP listener a name server needs on
// addr, on the same port even when addr's port is 0.
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
		pc, err := net.ListenPacket("udp", addr)
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
