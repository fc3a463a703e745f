// Package smtpserver is pail's SMTP protocol engine, the server side of
// RFC 5321: it owns the connection loop of one session and everything that
// is protocol rather than policy. It reads command lines with a bounded
// length and a deadline on every read, parses them (verbs, paths, ESMTP
// parameters), keeps the state machine (greeting, transaction, chunked
// message), streams DATA content with dot-unstuffing and BDAT chunks
// under a size bound, batches replies while pipelined commands are
// waiting (RFC 2920), runs STARTTLS (RFC 3207) and the SASL exchange of
// AUTH (RFC 4954, with go-sasl), and writes every reply with its
// enhanced status code (RFC 2034, 3463).
//
// What a command means for the mail system (who may send, which
// recipients exist, what becomes of a message) is the Session's: package
// smtpd supplies it. The extensions offered are exactly PIPELINING,
// 8BITMIME, ENHANCEDSTATUSCODES, CHUNKING, STARTTLS, AUTH, SMTPUTF8, SIZE
// and LIMITS RCPTMAX; MAIL takes SIZE, BODY=7BIT/8BITMIME, SMTPUTF8 and
// AUTH=, RCPT takes no parameters (DSN, REQUIRETLS and BINARYMIME are not
// offered).
package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
)

// MaxLineLength is the longest command line read, CRLF included. RFC 5321
// §4.5.3.1.4 sets 512 octets and §4.5.3.1.3 lets extensions (SMTPUTF8
// addresses, ESMTP parameters, AUTH initial responses) make it longer;
// 2000 is go-smtp's default, which pail used before, with room to spare.
const MaxLineLength = 2000

// readBufferSize is the connection's input buffer: a command line always
// fits (it must exceed MaxLineLength), and message content is taken from it
// in blocks of this size.
const readBufferSize = 8 << 10

// writeBufferSize holds the replies to a batch of pipelined commands.
const writeBufferSize = 4 << 10

// Session is the policy behind one SMTP session, between two greetings
// that reset it. Mail, Rcpt and Data return nil to accept or an *Error to
// refuse with its reply; any other error is logged and answered 451 4.3.0.
type Session interface {
	// Mail starts a transaction (RFC 5321 §4.1.1.2); from is "" for the
	// null reverse-path.
	Mail(from string, opts MailOptions) error
	// Rcpt adds a recipient (§4.1.1.3); to may be "postmaster" without a
	// domain (§4.5.1).
	Rcpt(to string) error
	// Data reads the message content to io.EOF (DATA or BDAT). An error
	// from r (ErrTooLarge, ErrDataReset, the connection's) may be returned
	// as it is.
	Data(r io.Reader) error
	// Reset ends the transaction (RSET, a new greeting, the end of DATA).
	Reset()
	// Logout ends the session.
	Logout()
}

// AuthSession is a Session that offers AUTH (RFC 4954).
type AuthSession interface {
	Session
	// AuthMechanisms lists the SASL mechanisms offered now; none: AUTH
	// is not advertised.
	AuthMechanisms() []string
	// Auth starts the server side of a mechanism, or refuses it.
	Auth(mech string) (sasl.Server, error)
}

// MailOptions are the ESMTP parameters of MAIL that pail offers.
type MailOptions struct {
	Size int64  // SIZE (RFC 1870); 0: not given
	Body string // BODY (RFC 6152): "7BIT", "8BITMIME" or ""
	UTF8 bool   // SMTPUTF8 (RFC 6531 §3.4)
	Auth string // AUTH= (RFC 4954 §5), xtext-decoded; "" when not given or "<>"
}

// Config is what the engine needs to know of the service; one Config
// serves many connections and is not changed while they run.
type Config struct {
	Hostname        string      // in the greeting and the EHLO reply
	TLS             *tls.Config // STARTTLS offered when set and the connection is not yet TLS
	MaxMessageBytes int64       // SIZE; 0: no limit
	MaxRecipients   int         // per transaction; 0: no limit
	// MaxErrors ends a session after this many refused commands of the
	// loop's own (syntax, sequence, unknown command); 0: no limit.
	MaxErrors int
	// ReadTimeout is the deadline of the next read, asked before each one
	// (data tells whether a message is streaming; RFC 5321 §4.5.3.2).
	ReadTimeout  func(data bool) time.Duration
	WriteTimeout time.Duration // each flush of replies
	// Draining reports that the server is shutting down: an idle session
	// is told 421 4.3.2 instead of reading its next command.
	Draining func() bool
	// Guard, when set, sees every command line (never content, never a
	// SASL response) before it is run, over TLS and in clear alike; an
	// Error it returns is the reply.
	Guard func(c *Conn, line []byte) *Error
	Log   *slog.Logger
}

