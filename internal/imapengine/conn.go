package imapengine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"pail/internal/imapwire"
)

// state is a session's state (RFC 9051 §3).
type state int

const (
	notAuthenticated state = iota
	authenticated
	selected
	logout
)

// Conn is one client connection and its session state. A Session writes
// its responses through it.
type Conn struct {
	srv    *Server
	remote netip.Addr

	// mu guards the connection, which STARTTLS replaces, and the
	// interruption the server's shutdown asks for.
	mu          sync.Mutex
	conn        net.Conn // the accepted connection, or TLS over it
	raw         net.Conn // the accepted connection
	interrupted bool
	// woken: the Session said something may have changed while the
	// client IDLEs; the read waiting for DONE is cut short to tell it.
	woken bool
	// hibernated: the session has no goroutine, its descriptor is in
	// the poller's set under registration hibToken (hibernate.go).
	hibernated bool
	hibToken   uint64
	// napAt: when the wait for the client gives way to hibernation.
	napAt time.Time

	isTLS   bool
	timeout time.Duration // of every read, by state

	in   io.Reader     // the client's bytes: connReader, or the inflater under COMPRESS
	pre  prefixReader  // the first bytes of a command, read without a buffer
	br   *bufio.Reader // from the server's pool while a command is read; nil between
	bw   *bufio.Writer // from the pool while responses are written; nil between
	held atomic.Int32  // buffers taken from the pools, for tests
	rd   *imapwire.Reader
	wr   *imapwire.Writer
	z    *deflateState // COMPRESS=DEFLATE is on (RFC 4978); nil until then

	idling   bool              // in IDLE: a wake-up runs update from the read
	idleCmd  *imapwire.Command // the IDLE waiting for DONE, or nil
	idleStop func()            // ends the Session's Watch (IDLE or NOTIFY, see rewatch)
	// between: waiting for the next command with none of it read; under
	// NOTIFY a wake-up runs update from the read then (RFC 5465 §3).
	between bool
	// waiting: the wait for the next command (or DONE), with none of
	// it read; until is when that wait ends (autologout), the same
	// deadline across wake-ups and hibernations.
	waiting bool
	until   time.Time
	done    func() // Server.Start's, called when the session has ended

	state    state
	sess     Session
	readOnly bool
	rev2     bool // ENABLE IMAP4rev2 (RFC 9051 §6.3.1)
	// condStore: CONDSTORE is enabled (RFC 7162 §3.1: by ENABLE, SELECT
	// (CONDSTORE) or any CONDSTORE-enabling command).
	condStore bool
	qresync   bool // ENABLE QRESYNC (RFC 7162 §3.2.3)
	bad       int  // BAD replies in a row
	user      string
	tag       string             // of the command running
	sinks     []io.Writer        // message writers handed out for the command being read
	appending int64              // octets of the message literals of the command being read
	clientID  []imapwire.IDParam // what the client said of itself with ID (RFC 2971)
}

func newConn(s *Server, nc net.Conn, isTLS bool) *Conn {
	c := &Conn{srv: s, conn: nc, raw: nc, isTLS: isTLS, timeout: preAuthTimeout}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.remote = ap.Addr().Unmap()
	}
	c.in = connReader{c}
	c.pre.src = &c.in
	c.rd = imapwire.NewReader(nil, imapwire.Options{
		Limits:      preLoginLimits,
		LiteralPlus: true, // RFC 7888: advertised
		Continue:    c.continueLiteral,
		Sink:        c.sink,
	})
	c.wr = imapwire.NewWriter(nil)
	return c
}

// preLoginLimits bound what a client may send before it logs in.
var preLoginLimits = imapwire.Limits{
	MaxLine: preLoginBound, MaxCommand: preLoginBound, MaxLiteral: preLoginBound,
	MaxMessage: preLoginBound, MaxDiscard: preLoginBound,
}

// Writer returns the writer for the session's untagged responses. It is
// valid during a call of a Session method.
func (c *Conn) Writer() *imapwire.Writer {
	c.output()
	return c.wr
}

