package proxy

import (
	"net"
	"sync"
	"sync/atomic"
)

// limitListener caps concurrent connections: Accept blocks while the cap is
// reached, so excess clients wait in the kernel's backlog instead of
// exhausting file descriptors.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	open *atomic.Int64 // the server's count of open connections
}

func newLimitListener(ln net.Listener, n int, open *atomic.Int64) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), open: open}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.open.Add(1)
	return &limitConn{Conn: c, l: l}, nil
}

type limitConn struct {
	net.Conn
	once sync.Once
	l    *limitListener
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (c *limitConn) release() {
	c.l.open.Add(-1)
	<-c.l.sem
}

// CloseWrite half-closes the connection when the underlying one can, so a
// CONNECT tunnel can pass on an end of stream.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
