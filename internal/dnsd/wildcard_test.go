package dnsd

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// haveIPv6Loopback says whether ::1 can be bound here.
func haveIPv6Loopback() bool {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

// TestServeUDPWildcard: a socket bound to 0.0.0.0 or :: is read by the
// batched reader, like one bound to an address, and answers each query
// from exactly the address it was sent to — 127.0.0.1, 127.0.0.2 (also
// local on Linux's loopback), ::1, and an IPv4 address reaching a
// dual-stack socket — which a connected client socket checks: it drops
// a reply from any other source, and the query then times out.
func TestServeUDPWildcard(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Fatalf("the batched reader is built for 64-bit Linux only; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	v6 := haveIPv6Loopback()
	if !v6 {
		t.Log("::1 cannot be bound on this machine: only IPv4 destinations are tested")
	}
	v4 := []string{"127.0.0.1", "127.0.0.2"}
	for _, tc := range []struct {
		name    string
		listen  func() (net.PacketConn, error)
		targets []string
		needV6  bool
	}{
		// Go opens "udp" on 0.0.0.0 as a dual-stack IPv6 socket.
		{"Listen 0.0.0.0", func() (net.PacketConn, error) { pc, _, err := listenWild("0.0.0.0:0"); return pc, err },
			append(v4, "::1"), false},
		{"udp4 0.0.0.0", func() (net.PacketConn, error) { return listenUDPShared("udp4", "0.0.0.0:0", true) },
			v4, false},
		{"Listen ::", func() (net.PacketConn, error) { pc, _, err := listenWild("[::]:0"); return pc, err },
			append(v4, "::1"), true},
		{"udp6 ::", func() (net.PacketConn, error) { return listenUDPShared("udp6", "[::]:0", true) },
			[]string{"::1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needV6 && !v6 {
				t.Log("no ::1: this socket is not tested")
				return
			}
			var mu sync.Mutex
			var seen []netip.Addr
			s, err := New(testConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			s.batchHook = func(to netip.Addr) {
				mu.Lock()
				seen = append(seen, to.Unmap())
				mu.Unlock()
			}
			pc, err := tc.listen()
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- s.ServeUDP(pc) }()
			port := pc.LocalAddr().(*net.UDPAddr).Port
			for _, target := range tc.targets {
				if !v6 && target == "::1" {
					continue
				}
				to := netip.MustParseAddr(target)
				// Twice: the second answer is a prepared one.
				for i := range 2 {
					mu.Lock()
					seen = seen[:0]
					mu.Unlock()
					askFrom(t, netip.AddrPortFrom(to, uint16(port)), uint16(100+i))
					mu.Lock()
					got := slices.Clone(seen)
					mu.Unlock()
					if !slices.Contains(got, to) {
						t.Errorf("query %d to %s answered, but not by the batched reader with its destination read (it saw %v): the wildcard socket is not on the fast path", i, target, got)
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-served; err != nil {
				t.Errorf("ServeUDP: %v", err)
			}
			s.Close()
		})
	}
}

// listenWild is Listen, the TCP listener closed.
func listenWild(addr string) (net.PacketConn, net.Listener, error) {
	pc, ln, err := Listen(addr)
	if err == nil {
		ln.Close()
	}
	return pc, nil, err
}

// askFrom asks www.example.test A of the server at ap from a connected
// socket, which takes a reply only from ap itself, and checks the
// answer.
func askFrom(t *testing.T, ap netip.AddrPort, id uint16) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		t.Fatalf("dial %s: %v", ap, err)
	}
	defer c.Close()
	m := ask(id, "www.example.test.", dns.TypeA)
	if _, err := c.Write(wireOf(t, m)); err != nil {
		t.Fatalf("send to %s: %v", ap, err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply from %s itself (a reply from another address is dropped by the connected socket): %v", ap, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("reply from %s: %v", ap, err)
	}
	if r.Id != id || !slices.Equal(addrs(r), []string{"192.0.2.80"}) {
		t.Fatalf("reply from %s: ID %d (sent %d), answers %v", ap, r.Id, id, addrs(r))
	}
}