// IMAP4rev2 reports whether the client enabled IMAP4rev2 (RFC 9051
// §6.3.1): no \Recent and no RECENT, ESEARCH for SEARCH, UTF-8 names.
func (c *Conn) IMAP4rev2() bool { return c.rev2 }

// CondStore reports whether CONDSTORE is enabled in the session (RFC 7162
// §3.1): untagged FETCH responses for flag changes then carry MODSEQ.
func (c *Conn) CondStore() bool { return c.condStore }

// EnableCondStore enables CONDSTORE, as a CONDSTORE-enabling command does
// (RFC 7162 §3.1: STATUS HIGHESTMODSEQ, FETCH MODSEQ or CHANGEDSINCE,
// SEARCH MODSEQ, STORE UNCHANGEDSINCE). It lasts for the session.
func (c *Conn) EnableCondStore() { c.condStore = true }

// offers reports whether the Session advertises capability name.
func (c *Conn) offers(name string) bool {
	for _, cp := range c.srv.cfg.Caps {
		if cp == name {
			return true
		}
	}
	return false
}

// Tag returns the tag of the command running (for ESEARCH's TAG, RFC
// 4731 §3.1).
func (c *Conn) Tag() string { return c.tag }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() netip.Addr { return c.remote }

// IsTLS reports whether the session runs over TLS.
func (c *Conn) IsTLS() bool { return c.isTLS }

func (c *Conn) nc() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// read reads from the connection with a deadline of c.timeout, unless
// the server interrupted it. In IDLE a wake-up (see wake) cuts the wait
// short: the client is told what changed from here, on this goroutine,
// and the wait goes on with the same deadline (the client's silence is
// what the autologout counts, RFC 9051 §5.4). The wake-up happens below
// TLS and the inflater, which both survive a read timeout that returned
// nothing, so a connection in IDLE needs no second goroutine.
//
// A wait for the next command (waiting) that may hibernate (canSleep)
// returns errHibernate at napAt instead of blocking on.
func (c *Conn) read(p []byte) (int, error) {
	deadline := c.until
	if deadline.IsZero() {
		deadline = time.Now().Add(c.timeout)
	}
	for {
		c.mu.Lock()
		if c.interrupted {
			c.mu.Unlock()
			return 0, errShutdown
		}
		if c.woken && (c.idling || c.between) {
			// A wake-up during a command waits for its end: it
			// stays set and is seen at the next wait.
			c.woken = false
			c.mu.Unlock()
			if err := c.update(); err != nil {
				return 0, err
			}
			continue
		}
		rd := deadline
		if c.waiting && c.canSleep() {
			if now := time.Now(); now.Before(deadline) {
				if !now.Before(c.napAt) {
					c.mu.Unlock()
					return 0, errHibernate
				}
				if c.napAt.Before(rd) {
					rd = c.napAt
				}
			}
		}
		nc := c.conn
		nc.SetReadDeadline(rd)
		c.mu.Unlock()
		n, err := nc.Read(p)
		if n > 0 {
			if c.srv.cfg.Debug != nil {
				c.debugRead(p[:n])
			}
			return n, nil
		}
		if isTimeout(err) && time.Now().Before(deadline) {
			continue // a wake-up or an interruption cut the wait short
		}
		return n, err
	}
}

// debugRead writes what the client sent to Config.Debug.
func (c *Conn) debugRead(p []byte) { fmt.Fprintf(c.srv.cfg.Debug, "C: %q\n", p) }

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connReader reads the client's bytes off the connection (see read).
type connReader struct{ c *Conn }

func (r connReader) Read(p []byte) (int, error) { return r.c.read(p) }

// interrupt makes a waiting read fail, so that the session says BYE; a
// hibernated session is roused to say it.
func (c *Conn) interrupt() {
	c.mu.Lock()
	c.interrupted = true
	c.conn.SetReadDeadline(time.Now())
	c.rouse(false)
	c.mu.Unlock()
}

