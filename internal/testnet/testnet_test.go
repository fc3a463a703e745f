package testnet

import (
	"net"
	"strconv"
	"testing"
)

// TestAddrsAreDistinctListenableAndBelowTheEphemeralRange: every address
// handed out can be listened on with TCP and UDP at once, is below the
// ephemeral range, and none comes twice.
func TestAddrsAreDistinctListenableAndBelowTheEphemeralRange(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		addr := Addr(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if port, _ := strconv.Atoi(p); port < low || port >= high {
			t.Fatalf("%s outside %d-%d", addr, low, high-1)
		}
	}
	for addr := range seen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("tcp %s: %v", addr, err)
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("udp %s: %v", addr, err)
		}
		ln.Close()
		pc.Close()
	}
}
