// Package pop3d is pail's POP3 server: it lets user agents download and
// delete the mail in their INBOX (RFC 1939), with the extension mechanism
// and response codes of RFC 2449 and RFC 3206, STLS (RFC 2595), SASL PLAIN
// (RFC 5034), and implicit TLS on the pop3s port (RFC 8314).
//
// The maildrop is the account's INBOX. A session takes a snapshot of it at
// login, so mail that arrives during a session appears in the next one, and
// holds an exclusive lock on it until the session ends, however it ends
// (RFC 1939 §8): a second login gets "-ERR [IN-USE]". The lock table is the
// process's (Locks) or, for a cluster, a database's (SharedLocks), so that
// the lock holds across nodes. DELE only marks a
// message; the marked messages are removed when the client sends QUIT in the
// TRANSACTION state, durably before the server answers +OK. A connection
// that drops or times out removes nothing. Unique ids (UIDL) are
// "UIDVALIDITY.UID" of the INBOX message: stable across sessions, the same
// message IMAP sees, and never reused.
//
// USER/PASS and AUTH PLAIN send the password in the clear, so they are
// offered only over TLS or to a loopback client, as Dovecot does. APOP is
// not offered: it needs the server to keep every password in plain text,
// and pail stores only hashes.
package pop3d

import (
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

	"pail/internal/admit"
	"pail/internal/maillog"
	"pail/internal/store"
)

// Timeouts, each with its reason.
const (
	// DefaultIdleTimeout closes a silent session. RFC 1939 §3: an
	// inactivity autologout timer must be at least 10 minutes.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultWriteTimeout bounds every write, so a client that stops
	// reading cannot hold a session (and its maildrop lock) forever.
	DefaultWriteTimeout = time.Minute
	// handshakeTimeout bounds a TLS handshake (STLS or pop3s).
	handshakeTimeout = 30 * time.Second
	// rejectTimeout bounds the one line written to a refused connection.
	rejectTimeout = 5 * time.Second
	// updateTimeout bounds the removal of deleted messages at QUIT.
	updateTimeout = time.Minute
	// closeGrace is how long Shutdown, past its deadline, waits for the
	// sessions it cut off to notice.
	closeGrace = time.Second
)

// Config configures one POP3 service (one listener).
type Config struct {
	// Hostname is named in the greeting.
	Hostname string
	// ImplicitTLS starts TLS before the greeting: the pop3s port
	// (RFC 8314 §3.3). It needs TLS.
	ImplicitTLS bool
	// TLS is the server's certificate configuration; nil offers neither
	// STLS nor implicit TLS.
	TLS *tls.Config
	// MaxConnections caps concurrent sessions; 0 means no cap.
	MaxConnections int
	// ConnectionRatePerIP caps new connections per minute from one client
	// address; 0 means no cap. Loopback is exempt.
	ConnectionRatePerIP int
	// MaxConnectionsPerIP caps concurrent sessions from one client
	// address; 0 means no cap.
	MaxConnectionsPerIP int
	// IdleTimeout closes a session that sends no command for this long;
	// 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the client; 0 means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// Store is the part of the store a POP3 session uses: all of it in the
// TRANSACTION and UPDATE states, on the account's INBOX.
type Store interface {
	// MailboxByName finds the account's INBOX at login.
	MailboxByName(ctx context.Context, accountID int64, name string) (store.Mailbox, error)
	// MessageSizes lists it in UID order (ID, UID and Size): the
	// snapshot taken at login.
	MessageSizes(ctx context.Context, mailboxID int64) ([]store.Message, error)
	// OpenBody opens a message's bytes (CRLF) for RETR and TOP; an error
	// matching fs.ErrNotExist means the message was removed meanwhile.
	OpenBody(ctx context.Context, m store.Message) (store.Body, error)
	// Expunge removes the messages marked by DELE at QUIT; it must be
	// durable when it returns nil, and remove nothing when it fails.
	Expunge(ctx context.Context, mailboxID int64, ids []int64) error
}

// Authenticator checks logins. It returns auth.ErrFailed for bad
// credentials, auth.ErrLimited after too many failures, or another error
// when it cannot decide; it slows failed attempts itself.
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error)
}

