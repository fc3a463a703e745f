// Package smtpd is pail's SMTP server: the MX role on port 25 that
// receives mail for local domains (RFC 5321), and the submission role
// (RFC 6409) on ports 587 (STARTTLS) and 465 (implicit TLS, RFC 8314)
// where authenticated users send mail anywhere.
//
// The protocol itself (command loop, parsing, replies, DATA and BDAT,
// STARTTLS, SASL) is package smtpserver's; smtpd is the policy on top:
// admission control (total and per-address connection caps, rates,
// pre-greeting talkers), the read timeouts, the HTTP command guard,
// recipient policy (no open relay), the inbound checks, content checks
// (bare LF, NUL) and graceful shutdown in which sessions mid-message
// finish and idle ones are told 421.
package smtpd

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
	"pail/internal/delivery"
	"pail/internal/dnsbl"
	"pail/internal/maillog"
	"pail/internal/ratelimit"
	"pail/internal/smtpserver"
	"pail/internal/store"
	"pail/internal/verify"
)

// Role says which job a listener does.
type Role int

// The roles.
const (
	// RoleMX receives mail for local domains from anyone (port 25).
	RoleMX Role = iota
	// RoleSubmission accepts mail from authenticated users for anywhere
	// (ports 587 and 465).
	RoleSubmission
)

// writeTimeout bounds each reply write, so a client that stops reading
// cannot hold a session forever.
const writeTimeout = time.Minute

// maxErrors ends a session after this many rejected commands (chasquid
// and Postfix do the same), so one client cannot probe addresses forever.
// The session counts its refusals (fail), the protocol engine its own
// (syntax, sequence, unknown commands), each up to maxErrors.
const maxErrors = 20

// Config configures one SMTP service.
type Config struct {
	Hostname            string
	Role                Role
	ImplicitTLS         bool        // TLS from the first byte (port 465)
	TLS                 *tls.Config // nil: no STARTTLS
	MaxMessageBytes     int64
	MaxRecipients       int
	MaxConnections      int
	MaxConnectionsPerIP int
	ConnectionRatePerIP int // new connections per minute per address; 0: no limit
	CommandRatePerIP    int // MAIL, RCPT and AUTH per minute per address; 0: no limit
	// RateLimitLoopback applies the rate limits to loopback clients too,
	// which are otherwise exempt; for tests.
	RateLimitLoopback bool
	// DNSBLScore records a blocklist listing of the client
	// (delivery.Trace.DNSBL) for the inbound verdict instead of refusing
	// its mail.
	DNSBLScore bool
	// CheckLoopback applies the blocklists and greylisting to loopback
	// clients too, which are otherwise exempt (they are this machine);
	// for tests.
	CheckLoopback  bool
	CommandTimeout time.Duration
	DataTimeout    time.Duration
	GreetDelay     time.Duration
}

// Router resolves recipients.
type Router interface {
	Resolve(ctx context.Context, rcpt string) (delivery.Route, error)
}

// Deliverer stores accepted messages.
type Deliverer interface {
	NewMessage(from string, rcpts []delivery.Recipient, tr delivery.Trace) (*delivery.Message, error)
}

// Authenticator checks logins.
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error)
}

// SenderPolicy says whether an authenticated account may use an envelope
// sender address.
type SenderPolicy interface {
	MaySend(ctx context.Context, acct store.Account, from string) (bool, error)
}

// Blocklist looks client addresses up in DNS blocklists (*dnsbl.Checker);
// it returns within a short deadline whatever the lists do.
type Blocklist interface {
	Check(ctx context.Context, ip netip.Addr) dnsbl.Result
}

// Greylister decides whether a (client, sender, recipient) triple may
// pass yet, recording the contact (*greylist.Greylist).
type Greylister interface {
	Check(ctx context.Context, ip netip.Addr, from, rcpt string) (bool, error)
}

// Judge decides at the end of DATA, once the content is spooled and
// before it is committed, what becomes of a message: the inbound checks
// and the judges behind them (*verify.Pipeline). The Decision's fields
// are prepended to the stored copy, its spans left out, and its action
// taken: deliver, file in Junk, or refuse with its reply. Start, called
// when a transaction's first recipient is accepted, begins the checks
// that need only the envelope (nil: none); the session stops them when
// the transaction ends.
type Judge interface {
	Start(ctx context.Context, ip netip.Addr, helo, mailFrom string) *verify.Early
	Decide(ctx context.Context, m *verify.Message) verify.Decision
}

var _ Judge = (*verify.Pipeline)(nil)

// Deps are the services an SMTP server uses.
type Deps struct {
	Router    Router
	Deliverer Deliverer
	Auth      Authenticator // needed for RoleSubmission
	Senders   SenderPolicy  // needed for RoleSubmission
	// Blocklist and Greylist, when set, check the clients of the MX
	// role (never authenticated sessions, nor submission).
	Blocklist Blocklist
	Greylist  Greylister
	// Judge, when set, judges every message before it is committed.
	Judge   Judge
	Log     *slog.Logger
	MailLog *maillog.Logger
}

// Server is one SMTP service.
type Server struct {
	cfg   Config
	deps  Deps
	proto smtpserver.Config
	ctx   context.Context // ends when the server closes for good
	stop  context.CancelFunc

	draining atomic.Bool
	mu       sync.Mutex
	conns    map[*conn]struct{} // for Shutdown to wake idle sessions
	lns      []net.Listener
	sessions sync.WaitGroup // running connections; Add under mu while not draining
	bufs     sync.Pool      // *[]byte of contentBufSize, for copyContent

	admitter *admit.Admitter
	cmdRate  *ratelimit.Limiter
}