// Conn is one SMTP connection served by the engine.
type Conn struct {
	cfg        *Config
	raw        net.Conn // as accepted
	nc         net.Conn // raw, or the TLS connection over it
	tlsState   *tls.ConnectionState
	br         *bufio.Reader
	bw         *bufio.Writer
	newSession func(*Conn) (Session, error)
	inData     atomic.Bool // a message is streaming: no idle timeout, no wake
	closed     atomic.Bool

	sess    Session
	helo    string
	ehlo    bool // the last greeting was EHLO
	authed  bool
	errors  int
	hasMail bool
	rcpts   int
	pending command // a command read inside a BDAT transfer, to run next
	werr    error   // the first write error: the session ends
}

// NewConn prepares nc for Serve. newSession makes the Session at the
// first greeting, and again after STARTTLS (RFC 3207 §4.2: the client
// starts afresh). A *tls.Conn is taken as implicit TLS (RFC 8314): its
// handshake is done in Serve and STARTTLS is not offered.
func NewConn(nc net.Conn, cfg *Config, newSession func(*Conn) (Session, error)) *Conn {
	c := &Conn{cfg: cfg, raw: nc, nc: nc, newSession: newSession}
	c.br = bufio.NewReaderSize(connReader{c}, readBufferSize)
	c.bw = bufio.NewWriterSize(connWriter{c}, writeBufferSize)
	return c
}

// Hostname is the name the client gave in its last EHLO or HELO.
func (c *Conn) Hostname() string { return c.helo }

// SawHELO reports whether the client greeted with HELO rather than EHLO.
func (c *Conn) SawHELO() bool { return c.helo != "" && !c.ehlo }

// TLSConnectionState is the session's TLS state, if it is over TLS.
func (c *Conn) TLSConnectionState() (tls.ConnectionState, bool) {
	if c.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tlsState, true
}

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// Wake interrupts a session waiting for its next command, so that it
// looks at Config.Draining; a session receiving a message is left alone.
func (c *Conn) Wake() {
	if !c.inData.Load() {
		c.raw.SetReadDeadline(time.Now())
	}
}

// Close cuts the connection at once.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.raw.Close()
}

// errDraining ends a read when the server is shutting down.
var errDraining = fmt.Errorf("smtpserver: shutting down: %w", os.ErrDeadlineExceeded)

// connReader is the input below the buffer: before each read it sends
// the replies waiting in the output buffer (RFC 2920 §3.2: a server
// flushes when it would wait for input), and it sets the read deadline.
type connReader struct{ c *Conn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	if err := c.flush(); err != nil {
		return 0, err
	}
	data := c.inData.Load()
	if !data && c.cfg.Draining != nil && c.cfg.Draining() {
		return 0, errDraining
	}
	c.nc.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout(data)))
	return c.nc.Read(p)
}

// connWriter writes to the current connection under the write deadline.
type connWriter struct{ c *Conn }

func (w connWriter) Write(p []byte) (int, error) {
	if w.c.cfg.WriteTimeout > 0 {
		w.c.nc.SetWriteDeadline(time.Now().Add(w.c.cfg.WriteTimeout))
	}
	return w.c.nc.Write(p)
}

func (c *Conn) flush() error {
	if c.werr == nil && c.bw.Buffered() > 0 {
		c.werr = c.bw.Flush()
	}
	return c.werr
}

// reply queues one reply line; it goes out at the next flush.
func (c *Conn) reply(code int, enhanced, text string) {
	var b [3]byte
	c.bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	c.bw.WriteByte(' ')
	if enhanced != "" {
		c.bw.WriteString(enhanced)
		c.bw.WriteByte(' ')
	}
	c.bw.WriteString(text)
	c.bw.WriteString("\r\n")
}

// replyLines queues a multi-line reply (RFC 5321 §4.2.1).
func (c *Conn) replyLines(code int, lines []string) {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		c.bw.WriteString(strconv.Itoa(code) + sep + l + "\r\n")
	}
}

