package imapengine

import (
	"bufio"
	"compress/flate"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"pail/internal/imapwire"
)

// Backend opens sessions for users who log in.
type Backend interface {
	// Login checks a user name and password (from LOGIN or AUTHENTICATE
	// PLAIN) and opens the user's Session. An *Error is the reply (NO
	// [AUTHENTICATIONFAILED] for a wrong password); any other error is
	// logged and answered NO [UNAVAILABLE].
	Login(ctx context.Context, c *Conn, user, password string) (Session, error)
}

// Session is a logged-in user's mailboxes: the commands of the
// authenticated (RFC 9051 §6.3) and selected (§6.4) states. The engine
// calls it from one goroutine at a time. A method writes its untagged
// responses with Conn.Writer and returns nil for OK, an *Error for NO or
// BAD, or another error, which is logged and answered NO [SERVERBUG].
// Mailbox names are decoded (UTF-8) and valid.
type Session interface {
	// Select opens a mailbox (SELECT, or EXAMINE when readOnly) and
	// writes FLAGS, EXISTS, the OK [UIDVALIDITY] and the rest (RFC 9051
	// §6.3.2). On an error no mailbox is selected.
	Select(ctx context.Context, mailbox string, readOnly bool) error
	// Unselect leaves the selected mailbox; CLOSE first expunges it
	// silently when expunge is set (RFC 9051 §6.4.1, RFC 3691).
	Unselect(ctx context.Context, expunge bool) error
	// Create makes a mailbox; the code, if any, goes in the tagged OK
	// ([MAILBOXID], RFC 8474 §4.1).
	Create(ctx context.Context, a *imapwire.CreateArgs) (*imapwire.Code, error)
	Delete(ctx context.Context, mailbox string) error
	Rename(ctx context.Context, from, to string) error
	Subscribe(ctx context.Context, mailbox string, on bool) error
	// List answers LIST and LSUB (a.Lsub); LIST "" "" the engine answers.
	List(ctx context.Context, a *imapwire.ListArgs) error
	Status(ctx context.Context, a *imapwire.StatusArgs) error
	// Append stores the messages of APPEND, whose bodies are the writers
	// the Session's MessageSink returned (a *bytes.Buffer if it has none);
	// the code, if any, goes in the tagged OK ([APPENDUID], RFC 4315).
	Append(ctx context.Context, a *imapwire.AppendArgs) (*imapwire.Code, error)

	// Exists is the number of messages the client has been told the
	// selected mailbox holds, for the check of sequence numbers.
	Exists() uint32
	Expunge(ctx context.Context, uids *imapwire.SeqSet) error
	Search(ctx context.Context, uid bool, a *imapwire.SearchArgs) error
	Fetch(ctx context.Context, uid bool, a *imapwire.FetchArgs) error
	// Store answers STORE; the code, if any, goes in the tagged OK
	// ([MODIFIED] for UNCHANGEDSINCE, RFC 7162 §3.1.3).
	Store(ctx context.Context, uid bool, a *imapwire.StoreArgs) (*imapwire.Code, error)
	// Copy answers COPY and, with move, MOVE (RFC 6851); the code goes in
	// the tagged OK ([COPYUID], RFC 4315; MOVE sends its own untagged).
	Copy(ctx context.Context, uid, move bool, a *imapwire.CopyArgs) (*imapwire.Code, error)

	// Poll writes what changed since the client was last told (EXISTS,
	// FETCH FLAGS, and EXPUNGE when allowExpunge: RFC 9051 §7.5.1 forbids
	// it during FETCH, STORE and SEARCH). It is called after every command
	// of the authenticated and selected states, and in IDLE.
	Poll(ctx context.Context, allowExpunge bool) error
	// Watch is called when the client starts IDLE, or when NOTIFY
	// (Notifier) needs it between commands: from then until stop is
	// called, the Session calls changed whenever something may have
	// changed (the engine then calls Poll). changed may be called from
	// any goroutine and never blocks; the Session should not park a
	// goroutine of its own for it, so that a connection in IDLE costs at
	// most one goroutine, the engine's, which waits for the client's
	// DONE (none while the session hibernates, see hibernate.go).
	Watch(changed func()) (stop func())
	// Logout ends the session (LOGOUT, or the connection going away).
	Logout()
}