// stressTimeout replaces CommandTimeout for sessions when more than half of
// MaxConnections are in use, so that clients that hold connections without
// sending mail make room for those that do (Postfix's smtpd_timeout under
// stress is 10s).
const stressTimeout = 10 * time.Second

// contentBufSize is the block in which message content is read and
// written to the spool.
const contentBufSize = 32 << 10

// New returns a server; Serve starts it.
func New(cfg Config, deps Deps) *Server {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	// Both STARTTLS and implicit TLS refuse a browser's handshake.
	cfg.TLS = refuseHTTPALPN(cfg.TLS)
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, deps: deps, ctx: ctx, stop: stop, conns: map[*conn]struct{}{}}
	s.bufs.New = func() any { b := make([]byte, contentBufSize); return &b }
	s.admitter = admit.New(admit.Limits{
		MaxConnections:      cfg.MaxConnections,
		MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
		RatePerIP:           cfg.ConnectionRatePerIP,
		RateLimitLoopback:   cfg.RateLimitLoopback,
	})
	s.cmdRate = &ratelimit.Limiter{Rate: float64(cfg.CommandRatePerIP), Per: time.Minute, LimitLoopback: cfg.RateLimitLoopback}
	s.proto = smtpserver.Config{
		Hostname:        cfg.Hostname,
		TLS:             cfg.TLS,
		MaxMessageBytes: cfg.MaxMessageBytes,
		MaxRecipients:   cfg.MaxRecipients,
		MaxErrors:       maxErrors,
		ReadTimeout:     s.readTimeout,
		WriteTimeout:    writeTimeout,
		Draining:        s.draining.Load,
		Guard:           s.guard,
		Log:             deps.Log,
	}
	if cfg.ImplicitTLS {
		// The connection is TLS from the first byte: no STARTTLS (RFC
		// 8314 §3.3).
		s.proto.TLS = nil
	}
	return s
}

// Serve accepts connections on ln until Shutdown or Close. It returns nil
// after a shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	return admit.Serve("smtpd", ln, s.draining.Load, func(nc net.Conn) { go s.admit(nc) })
}

// readTimeout is the deadline of each read: DataTimeout while a message
// streams, else CommandTimeout, shortened under stress (RFC 5321 §4.5.3.2).
func (s *Server) readTimeout(data bool) time.Duration {
	switch {
	case data:
		return s.cfg.DataTimeout
	case s.stressed():
		return min(s.cfg.CommandTimeout, stressTimeout)
	}
	return s.cfg.CommandTimeout
}

// admit applies the connection caps and the pre-greeting check, then runs
// the session.
func (s *Server) admit(nc net.Conn) {
	ip := admit.RemoteIP(nc.RemoteAddr())
	release, refused := s.admitter.Admit(ip)
	switch refused {
	case admit.TooFast:
		s.reject(nc, "421 4.7.0 "+s.cfg.Hostname+" Too many connections from your address, slow down\r\n")
	case admit.TooMany:
		// RFC 5321 §3.1: a server may answer 421 at connection time.
		s.reject(nc, "421 4.7.0 "+s.cfg.Hostname+" Too many connections, try again later\r\n")
	}
	if refused != "" {
		s.deps.MailLog.Log(maillog.Rejected, "client", ip.String(), "reason", refused)
		return
	}
	c := &conn{srv: s, remoteAddr: nc.RemoteAddr()}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		nc.Close()
		release()
		return
	}
	s.conns[c] = struct{}{}
	s.sessions.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		release()
		s.sessions.Done()
	}()
	if s.cfg.GreetDelay > 0 && !s.cfg.ImplicitTLS {
		nc.SetReadDeadline(time.Now().Add(s.cfg.GreetDelay))
		var b [1]byte
		n, err := nc.Read(b[:])
		if n > 0 || !isTimeout(err) {
			if n > 0 {
				// RFC 5321 §4.3.1: the client waits for the greeting.
				s.reject(nc, "554 5.5.1 "+s.cfg.Hostname+" Protocol error: talking before the greeting\r\n")
				s.deps.MailLog.Log(maillog.Rejected, "client", ip.String(), "reason", "pre-greeting traffic")
			}
			nc.Close()
			return
		}
		nc.SetReadDeadline(time.Time{})
	}
	if s.cfg.ImplicitTLS {
		nc = tls.Server(nc, s.cfg.TLS)
	}
	s.mu.Lock()
	c.pc = smtpserver.NewConn(nc, &s.proto, func(pc *smtpserver.Conn) (smtpserver.Session, error) { return s.newSession(c), nil })
	s.mu.Unlock()
	c.pc.Serve(s.ctx)
}

func (s *Server) reject(nc net.Conn, reply string) {
	if s.cfg.ImplicitTLS {
		nc.Close()
		return
	}
	nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, reply)
	nc.Close()
}

// Shutdown stops accepting, tells idle sessions 421, lets sessions that are
// receiving a message finish, and returns when all are gone or ctx ends (then
// the rest are cut off).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		if c.pc != nil {
			c.pc.Wake()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.Close()
		<-done
	}
	s.stop()
	return nil
}

// Close cuts every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.draining.Store(true)
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		if c.pc != nil {
			c.pc.Close()
		}
	}
	s.mu.Unlock()
	s.stop()
	return nil
}

// Connections returns the number of open sessions.
func (s *Server) Connections() int { return s.admitter.Open() }

// stressed reports whether more than half of the connection slots are
// taken.
func (s *Server) stressed() bool { return s.admitter.Stressed() }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