// replyErr queues the reply an error from a Session carries, or 451
// 4.3.0 for an error that is not an *Error (logged, never shown).
func (c *Conn) replyErr(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		c.log().Error("session error", "client", c.RemoteAddr().String(), "err", err)
		e = errInternal
	}
	c.reply(e.Code, e.Enhanced, e.Message)
	return e
}

// refuse answers one of the loop's own refusals and counts it; it reports
// whether the session must end (the error says so, or there were too
// many).
func (c *Conn) refuse(e *Error) bool {
	c.reply(e.Code, e.Enhanced, e.Message)
	if e.Close {
		return true
	}
	c.errors++
	if c.cfg.MaxErrors > 0 && c.errors >= c.cfg.MaxErrors {
		c.reply(errTooManyErrors.Code, errTooManyErrors.Enhanced, errTooManyErrors.Message)
		return true
	}
	return false
}

func (c *Conn) log() *slog.Logger {
	if c.cfg.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.cfg.Log
}

// readCommand reads one command line, without its line ending (CRLF, or a
// bare LF, which is accepted on command lines), and applies the guard.
// The line is valid until the next read.
func (c *Conn) readCommand() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > MaxLineLength {
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if c.cfg.Guard != nil {
		if e := c.cfg.Guard(c, line); e != nil {
			return nil, e
		}
	}
	return line, nil
}

// Serve runs the session until the client quits, the connection fails or
// the server drains, and closes the connection.
func (c *Conn) Serve(ctx context.Context) {
	defer func() {
		c.flush()
		if c.sess != nil {
			c.sess.Logout()
		}
		c.raw.Close()
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		if !c.handshake(ctx, tc) {
			return
		}
	}
	c.reply(220, "", c.cfg.Hostname+" ESMTP Service Ready")
	for !c.closed.Load() && ctx.Err() == nil {
		cmd := c.pending
		c.pending = command{}
		if cmd.verb == "" {
			line, err := c.readCommand()
			if err != nil {
				c.readFailed(err)
				return
			}
			if len(line) == 0 {
				if c.refuse(errEmptyLine) {
					return
				}
				continue
			}
			cmd = parseCommand(line)
		}
		if !c.run(ctx, cmd) {
			return
		}
		if c.werr != nil {
			return
		}
	}
}

// readFailed answers what ended a command read: a timeout (421 4.4.2, or
// 421 4.3.2 when the server drains; RFC 5321 §4.5.3.2, §3.8), a line too
// long, a guard's refusal; a closed connection gets nothing.
func (c *Conn) readFailed(err error) {
	var e *Error
	var ne net.Error
	switch {
	case errors.As(err, &e):
		c.reply(e.Code, e.Enhanced, e.Message)
	case c.cfg.Draining != nil && c.cfg.Draining() && (errors.As(err, &ne) && ne.Timeout()):
		c.reply(421, "4.3.2", c.cfg.Hostname+" Service shutting down, try again later")
	case errors.As(err, &ne) && ne.Timeout():
		c.reply(421, "4.4.2", c.cfg.Hostname+" Idle timeout, closing connection")
	}
}

// handshake runs the TLS handshake of implicit TLS or STARTTLS under the
// read timeout.
func (c *Conn) handshake(ctx context.Context, tc *tls.Conn) bool {
	c.raw.SetDeadline(time.Now().Add(c.cfg.ReadTimeout(false)))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.log().Debug("TLS handshake", "client", c.RemoteAddr().String(), "err", err)
		return false
	}
	c.raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tlsState = &st
	c.nc = tc
	return true
}

