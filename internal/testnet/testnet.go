// Package testnet hands tests loopback addresses for the servers they
// start when the address must be known before the server listens (a
// configuration that names it, a name server that listens on one port for
// both UDP and TCP). Asking the kernel for ":0" and closing the listener
// again races with every other test process on the machine, which gets
// its ":0" ports from the same ephemeral range; the ports here come from
// below that range (20000–32767, under Linux's default 32768), so that no
// ":0" listener anywhere can take one, are checked free for both TCP and
// UDP, and are never handed out twice by one process.
package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// The range the ports are drawn from: below the kernel's ephemeral range.
const (
	low  = 20000
	high = 32768
)

// handed is the set of ports this process has returned. It is the one
// piece of process-wide state here, and it must be: two tests of one
// process asking at once must not get the same port.
var handed = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreeAddr returns "127.0.0.1:PORT" with a port that was free for TCP and
// for UDP a moment ago.
func FreeAddr() (string, error) {
	handed.Lock()
	defer handed.Unlock()
	for range 1000 {
		port := low + rand.IntN(high-low)
		if handed.ports[port] || !free(port) {
			continue
		}
		handed.ports[port] = true
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	return "", fmt.Errorf("testnet: no free port in %d-%d on 127.0.0.1", low, high-1)
}

// free reports whether port can be bound on 127.0.0.1 for TCP and UDP.
func free(port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

// Addr is FreeAddr for a test, which it fails if there is no free port.
func Addr(t testing.TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
