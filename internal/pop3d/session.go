package pop3d

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"pail/internal/store"
)

// maxErrors ends a session after this many -ERR replies (chasquid and
// Postfix do the same for SMTP), so that one connection cannot probe or
// guess forever.
const maxErrors = 20

// state is a POP3 session state (RFC 1939 §3). The UPDATE state lives only
// inside QUIT and ends the session.
type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// replyError is a -ERR reply: an optional RFC 2449 §8 response code and a
// human-readable text. The session loop is the one place that writes it.
type replyError struct {
	code   string // "IN-USE", "AUTH", "SYS/TEMP", or ""
	text   string
	hangUp bool // close the connection after the reply
}

func (e *replyError) Error() string {
	if e.code == "" {
		return e.text
	}
	return "[" + e.code + "] " + e.text
}

// errf returns a -ERR reply without a response code.
func errf(format string, args ...any) *replyError {
	return &replyError{text: fmt.Sprintf(format, args...)}
}

// Replies used in several places.
var (
	// RFC 3206 §4: [SYS/TEMP] is a temporary failure of the server.
	errTemporary = &replyError{code: "SYS/TEMP", text: "Temporary server error, try again later"}
	// RFC 3206 §5: [AUTH] is a problem with the credentials. The text
	// never says whether the account exists.
	errAuthFailed = &replyError{code: "AUTH", text: "Authentication failed"}
	errLimited    = &replyError{code: "SYS/TEMP", text: "Too many failed logins, try again later"}
	// RFC 2449 §8.1.1: [IN-USE] means another session holds the maildrop.
	errInUse     = &replyError{code: "IN-USE", text: "Mailbox is locked by another POP3 session"}
	errPlaintext = &replyError{text: "Plaintext authentication disallowed on non-secure connections, use STLS"}
	errNoTLS     = &replyError{text: "Plaintext authentication disallowed on non-secure connections"}
	errTooMany   = &replyError{text: "Too many errors, closing connection", hangUp: true}
	errPanic     = &replyError{code: "SYS/TEMP", text: "Internal server error, closing connection", hangUp: true}
	errLineLong  = errf("Command line too long (RFC 2449: at most 255 octets)")
	errState     = errf("Command not valid in this state")
)

// errHangUp ends the session without a reply: the connection cannot carry
// one (a multi-line response broke off, a TLS handshake failed) or the
// session has said goodbye.
var errHangUp = errors.New("pop3d: hang up")

// session is one POP3 connection.
type session struct {
	srv *Server
	id  uint64
	log *slog.Logger
	ip  netip.Addr
	raw *deadlineConn // the TCP connection, below TLS
	r   *bufio.Reader // from raw or its TLS layer
	w   *bufio.Writer
	tls bool // TLS is established

	state  state
	errors int
	user   string // from USER, waiting for PASS

	// Set on entering the TRANSACTION state.
	account store.Account
	lock    maildropLock // held from login to the session's end
	// stopWatch stops watching a shared lock for its loss.
	stopWatch func() bool
	mailbox   store.Mailbox
	msgs      []entry
}

// entry is one message of the maildrop snapshot.
type entry struct {
	store.Message
	deleted bool
}

func newSession(srv *Server, nc net.Conn, ip netip.Addr) *session {
	id := srv.nextID.Add(1)
	raw := &deadlineConn{Conn: nc, timeout: srv.cfg.WriteTimeout}
	return &session{
		srv: srv,
		id:  id,
		log: srv.deps.Log.With("conn", id, "client", ip.String()),
		ip:  ip,
		raw: raw,
		r:   bufio.NewReaderSize(raw, 4096),
		w:   bufio.NewWriterSize(raw, 32<<10),
	}
}

// serve runs the session until it ends, then releases the maildrop lock
// and closes the connection. Nothing is removed unless QUIT said so.
func (s *session) serve() {
	defer func() {
		s.releaseLock()
		s.raw.Close()
		s.log.Debug("pop3 session ended")
	}()
	s.log.Debug("pop3 session started")
	if s.srv.cfg.ImplicitTLS {
		if err := s.startTLS(); err != nil {
			s.log.Debug("pop3s handshake failed", "err", err)
			return
		}
	}
	// RFC 1939 §4: the greeting. No APOP timestamp: APOP is not offered.
	s.reply("+OK " + s.srv.cfg.Hostname + " POP3 server ready")
	for {
		if err := s.flushIfIdle(); err != nil {
			return
		}
		line, err := s.readCommand()
		switch {
		case errors.Is(err, errLineLong):
			if !s.fail(errLineLong) {
				return
			}
			continue
		case err != nil:
			// EOF, a dropped connection, the autologout timer or a
			// shutdown. RFC 1939 §3: when the timer expires the server
			// closes without a response and without entering UPDATE.
			s.w.Flush()
			return
		}
		cmd, err := parseCommand(line)
		if err != nil {
			if !s.fail(errf("%s", capitalize(err.Error()))) {
				return
			}
			continue
		}
		err = s.exec(cmd)
		if err == nil {
			continue
		}
		var re *replyError
		if !errors.As(err, &re) {
			if !errors.Is(err, errHangUp) {
				s.log.Error("pop3 command", "cmd", cmd.name, "err", err)
			}
			s.w.Flush()
			return
		}
		if !s.fail(re) {
			return
		}
	}
}