// MessageSink is an optional interface of a Session: where an APPEND
// message's bytes go while the command is read (a spool file), so that a
// message never has to sit in memory. A writer with a Discard method is
// discarded when the command fails after it was handed out.
type MessageSink interface {
	MessageSink(info imapwire.LiteralInfo) (io.Writer, error)
}

// AppendChecker is an optional interface of a Session: it may refuse an
// APPEND message (or CATENATE TEXT part) before the client sends it,
// with total the octets of the command's messages with this one
// (MULTIAPPEND, RFC 3502), such as NO [OVERQUOTA] (RFC 9208 §4.1.1). It is
// asked for synchronizing literals only: a non-synchronizing one is on its
// way already, and Append refuses it once it is read.
type AppendChecker interface {
	CheckAppend(ctx context.Context, total int64) error
}

// Error is a command's NO or BAD reply.
type Error struct {
	Status string // imapwire.NO or imapwire.BAD
	Code   string // response code ("TRYCREATE"), or ""
	Arg    string // the code's argument, encoded ("BADURL"'s URL, RFC 4469 §4.1), or ""
	Text   string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Code != "" && e.Arg != "" {
		return "imapengine: " + e.Status + " [" + e.Code + " " + e.Arg + "] " + e.Text
	}
	if e.Code != "" {
		return "imapengine: " + e.Status + " [" + e.Code + "] " + e.Text
	}
	return "imapengine: " + e.Status + " " + e.Text
}

// No returns a NO reply with a response code (or "") and text.
func No(code, text string) *Error { return &Error{Status: imapwire.NO, Code: code, Text: text} }

// Bad returns a BAD reply with a response code (or "") and text.
func Bad(code, text string) *Error { return &Error{Status: imapwire.BAD, Code: code, Text: text} }

// ErrAuthFailed is the reply to a wrong user name or password (RFC 5530).
var ErrAuthFailed = No("AUTHENTICATIONFAILED", "Invalid credentials")

// Config configures the engine.
type Config struct {
	// Hostname goes in the greeting.
	Hostname string
	// TLS, if set, is offered with STARTTLS (RFC 9051 §6.2.1) on
	// connections that are not over TLS already.
	TLS *tls.Config
	// Caps are the capabilities the Session adds to the engine's own
	// (IMAP4rev1, IMAP4rev2, STARTTLS, AUTH=PLAIN or LOGINDISABLED,
	// SASL-IR, LITERAL+, ENABLE, IDLE, NAMESPACE, UNSELECT, ID,
	// COMPRESS=DEFLATE, and UNAUTHENTICATE after login).
	Caps []string
	// AppendLimit bounds an APPEND message after login (RFC 7889).
	AppendLimit int64
	// AppendTotal bounds the messages of one APPEND together
	// (MULTIAPPEND, RFC 3502, sets no bound); zero means
	// appendTotalFactor times AppendLimit.
	AppendTotal int64
	// Delimiter is the hierarchy separator (NAMESPACE, LIST "" "").
	Delimiter byte
	// Trusted says whether a client address may log in without TLS;
	// nil means loopback only (RFC 9051 §11.1, RFC 8314).
	Trusted func(netip.Addr) bool
	Log     *slog.Logger
	// NoHibernate keeps every waiting session on a goroutine of its
	// own; by default a logged-in session over a plain connection
	// hibernates in IDLE and after hibernateAfter between commands, on
	// Linux (see hibernate.go).
	NoHibernate bool
	// Debug, if set, receives the raw protocol traffic (passwords
	// included: tests only).
	Debug io.Writer

	// authTimeout and hibernateAfter, for tests, replace the constants
	// of those names.
	authTimeout, hibernateAfter time.Duration
}

