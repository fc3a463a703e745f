package proxy

import (
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// tunnels tracks hijacked CONNECT connections so Close can end them.
type tunnels struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (t *tunnels) add(c net.Conn) {
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
}

func (t *tunnels) remove(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

func (t *tunnels) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.Close()
	}
}

// tunnel answers CONNECT (RFC 9110 §9.3.6): it connects to the target,
// replies 200, then relays bytes both ways without looking at them.
// Only the configured ports may be reached, so the proxy cannot be used to
// relay mail or reach arbitrary services, and only addresses that the
// destination rules allow (destination.go), checked as they are dialled.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Forward {
		s.errorPage(w, http.StatusForbidden, "forward proxying is disabled")
		return
	}
	host, portStr, err := net.SplitHostPort(r.Host)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || host == "" {
		s.errorPage(w, http.StatusBadRequest, "CONNECT needs host:port")
		return
	}
	if !slices.Contains(s.cfg.ConnectPorts, port) {
		s.errorPage(w, http.StatusForbidden, "CONNECT to this port is not allowed")
		return
	}
	upstream, err := s.dialDestination(r.Context(), r.Host)
	if re := refusal(err); re != nil {
		s.refuse(w, re)
		return
	}
	if err != nil {
		s.metrics.OriginErrors.Add(1)
		s.errorPage(w, http.StatusBadGateway, "cannot connect to "+r.Host)
		return
	}
	rc := http.NewResponseController(w)
	client, brw, err := rc.Hijack()
	if err != nil {
		upstream.Close()
		s.errorPage(w, http.StatusInternalServerError, "cannot tunnel on this connection")
		return
	}
	s.metrics.Tunnels.Add(1)
	s.tunnels.add(client)
	s.tunnels.add(upstream)
	defer func() {
		s.tunnels.remove(client)
		s.tunnels.remove(upstream)
		client.Close()
		upstream.Close()
	}()
	client.SetDeadline(time.Time{})
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent after the CONNECT head are already buffered.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := upstream.Write(b); err != nil {
			return
		}
	}
	idle := newIdleTimer(tunnelIdleTimeout, func() { client.Close(); upstream.Close() })
	defer idle.stop()
	done := make(chan struct{}, 2)
	relay := func(dst, src net.Conn) {
		buf := make([]byte, copyBufferSize)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				idle.reset()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if tc, ok := dst.(interface{ CloseWrite() error }); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go relay(upstream, client)
	go relay(client, upstream)
	<-done
	<-done
}

// idleTimer calls f once when reset has not been called for d.
type idleTimer struct {
	d time.Duration
	t *time.Timer
}

func newIdleTimer(d time.Duration, f func()) *idleTimer {
	return &idleTimer{d: d, t: time.AfterFunc(d, f)}
}

func (i *idleTimer) reset() { i.t.Reset(i.d) }
func (i *idleTimer) stop()  { i.t.Stop() }