// exec runs one command, turning a panic into a -ERR that ends the session.
func (s *session) exec(cmd command) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("pop3 panic", "cmd", cmd.name, "panic", p, "stack", string(debug.Stack()))
			err = errPanic
		}
	}()
	h, ok := handlers[cmd.name]
	if !ok {
		return errf("Unknown command %s", cmd.name)
	}
	if !h.states[s.state] {
		return errState
	}
	if len(cmd.args) < h.minArgs || h.maxArgs >= 0 && len(cmd.args) > h.maxArgs {
		return errf("Wrong number of arguments for %s", cmd.name)
	}
	return h.fn(s, cmd)
}

// fail writes a -ERR reply and counts it. It reports whether the session
// goes on.
func (s *session) fail(re *replyError) bool {
	s.errors++
	if s.errors >= maxErrors && !re.hangUp {
		re = errTooMany
	}
	s.reply("-ERR " + re.Error())
	if re.hangUp {
		s.w.Flush()
		return false
	}
	return true
}

// readCommand reads the next command line, waiting at most the idle
// timeout. It returns errLineLong for a line over maxCommandLine octets,
// which it has consumed.
func (s *session) readCommand() (string, error) {
	s.raw.SetReadDeadline(time.Now().Add(s.srv.cfg.IdleTimeout))
	// After the deadline is set: Shutdown drains by setting the deadline
	// to now, and one of the two orders catches it.
	if s.srv.group.Draining() {
		return "", net.ErrClosed
	}
	return s.readLine(maxCommandLine)
}

// readLine reads a line of at most limit octets including its CRLF (a
// bare LF is accepted too) and returns it without the line ending. A longer
// line is read and dropped, up to maxDiscard octets, and reported as
// errLineLong; past maxDiscard the connection is given up. Nothing is
// buffered beyond the reader's fixed buffer.
func (s *session) readLine(limit int) (string, error) {
	chunk, err := s.r.ReadSlice('\n')
	if err == nil {
		if len(chunk) > limit {
			return "", errLineLong
		}
		return string(bytes.TrimSuffix(bytes.TrimSuffix(chunk, []byte("\n")), []byte("\r"))), nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return "", err
	}
	for discarded := len(chunk); discarded <= maxDiscard; {
		chunk, err = s.r.ReadSlice('\n')
		discarded += len(chunk)
		if err == nil {
			return "", errLineLong
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	return "", fmt.Errorf("pop3d: line longer than %d octets", maxDiscard)
}

// reply writes one response line. Write errors stick in the writer and
// end the session at the next flush.
func (s *session) reply(line string) {
	s.w.WriteString(line)
	s.w.WriteString("\r\n")
}

// ok writes a +OK response line with an optional text.
func (s *session) ok(text string) {
	if text == "" {
		s.reply("+OK")
		return
	}
	s.reply("+OK " + text)
}

// flushIfIdle sends the buffered responses unless another complete
// command is already waiting: RFC 2449 §6.6 PIPELINING lets a client send
// several commands at once, and their responses then go out together, in
// order.
func (s *session) flushIfIdle() error {
	if n := s.r.Buffered(); n > 0 {
		if b, _ := s.r.Peek(n); bytes.IndexByte(b, '\n') >= 0 {
			return nil
		}
	}
	return s.w.Flush()
}

// startTLS runs the server side of a TLS handshake on the raw connection
// and moves the reader and writer on top of it.
func (s *session) startTLS() error {
	tc := tls.Server(s.raw, s.srv.cfg.TLS)
	s.raw.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(s.srv.ctx); err != nil {
		return err
	}
	s.r.Reset(tc)
	s.w.Reset(tc)
	s.tls = true
	return nil
}

// plaintextAllowed reports whether the client may send a password: over
// TLS, or from loopback (RFC 2595 §2.1 and Dovecot's
// disable_plaintext_auth).
func (s *session) plaintextAllowed() bool {
	return s.tls || s.srv.plaintextOK(s.ip)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
