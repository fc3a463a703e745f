package smtpd

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"pail/internal/admit"
	"pail/internal/dnsbl"
	"pail/internal/maillog"
)

// conn wraps each accepted connection below go-smtp (and below TLS). It
//   - applies an idle deadline to every read, so a silent client is
//     dropped after CommandTimeout (DataTimeout while a message streams),
//     however long the whole message takes (RFC 5321 §4.5.3.2);
//   - lets Shutdown wake idle sessions so that go-smtp answers them 421;
//   - ends the session after a reply when the session asks for it;
//   - ends it at once at an HTTP command line (commandGuard; above TLS,
//     guardedTLS does the same);
//   - fills two gaps in go-smtp's plaintext replies (see rewrite).
type conn struct {
	net.Conn
	srv *Server

	inData     atomic.Bool // a message is streaming; shutdown waits for it
	hangUp     atomic.Bool // end the session after the pending reply
	tls        atomic.Bool // bytes below this layer are TLS records
	sawHELO    atomic.Bool // the last greeting was HELO, not EHLO
	closeOnce  sync.Once
	release    func() // gives back the connection's slot in the limits
	remoteAddr net.Addr
	guard      commandGuard // used by Read only, in go-smtp's goroutine

	// The blocklist answer for the client, asked once per connection
	// (inbound.go): dnsbl is set before dnsblDone is closed.
	dnsblOnce sync.Once
	dnsblDone chan struct{}
	dnsbl     dnsbl.Result
}

// errTimeout is the error a read returns when the server is draining; it
// looks like a deadline so go-smtp answers 421.
var errTimeout = os.ErrDeadlineExceeded

func (c *conn) Read(p []byte) (int, error) {
	if c.hangUp.Load() {
		return 0, net.ErrClosed
	}
	if c.srv.draining.Load() && !c.inData.Load() {
		return 0, errTimeout
	}
	d := c.srv.cfg.CommandTimeout
	switch {
	case c.inData.Load():
		d = c.srv.cfg.DataTimeout
	case c.srv.stressed():
		d = min(d, stressTimeout)
	}
	c.Conn.SetReadDeadline(time.Now().Add(d))
	n, err := c.Conn.Read(p)
	if n > 0 && !c.tls.Load() && !c.guard.scan(p[:n]) {
		c.refuseHTTP(c.Conn)
		return 0, errHTTP
	}
	return n, err
}

// errHTTP ends a session that sent an HTTP command line; go-smtp takes it
// for a closed connection and says nothing more.
var errHTTP = fmt.Errorf("smtpd: HTTP command on an SMTP port: %w", net.ErrClosed)

// refuseHTTP answers an HTTP command line on w (the connection, or the TLS
// connection above it) and ends the session.
func (c *conn) refuseHTTP(w io.Writer) {
	c.hangUp.Store(true)
	c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(w, errHTTPReply)
	c.srv.deps.MailLog.Log(maillog.Rejected, "client", admit.RemoteIP(c.remoteAddr).String(), "reason", "HTTP command")
}

// SetReadDeadline is ignored: Read sets its own idle deadline.
func (c *conn) SetReadDeadline(time.Time) error { return nil }

// SetDeadline only sets the write deadline, for the same reason.
func (c *conn) SetDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(t) }

func (c *conn) Write(p []byte) (int, error) {
	if !c.tls.Load() {
		if out := c.rewrite(p); out != nil {
			if _, err := c.Conn.Write(out); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		if c.release != nil {
			c.release()
		}
	})
	return c.Conn.Close()
}

// wake interrupts a session blocked reading its next command.
func (c *conn) wake() {
	if !c.inData.Load() {
		c.Conn.SetReadDeadline(time.Now())
	}
}

// Replies of go-smtp that the rewrite layer recognises. go-smtp writes each
// reply line with one Write call, so matching whole lines is exact.
var (
	helpNotImplemented = []byte("502 5.5.1 HELP command not implemented\r\n")
	badSequencePrefix  = []byte("502 5.5.1 ")
	startTLSReply      = []byte("220 2.0.0 Ready to start TLS\r\n")
	idleTimeoutReply   = []byte("421 4.4.2 Idle timeout, bye bye\r\n")
	heloReplyPrefix    = []byte("250 2.0.0 Hello ")
	ehloReplyPrefix    = []byte("250-Hello ")
	// badSequenceTexts are go-smtp's 502 replies that are really "bad
	// sequence of commands", which RFC 5321 §4.2.4 codes as 503.
	badSequenceTexts = [][]byte{
		[]byte("Please introduce yourself first.\r\n"),
		[]byte("Missing MAIL FROM command.\r\n"),
		[]byte("Missing RCPT TO command.\r\n"),
		[]byte("MAIL not allowed during message transfer\r\n"),
		[]byte("RCPT not allowed during message transfer\r\n"),
		[]byte("DATA not allowed during message transfer\r\n"),
	}
)

// rewrite returns a replacement for a reply line, or nil to send it as is.
// It works around two gaps in go-smtp: HELP is not implemented (RFC 5321
// §4.1.1.8 wants 211/214), and commands out of sequence get 502 instead of
// 503 (§4.3.2). Above TLS go-smtp's own replies go out unchanged; docs/rfc.md
// records that.
func (c *conn) rewrite(p []byte) []byte {
	switch {
	case bytes.Equal(p, helpNotImplemented):
		return []byte("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS; see RFC 5321\r\n")
	case bytes.HasPrefix(p, badSequencePrefix):
		for _, t := range badSequenceTexts {
			if bytes.Equal(p[len(badSequencePrefix):], t) {
				out := append([]byte("503"), p[3:]...)
				return out
			}
		}
	case bytes.Equal(p, startTLSReply):
		// Everything after this reply is encrypted.
		c.tls.Store(true)
	case bytes.Equal(p, idleTimeoutReply) && c.srv.draining.Load():
		return []byte("421 4.3.2 " + c.srv.cfg.Hostname + " Service shutting down, try again later\r\n")
	case bytes.HasPrefix(p, heloReplyPrefix):
		c.sawHELO.Store(true)
	case bytes.HasPrefix(p, ehloReplyPrefix):
		c.sawHELO.Store(false)
	}
	return nil
}

// chanListener hands connections that passed the admission checks to
// go-smtp's Serve loop.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
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