// run dispatches one command; false ends the session.
func (c *Conn) run(ctx context.Context, cmd command) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.log().Error("panic in SMTP command", "client", c.RemoteAddr().String(), "verb", cmd.verb, "panic", p, "stack", string(debug.Stack()))
			c.reply(errPanic.Code, errPanic.Enhanced, errPanic.Message)
			ok = false
		}
	}()
	switch cmd.verb {
	case "EHLO", "HELO":
		return c.hello(cmd)
	case "MAIL":
		return c.mail(cmd.arg)
	case "RCPT":
		return c.rcpt(cmd.arg)
	case "DATA":
		return c.data(cmd.arg)
	case "BDAT":
		return c.bdatCommand(cmd.arg)
	case "RSET":
		if cmd.arg != "" {
			return !c.refuse(errNoArgs)
		}
		c.reset()
		c.reply(250, "2.0.0", "Reset")
	case "NOOP": // RFC 5321 §4.1.1.9: any argument is ignored
		c.reply(250, "2.0.0", "OK")
	case "QUIT":
		c.reply(221, "2.0.0", c.cfg.Hostname+" closing connection")
		return false
	case "VRFY":
		if cmd.arg == "" {
			return !c.refuse(errVrfySyntax)
		}
		// RFC 5321 §3.5.3: 252 when the server will not verify.
		c.reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
	case "HELP": // RFC 5321 §4.1.1.8
		c.reply(214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH; see RFC 5321")
	case "STARTTLS":
		return c.startTLS(ctx, cmd.arg)
	case "AUTH":
		return c.auth(cmd.arg)
	case "EXPN", "TURN", "SEND", "SOML", "SAML":
		// RFC 5321 §4.2.4: recognized, not implemented.
		return !c.refuse(errNotImplemented)
	default:
		return !c.refuse(errUnknownCommand)
	}
	return true
}

// reset ends the transaction, if any.
func (c *Conn) reset() {
	c.hasMail = false
	c.rcpts = 0
	if c.sess != nil {
		c.sess.Reset()
	}
}

// hello answers EHLO and HELO (RFC 5321 §4.1.1.1); either resets the
// transaction (§4.1.4).
func (c *Conn) hello(cmd command) bool {
	domain := parseHello(cmd.arg)
	if domain == "" {
		return !c.refuse(errHelloArg)
	}
	if c.sess == nil {
		sess, err := c.newSession(c)
		if err != nil {
			e := c.replyErr(err)
			return !e.Close
		}
		c.sess = sess
	} else {
		c.reset()
	}
	c.helo, c.ehlo = domain, cmd.verb == "EHLO"
	if !c.ehlo {
		c.reply(250, "", c.cfg.Hostname+" Hello "+domain)
		return true
	}
	lines := []string{c.cfg.Hostname + " Hello " + domain, "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING"}
	if c.cfg.TLS != nil && c.tlsState == nil {
		lines = append(lines, "STARTTLS")
	}
	if as, ok := c.sess.(AuthSession); ok && !c.authed {
		if mechs := as.AuthMechanisms(); len(mechs) > 0 {
			lines = append(lines, "AUTH "+strings.Join(mechs, " "))
		}
	}
	lines = append(lines, "SMTPUTF8")
	if c.cfg.MaxMessageBytes > 0 {
		lines = append(lines, "SIZE "+strconv.FormatInt(c.cfg.MaxMessageBytes, 10))
	} else {
		lines = append(lines, "SIZE")
	}
	if c.cfg.MaxRecipients > 0 {
		lines = append(lines, "LIMITS RCPTMAX="+strconv.Itoa(c.cfg.MaxRecipients)) // RFC 9422
	}
	c.replyLines(250, lines)
	return true
}

// startTLS runs STARTTLS (RFC 3207 §4): 220, the handshake, then a
// session from scratch. Input the client sent after the command is
// discarded (§4: the client must wait for the reply; anything buffered was
// sent in clear and must not be taken for encrypted commands).
func (c *Conn) startTLS(ctx context.Context, arg string) bool {
	switch {
	case arg != "":
		return !c.refuse(errNoArgs)
	case c.tlsState != nil:
		return !c.refuse(errAlreadyTLS)
	case c.cfg.TLS == nil:
		return !c.refuse(errNoTLS)
	}
	c.reply(220, "2.0.0", "Ready to start TLS")
	if c.flush() != nil {
		return false
	}
	if n := c.br.Buffered(); n > 0 {
		c.log().Info("input discarded after STARTTLS", "client", c.RemoteAddr().String(), "bytes", n)
	}
	if !c.handshake(ctx, tls.Server(c.raw, c.cfg.TLS)) {
		return false
	}
	c.br.Reset(connReader{c})
	c.bw.Reset(connWriter{c})
	if c.sess != nil {
		c.sess.Logout()
		c.sess = nil
	}
	c.helo, c.ehlo, c.authed = "", false, false
	c.hasMail, c.rcpts = false, 0
	return true
}