// cut closes the connection at once (Server.Close); a hibernated session
// is roused to end.
func (c *Conn) cut() {
	c.mu.Lock()
	c.rouse(false)
	c.conn.Close()
	c.mu.Unlock()
}

// wake cuts short the read that waits for the client in IDLE, so that
// it tells the client what changed; a hibernated session is given a
// goroutine to tell it. It is the function the Session's Watch calls,
// from any goroutine; it never blocks.
func (c *Conn) wake() {
	c.mu.Lock()
	if !c.woken {
		c.woken = true
		if c.hibernated {
			c.rouse(false)
		} else {
			c.conn.SetReadDeadline(time.Now())
		}
	}
	c.mu.Unlock()
}

func (c *Conn) isInterrupted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.interrupted
}

// connWriter writes to the connection with a deadline on every write.
type connWriter struct{ c *Conn }

func (w connWriter) Write(p []byte) (int, error) {
	nc := w.c.nc()
	nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if w.c.srv.cfg.Debug != nil {
		fmt.Fprintf(w.c.srv.cfg.Debug, "S: %q\n", p)
	}
	return nc.Write(p)
}

// prefixReader holds the first bytes of a command, read while no buffer
// is taken from the pool, and then reads on from the client's stream.
type prefixReader struct {
	src        *io.Reader // the Conn's in
	buf        [256]byte  // a typical command line fits
	start, end int
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if p.start < p.end {
		n := copy(b, p.buf[p.start:p.end])
		p.start += n
		return n, nil
	}
	return (*p.src).Read(b)
}

