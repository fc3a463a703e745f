// Package admit decides which connections a server takes: a cap on open
// connections in total and per client address, and a per-address limit on
// new connections per minute. It also holds the accept loop the protocol
// servers share, and Group, the set of a server's listeners and sessions
// that its Shutdown and Close reach. smtpd, pop3d, imapd and managesieve
// each keep one Admitter per service.
package admit

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"pail/internal/ratelimit"
)

// Limits configures an Admitter. Zero values mean no limit.
type Limits struct {
	MaxConnections      int // open connections in total
	MaxConnectionsPerIP int // open connections from one client (an IPv4 address, an IPv6 /64)
	RatePerIP           int // new connections per minute from one client; loopback exempt
	// RateLimitLoopback applies RatePerIP to loopback clients too; for
	// tests.
	RateLimitLoopback bool
}

// Reasons a connection is refused, for logs.
const (
	TooMany = "too many connections"
	TooFast = "connection rate"
)

// Admitter counts open connections and applies the Limits.
type Admitter struct {
	limits Limits
	rate   *ratelimit.Limiter
	open   atomic.Int64

	mu    sync.Mutex
	perIP map[netip.Prefix]int // open connections per client (ratelimit.Client)
}

// New returns an Admitter with the given limits.
func New(l Limits) *Admitter {
	return &Admitter{
		limits: l,
		rate:   &ratelimit.Limiter{Rate: float64(l.RatePerIP), Per: time.Minute, LimitLoopback: l.RateLimitLoopback},
		perIP:  map[netip.Prefix]int{},
	}
}

// Admit takes a slot for a connection from ip. It returns a release func
// to call (once) when the connection ends, or "" and the reason it was
// refused. The per-client cap counts an IPv6 client by its /64, so that
// a host cannot take more slots by rotating through its addresses.
func (a *Admitter) Admit(ip netip.Addr) (release func(), refused string) {
	if !a.rate.Allow(ip) {
		return nil, TooFast
	}
	client := ratelimit.Client(ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.limits
	if l.MaxConnections > 0 && int(a.open.Load()) >= l.MaxConnections ||
		l.MaxConnectionsPerIP > 0 && a.perIP[client] >= l.MaxConnectionsPerIP {
		return nil, TooMany
	}
	a.open.Add(1)
	a.perIP[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.open.Add(-1)
			if a.perIP[client]--; a.perIP[client] <= 0 {
				delete(a.perIP, client)
			}
			a.mu.Unlock()
		})
	}, ""
}

// Open returns the number of admitted connections not yet released.
func (a *Admitter) Open() int { return int(a.open.Load()) }

// Stressed reports whether more than half of the connection slots are
// taken; servers then shorten idle timeouts.
func (a *Admitter) Stressed() bool {
	return a.limits.MaxConnections > 0 && a.Open() > a.limits.MaxConnections/2
}

// maxAcceptDelay bounds the back-off after a temporary accept error (such
// as running out of file descriptors).
const maxAcceptDelay = time.Second

// Serve accepts connections on ln and passes each to handle, until ln is
// closed or stopping reports true; it then returns nil. handle runs on the
// accept goroutine and should not block for long. name prefixes errors.
func Serve(name string, ln net.Listener, stopping func() bool, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if stopping() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), maxAcceptDelay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("%s: accept: %w", name, err)
		}
		delay = 0
		handle(nc)
	}
}

// RemoteIP returns the client address of a TCP connection (IPv4-mapped
// addresses unmapped), or the zero Addr.
func RemoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
