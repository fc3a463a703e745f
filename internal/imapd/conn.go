package imapd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// conn wraps each accepted connection below the library (and below TLS) to
// give back its slot in the connection caps when it closes, and to send
// the library's many small writes together (coalesce.go).
type conn struct {
	net.Conn
	once    sync.Once
	release func()

	wmu     sync.Mutex
	pending *[]byte // output not yet sent; nil when there is none
	reading bool    // a Read is waiting for the client
	werr    error   // the first failed write: the connection is broken
}

// closeFlushTimeout bounds how long Close tries to send pending output.
const closeFlushTimeout = 5 * time.Second

// Close sends pending output (a BYE, say) and closes. It sets its own
// write deadline for that: crypto/tls, closing, sets the deadline to now
// once its close_notify alert is written (into our buffer).
func (c *conn) Close() error {
	c.wmu.Lock()
	if c.pending != nil {
		c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		c.flushLocked()
	}
	c.wmu.Unlock()
	c.once.Do(c.release)
	return c.Conn.Close()
}

// chanListener hands admitted connections to an imapserver's Serve loop.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// slogLogger sends the library's error log to the server's slog logger.
// Most of it is clients going away, so it is debug output; but an error
// the library answers NO [SERVERBUG] is a warning (the guard rewrites
// that reply and logs the connection, this line has the cause), and a
// panic it recovers from is an error.
type slogLogger struct{ s *Server }

func (l slogLogger) Printf(format string, args ...any) {
	level := slog.LevelDebug
	// The formats of go-imap v2.0.0-beta.8's lines that are not debug
	// output (imapserver/conn.go, idle.go).
	switch format {
	case "handling %v command: %v":
		level = slog.LevelWarn
	case "panic handling command: %v\n%s", "panic idling: %v\n%s":
		level = slog.LevelError
	}
	l.s.deps.Log.Log(context.Background(), level, "imapserver", "msg", fmt.Sprintf(format, args...))
}