// fill waits for input without holding a buffer from the pool.
func (p *prefixReader) fill() error {
	if p.start < p.end {
		return nil
	}
	var n int
	var err error
	if cr, ok := (*p.src).(connReader); ok {
		n, err = cr.c.read(p.buf[:]) // a frame less under the wait
	} else {
		n, err = (*p.src).Read(p.buf[:])
	}
	p.start, p.end = 0, n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// waitInput waits until the client sends something, giving the read
// buffer back meanwhile if it holds nothing. It returns errHibernate
// when the session should hibernate (see loop); the wait, its deadline
// kept, goes on when the session is roused.
func (c *Conn) waitInput() error {
	if c.br != nil && c.br.Buffered() > 0 {
		return nil
	}
	c.releaseInput()
	if c.until.IsZero() {
		now := time.Now()
		c.until, c.napAt = now.Add(c.timeout), now.Add(c.srv.cfg.hibernateAfter)
		if c.idleCmd != nil {
			c.napAt = now // RFC 2177: the client may be silent for 29 minutes
		}
	}
	c.between = c.idleStop != nil
	c.waiting = true
	err := c.pre.fill()
	c.between, c.waiting = false, false
	if errors.Is(err, errHibernate) {
		return err
	}
	c.until = time.Time{}
	if err != nil {
		return err
	}
	c.input()
	return nil
}

// input takes a read buffer for the command about to be read.
func (c *Conn) input() {
	if c.br == nil {
		c.br = c.srv.readers.Get().(*bufio.Reader)
		c.held.Add(1)
		c.br.Reset(&c.pre)
		c.rd.SetSource(c.br)
	}
}

func (c *Conn) releaseInput() {
	if c.br != nil && c.br.Buffered() == 0 {
		c.br.Reset(nil)
		c.srv.readers.Put(c.br)
		c.br = nil
		c.held.Add(-1)
		c.rd.SetSource(nil)
	}
}

// output takes a write buffer (and under COMPRESS a compressor, see
// deflateState.begin).
func (c *Conn) output() {
	if c.bw == nil {
		c.bw = c.srv.writers.Get().(*bufio.Writer)
		c.held.Add(1)
		if c.z != nil {
			c.bw.Reset(c.z.begin(c))
		} else {
			c.bw.Reset(connWriter{c})
		}
		c.wr.SetOutput(c.bw)
	}
}

// flush sends the responses written and gives the buffers back. It is
// called at the end of every batch of responses (a command's, IDLE's
// "+" and each update), so under COMPRESS every batch ends with a sync
// flush (RFC 4978 §4) and reaches the client at once.
func (c *Conn) flush() error {
	if c.bw == nil {
		return c.wr.Err()
	}
	err := c.wr.Flush()
	if c.z != nil {
		if zerr := c.z.end(c, err == nil); err == nil {
			err = zerr
		}
	}
	c.bw.Reset(nil)
	c.srv.writers.Put(c.bw)
	c.bw = nil
	c.held.Add(-1)
	c.wr.SetOutput(nil)
	return err
}

// bye writes an untagged BYE (RFC 9051 §7.1.5) with its own deadline.
func (c *Conn) bye(text string) {
	c.output()
	c.wr.Status("", imapwire.BYE, nil, text)
	c.flush()
}

// loop is the connection loop, from the greeting (greet) or from a
// hibernation the session was roused from. The wait for the client's
// next bytes, between commands and in IDLE alike, is here, low on the
// stack: Go shrinks a goroutine's stack only while less than a quarter of
// it is in use, so that a waiting connection that does not hibernate
// keeps a 4 KiB stack rather than the 8 or 16 KiB a command grew it to.
// A session that hibernates ends its goroutine here.
func (c *Conn) loop(greet bool) {
	asleep := false
	defer func() {
		if !asleep {
			c.end()
		}
	}()
	defer c.recoverPanic()
	if greet && !c.greet() {
		return
	}
	for c.state != logout {
		if err := c.waitInput(); err != nil {
			if errors.Is(err, errHibernate) {
				if asleep = c.sleep(); asleep {
					return // another goroutine may own c from here
				}
				continue
			}
			c.readFailed(err)
			return
		}
		if !c.step() {
			return
		}
	}
}

// recoverPanic ends a session whose command panicked, with BYE.
func (c *Conn) recoverPanic() {
	if v := recover(); v != nil {
		c.srv.cfg.Log.Error("imap: panic in a command", "client", c.remote.String(), "user", c.user, "panic", v, "stack", string(debug.Stack()))
		c.bye("Internal server error, closing")
	}
}

// greet completes an implicit TLS handshake and sends the greeting; it
// reports whether the session goes on.
func (c *Conn) greet() bool {
	if c.isTLS {
		if tc, ok := c.conn.(interface{ Handshake() error }); ok {
			c.conn.SetDeadline(time.Now().Add(handshakeTimeout))
			if err := tc.Handshake(); err != nil {
				c.srv.cfg.Log.Debug("imap: TLS handshake", "client", c.remote.String(), "err", err)
				return false
			}
		}
	}
	c.output()
	// RFC 9051 §7.1.1: the greeting, with the capabilities (§7.1).
	c.wr.Status("", imapwire.OK, imapwire.CodeCapability(c.capabilities()), c.srv.cfg.Hostname+" IMAP ready")
	return c.flush() == nil
}

// step reads and runs the command the client sent (or the end of IDLE)
// and sends its responses; it reports whether the session goes on.
func (c *Conn) step() bool {
	if c.idleCmd != nil {
		c.finishIdle()
	} else {
		c.appending = 0
		cmd, err := c.rd.ReadCommand()
		if err != nil {
			c.discardSinks()
			var e *imapwire.Error
			if !errors.As(err, &e) {
				c.readFailed(err)
				return false
			}
			if !c.answerBadInput(e) {
				return false
			}
		} else {
			c.sinks = c.sinks[:0]
			c.run(cmd)
		}
	}
	if c.flush() != nil {
		return false
	}
	if c.isInterrupted() && c.state != logout && c.idleCmd == nil {
		c.bye("pail is shutting down")
		return false
	}
	return true
}

// readFailed ends a session whose connection failed: a shutdown says
// BYE, an idle timeout too (RFC 9051 §7.1.5: autologout).
func (c *Conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errShutdown) || c.isInterrupted():
		c.bye("pail is shutting down")
	case errors.As(err, &ne) && ne.Timeout():
		c.bye("Autologout: idle for too long")
	}
}

