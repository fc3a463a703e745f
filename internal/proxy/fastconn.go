package proxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The plumbing between the fast path and net/http: a listener that hands
// net/http the connections the fast path gives up, each wrapped so that
// net/http first reads the bytes already taken from it, and the set of
// connections the fast path still owns, for Shutdown and Close.

// handoffListener is the net.Listener the http.Server serves. Its
// connections come from the fast path (handOver); Accept errors come from
// the real listener, so that Serve ends as it would have.
type handoffListener struct {
	ln    net.Listener // the real (limit) listener, closed by Close
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(ln net.Listener) *handoffListener {
	return &handoffListener{ln: ln, conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
}

// Accept returns the next connection handed over.
func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the real listener too, ending the accept loop.
func (l *handoffListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() { close(l.done); err = l.ln.Close() })
	return err
}

// Addr is the real listener's address.
func (l *handoffListener) Addr() net.Addr { return l.ln.Addr() }

// handOver gives c to net/http; once the listener is closed it closes c.
func (l *handoffListener) handOver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// acceptError passes an Accept error to net/http's Serve loop. It reports
// whether the fast path's accept loop should go on: net/http retries
// temporary errors (after a pause, which this send waits for) and stops
// on any other.
func (l *handoffListener) acceptError(err error) bool {
	select {
	case l.errs <- err:
	case <-l.done:
		return false
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// handedConn is a connection given to net/http with the bytes the fast
// path had read from it and not answered: Read returns those first.
type handedConn struct {
	net.Conn
	pending []byte
	// headDeadline, when set, is the deadline of the incomplete head in
	// pending: the first read deadline net/http sets (its head deadline)
	// is brought forward to it, so that the handover does not restart
	// the head's clock.
	headDeadline time.Time
}

// SetReadDeadline sets t, the first time no later than headDeadline.
func (c *handedConn) SetReadDeadline(t time.Time) error {
	if !c.headDeadline.IsZero() {
		if t.IsZero() || t.After(c.headDeadline) {
			t = c.headDeadline
		}
		c.headDeadline = time.Time{}
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil // let the fast path's buffer go
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the connection when the underlying one can
// (a CONNECT tunnel passes on an end of stream; net/http uses it too).
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// fastConns is the set of connections the fast path owns.
type fastConns struct {
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	stopping atomic.Bool
}

// add registers c; it reports false once the server is stopping.
func (f *fastConns) add(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping.Load() {
		return false
	}
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.conns[c] = struct{}{}
	f.wg.Add(1)
	return true
}

func (f *fastConns) remove(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	f.wg.Done()
}

// stop marks the server stopping and wakes every connection waiting for
// a request: its read deadline passes at once, the loop sees stopping
// and closes the connection. A connection writing an answer finishes it
// first, as net/http's Shutdown lets active connections do.
func (f *fastConns) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping.Store(true)
	for c := range f.conns {
		c.SetReadDeadline(time.Unix(1, 0))
	}
}

// closeAll closes every connection at once.
func (f *fastConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping.Store(true)
	for c := range f.conns {
		c.Close()
	}
}

// wait returns when no connection is left or done is closed.
func (f *fastConns) wait(done <-chan struct{}) bool {
	idle := make(chan struct{})
	go func() { f.wg.Wait(); close(idle) }()
	select {
	case <-idle:
		return true
	case <-done:
		return false
	}
}