// Timeouts and bounds, with their reasons.
const (
	// authTimeout: RFC 9051 §5.4, an inactivity autologout timer after
	// authentication lasts at least 30 minutes. It also bounds IDLE (RFC
	// 2177 §3: clients re-issue IDLE at least every 29 minutes).
	authTimeout = 31 * time.Minute
	// preAuthTimeout: a client that has not logged in has nothing to
	// wait for; a minute is what a human typing a password needs at most
	// from a real client, which sends LOGIN right after the greeting.
	preAuthTimeout = time.Minute
	// writeTimeout bounds each write to a client that stops reading.
	writeTimeout = 2 * time.Minute
	// handshakeTimeout bounds a STARTTLS handshake.
	handshakeTimeout = 30 * time.Second
	// byeTimeout bounds the BYE written to a connection being closed.
	byeTimeout = 5 * time.Second
	// maxBadCommands: BAD replies in a row that end the session (a
	// client that is not speaking IMAP, or is probing); Dovecot's bound
	// is 20 as well.
	maxBadCommands = 20
	// readBufSize is the read buffer of a busy connection; it is given
	// back between commands.
	readBufSize = 8 << 10
	// writeBufSize is how much output is kept before it is sent: a
	// command's responses go out in writes of this size.
	writeBufSize = 32 << 10
	// appendTotalFactor: the messages of one MULTIAPPEND are spooled to
	// disk and held until the command commits, so together they are
	// bounded by this many messages of the largest size.
	appendTotalFactor = 16
	// preLoginBound bounds a line, a command and a literal before login:
	// LOGIN's two strings and an AUTHENTICATE line need far less.
	preLoginBound = 8 << 10
)

// Server runs IMAP sessions on connections its caller accepts (and
// admits: connection caps are the caller's).
type Server struct {
	cfg     Config
	backend Backend
	ctx     context.Context // ends when the server closes
	stop    context.CancelFunc

	mu       sync.Mutex
	conns    map[*Conn]struct{}
	draining bool
	gone     chan struct{} // signalled when a connection ends

	readers, writers sync.Pool
	deflaters        sync.Pool // compressors for COMPRESS (see deflateState)

	poll   atomic.Pointer[poller] // of hibernated sessions, started on first use
	hibOff atomic.Bool            // sessions do not hibernate (Config.NoHibernate, or no poller)
}

// New returns a Server.
func New(cfg Config, backend Backend) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Trusted == nil {
		cfg.Trusted = netip.Addr.IsLoopback
	}
	if cfg.Delimiter == 0 {
		cfg.Delimiter = '/'
	}
	if cfg.AppendTotal <= 0 {
		cfg.AppendTotal = appendTotalFactor * cfg.AppendLimit
	}
	if cfg.authTimeout <= 0 {
		cfg.authTimeout = authTimeout
	}
	if cfg.hibernateAfter <= 0 {
		cfg.hibernateAfter = hibernateAfter
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, backend: backend, ctx: ctx, stop: stop,
		conns: map[*Conn]struct{}{}, gone: make(chan struct{}, 1)}
	s.hibOff.Store(cfg.NoHibernate)
	s.readers.New = func() any { return bufio.NewReaderSize(nil, readBufSize) }
	s.writers.New = func() any { return bufio.NewWriterSize(nil, writeBufSize) }
	s.deflaters.New = func() any {
		fw, err := flate.NewWriter(nil, deflateLevel)
		if err != nil {
			panic(err) // only for a level out of range
		}
		return fw
	}
	return s
}

// errShutdown ends a session that the server is shutting down.
var errShutdown = errors.New("imapengine: server shutting down")

// ServeConn runs one IMAP session on nc until it ends; isTLS says nc is
// already a TLS connection (implicit TLS, RFC 8314). It closes nc. The
// calling goroutine waits for the end: Start does not.
func (s *Server) ServeConn(nc net.Conn, isTLS bool) {
	done := make(chan struct{})
	s.Start(nc, isTLS, func() { close(done) })
	<-done
}

// Start runs one IMAP session on nc, as ServeConn does, on goroutines of
// its own, and returns at once; done, if not nil, is called when the
// session has ended and nc is closed. A session that hibernates has no
// goroutine at all until its client or its mailbox wakes it.
func (s *Server) Start(nc net.Conn, isTLS bool, done func()) {
	c := newConn(s, nc, isTLS)
	c.done = done
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		go func() {
			c.bye("pail is shutting down")
			nc.Close()
			if done != nil {
				done()
			}
		}()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.loop(true)
}

// forget takes an ended connection out of the server's set.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	select {
	case s.gone <- struct{}{}:
	default:
	}
}

// Shutdown tells every session BYE (RFC 9051 §7.1.5) once its command in
// progress is answered, and waits until they are gone or ctx ends; then
// it cuts what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for c := range s.conns {
		c.interrupt()
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-s.gone:
			continue
		case <-ctx.Done():
		}
		break
	}
	return s.Close()
}

// Close cuts every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.draining = true
	for c := range s.conns {
		c.cut()
	}
	s.mu.Unlock()
	s.stop()
	if p := s.poll.Load(); p != nil {
		p.close()
	}
	return nil
}

// Connections returns the number of sessions running.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