// end closes the connection and the session.
func (c *Conn) end() {
	if c.idleCmd != nil {
		c.endIdle()
	}
	if c.idleStop != nil {
		c.idleStop()
		c.idleStop = nil
	}
	if c.sess != nil {
		c.sess.Logout()
		c.sess = nil
	}
	c.discardSinks()
	c.releaseInput()
	if c.br != nil {
		c.br = nil
	}
	if c.bw != nil {
		c.flush()
	}
	nc := c.nc()
	nc.SetWriteDeadline(time.Now().Add(byeTimeout))
	nc.Close()
	c.srv.forget(c)
	if c.done != nil {
		c.done()
	}
}

// answerBadInput answers a command the reader could not read: its BAD or
// NO, and BYE and the end when the stream is lost or the client sent too
// many bad commands. It reports whether the session goes on.
func (c *Conn) answerBadInput(e *imapwire.Error) bool {
	status, code, text := e.Status, e.Code, e.Msg
	var ee *Error
	if errors.As(e.Err, &ee) {
		// A literal refused by the engine (a command in the wrong
		// state) or by the Session's sink.
		status, code, text = ee.Status, ee.Code, ee.Text
	}
	if code == "" && status == imapwire.BAD {
		code = "CLIENTBUG"
	}
	var cd *imapwire.Code
	if code != "" {
		cd = imapwire.NewCode(code)
	}
	c.output()
	c.wr.Status(e.Tag, status, cd, capitalize(text))
	if e.Fatal {
		c.bye("Too much input, closing")
		c.srv.cfg.Log.Info("imap: client input refused", "client", c.remote.String(), "reason", e.Msg)
		return false
	}
	return c.countReply(status)
}

// countReply counts BAD replies in a row; too many end the session.
func (c *Conn) countReply(status string) bool {
	if status != imapwire.BAD {
		c.bad = 0
		return true
	}
	c.bad++
	if c.bad >= maxBadCommands {
		c.bye("Too many invalid commands, closing")
		c.srv.cfg.Log.Info("imap: too many invalid commands", "client", c.remote.String(), "user", c.user)
		return false
	}
	return true
}

func capitalize(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// discardSinks throws away the messages of a command that failed.
func (c *Conn) discardSinks() {
	for _, w := range c.sinks {
		if d, ok := w.(interface{ Discard() }); ok {
			d.Discard()
		}
	}
	c.sinks = c.sinks[:0]
}

// sink gives the reader the writer for an APPEND message.
func (c *Conn) sink(info imapwire.LiteralInfo) (io.Writer, error) {
	var w io.Writer
	if ms, ok := c.sess.(MessageSink); ok {
		var err error
		if w, err = ms.MessageSink(info); err != nil {
			return nil, err
		}
	} else {
		w = &bytes.Buffer{}
	}
	c.sinks = append(c.sinks, w)
	return w, nil
}

// errWrongState refuses a literal of a command the state does not allow,
// before the client sends it.
var errWrongState = Bad("", "Command not allowed in this state")

// errAppendTotal refuses a message literal that takes an APPEND's
// messages together past Config.AppendTotal.
var errAppendTotal = No("TOOBIG", "The messages of this APPEND together are too large")

// continueLiteral is asked before each literal's bytes are read: a
// command the state does not take is refused at once (its literal never
// sent, RFC 9051 §7.5), and a synchronizing literal gets its "+".
func (c *Conn) continueLiteral(info imapwire.LiteralInfo) error {
	if !allowed(info.Command, c.state) {
		return errWrongState
	}
	if info.Message {
		if c.appending+info.Size > c.srv.cfg.AppendTotal {
			return errAppendTotal
		}
		if ac, ok := c.sess.(AppendChecker); ok && info.Sync {
			if err := ac.CheckAppend(c.srv.ctx, c.appending+info.Size); err != nil {
				return err
			}
		}
		c.appending += info.Size
	}
	if !info.Sync {
		return nil
	}
	c.output()
	c.wr.Continue("Ready for literal data")
	return c.flush()
}