// Deps are the services a POP3 server uses.
type Deps struct {
	// Store holds the maildrops.
	Store Store
	// Auth checks USER/PASS and AUTH PLAIN logins.
	Auth Authenticator
	// Locks is the maildrop lock table. Servers that share one (the pop3
	// and pop3s listeners of one process, with a *Locks; the nodes of a
	// cluster, with a *SharedLocks each on one database) lock each other
	// out; nil gives the server a table of its own.
	Locks   Locker
	Log     *slog.Logger    // debug log; nil discards
	MailLog *maillog.Logger // auth failures; nil discards
}

// Server is one POP3 service. Serve may be called for several listeners.
type Server struct {
	cfg  Config
	deps Deps
	// ctx is given to store and auth calls; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	// plaintextOK reports whether a client at an address may send a
	// password without TLS; tests replace it.
	plaintextOK func(netip.Addr) bool

	nextID   atomic.Uint64
	group    *admit.Group // listeners and running sessions
	admitter *admit.Admitter
	// bufs holds RETR's read buffers (*[]byte of readBufSize), shared by
	// the sessions.
	bufs sync.Pool
}

// New returns a server; Serve starts it.
func New(cfg Config, deps Deps) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Locks == nil {
		deps.Locks = new(Locks)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:         cfg,
		deps:        deps,
		ctx:         ctx,
		cancel:      cancel,
		plaintextOK: netip.Addr.IsLoopback,
		group:       admit.NewGroup(cancel),
		admitter: admit.New(admit.Limits{
			MaxConnections:      cfg.MaxConnections,
			MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
			RatePerIP:           cfg.ConnectionRatePerIP,
		}),
		bufs: sync.Pool{New: func() any {
			b := make([]byte, readBufSize)
			return &b
		}},
	}
}

// Serve accepts connections on ln until Shutdown or Close, and then returns
// nil.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.ImplicitTLS && s.cfg.TLS == nil {
		ln.Close()
		return errors.New("pop3d: implicit TLS needs a TLS configuration")
	}
	return s.group.Serve("pop3d", ln, s.admit)
}

// admit applies the connection caps and starts a session.
func (s *Server) admit(nc net.Conn) {
	ip := admit.RemoteIP(nc.RemoteAddr())
	release, refused := s.admitter.Admit(ip)
	if refused != "" {
		s.deps.MailLog.Log(maillog.Rejected, "client", ip.String(), "proto", "POP3", "reason", refused)
		go s.reject(nc)
		return
	}
	sess := newSession(s, nc, ip)
	if !s.group.Go(sess.raw, func() {
		defer release()
		sess.serve()
	}) {
		release()
		nc.Close()
	}
}

// reject answers a connection over the caps and closes it. Under implicit
// TLS it just closes: a handshake would cost more than the refusal is
// worth.
func (s *Server) reject(nc net.Conn) {
	defer nc.Close()
	if s.cfg.ImplicitTLS {
		return
	}
	// RFC 3206 §4: [SYS/TEMP] tells the client to try again later.
	nc.SetWriteDeadline(time.Now().Add(rejectTimeout))
	io.WriteString(nc, "-ERR [SYS/TEMP] Too many connections, try again later\r\n")
}

// Shutdown stops accepting, closes idle sessions (they remove nothing),
// lets sessions in the middle of a command finish it (a QUIT completes its
// removals and its +OK), and returns when all are gone. If ctx ends first
// it cuts the rest off as Close does and returns ctx's error without
// waiting for them much longer.
func (s *Server) Shutdown(ctx context.Context) error { return s.group.Shutdown(ctx, closeGrace) }

// Close stops accepting and cuts every session at once. Nothing is removed
// from a maildrop unless its QUIT had already reached the store.
func (s *Server) Close() error { return s.group.Close() }

// deadlineConn gives every write a fresh deadline, so that a client that
// stops reading is cut off however large the response. It sits below TLS.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}

// Connections returns the number of open sessions.
func (s *Server) Connections() int { return s.group.Len() }
