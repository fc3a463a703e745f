package imapd

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"pail/internal/admit"
	"pail/internal/maillog"
	"pail/internal/store"
)

// rejectWriteTimeout bounds the BYE written to a connection refused by the
// connection caps, so a client that does not read cannot hold the slot.
const rejectWriteTimeout = 5 * time.Second

// Server is one IMAP service. It runs three imapserver instances: two for
// cleartext connections that differ only in whether LOGIN is allowed
// without TLS (connections from loopback go to the one that allows it, all
// others to the one that requires STARTTLS first: RFC 9051 §11.1 / RFC
// 8314, no cleartext passwords on the network), and one for sessions over
// TLS, implicit or after STARTTLS. Each connection reaches its instance
// through a guard (guard.go), which is not a *tls.Conn, so the TLS
// instance allows LOGIN without looking for one.
type Server struct {
	cfg  Config
	deps Deps
	ctx  context.Context // ends when the server closes for good
	stop context.CancelFunc

	secure, loopback, overTLS       *imapserver.Server
	secureLn, loopbackLn, overTLSLn *chanListener

	draining  atomic.Bool
	mu        sync.Mutex
	lns       []net.Listener
	admitter  *admit.Admitter
	sessions  map[*session]struct{}
	sessDone  chan struct{} // signalled when a session ends
	startOnce sync.Once
	serving   sync.WaitGroup

	// trusted says whether a client address may log in without TLS;
	// loopback by default. Tests replace it.
	trusted func(netip.Addr) bool
}

// New returns a server; Serve starts it.
func New(cfg Config, deps Deps) *Server {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = store.DefaultWatchInterval
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, deps: deps, ctx: ctx, stop: stop,
		admitter: admit.New(admit.Limits{
			MaxConnections:      cfg.MaxConnections,
			MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
			RatePerIP:           cfg.ConnectionRatePerIP,
		}),
		sessions: map[*session]struct{}{},
		sessDone: make(chan struct{}, 1),
		trusted:  netip.Addr.IsLoopback,
	}
	s.secure = imapserver.New(s.options(false, false))
	s.loopback = imapserver.New(s.options(true, false))
	s.overTLS = imapserver.New(s.options(true, true))
	s.secureLn = newChanListener()
	s.loopbackLn = newChanListener()
	s.overTLSLn = newChanListener()
	return s
}

// caps are the capabilities pail offers beyond what the library adds on its
// own (STARTTLS, AUTH=PLAIN / LOGINDISABLED, IDLE, UNSELECT, ENABLE,
// LITERAL-, SASL-IR, APPENDLIMIT).
var caps = []imap.Cap{
	imap.CapIMAP4rev1, imap.CapIMAP4rev2,
	imap.CapNamespace,    // RFC 2342
	imap.CapUIDPlus,      // RFC 4315
	imap.CapMove,         // RFC 6851
	imap.CapESearch,      // RFC 4731
	imap.CapSearchRes,    // RFC 5182
	imap.CapListExtended, // RFC 5258
	imap.CapListStatus,   // RFC 5819
	imap.CapStatusSize,   // RFC 8438
	imap.CapBinary,       // RFC 3516
	imap.CapChildren,     // RFC 3348
	imap.CapSpecialUse,   // RFC 6154
	imap.CapCreateSpecialUse,
	imap.CapLiteralPlus, // RFC 7888
}

// options configures an instance; overTLS is the one for sessions already
// over TLS.
func (s *Server) options(insecureAuth, overTLS bool) *imapserver.Options {
	cs := imap.CapSet{}
	for _, c := range caps {
		cs[c] = struct{}{}
	}
	opts := &imapserver.Options{
		NewSession:   s.newSession,
		Caps:         cs,
		Logger:       slogLogger{s},
		InsecureAuth: insecureAuth,
		DebugWriter:  s.cfg.Debug,
	}
	if !s.cfg.ImplicitTLS && !overTLS {
		// go-imap then offers STARTTLS and LOGINDISABLED as it
		// should; the guard performs the STARTTLS (RFC 9051 §6.2.1).
		opts.TLSConfig = s.cfg.TLS
	}
	return opts
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
	s.startOnce.Do(func() {
		s.secureLn.addr, s.loopbackLn.addr, s.overTLSLn.addr = ln.Addr(), ln.Addr(), ln.Addr()
		s.serving.Add(4)
		go func() { defer s.serving.Done(); s.secure.Serve(s.secureLn) }()
		go func() { defer s.serving.Done(); s.loopback.Serve(s.loopbackLn) }()
		go func() { defer s.serving.Done(); s.overTLS.Serve(s.overTLSLn) }()
		go func() {
			defer s.serving.Done()
			if err := s.deps.Store.WatchChanges(s.ctx, s.cfg.WatchInterval); err != nil {
				s.deps.Log.Error("store watcher stopped", "err", err)
			}
		}()
	})
	return admit.Serve("imapd", ln, s.draining.Load, s.admit)
}

// admit applies the connection caps and hands the connection to the
// imapserver that matches its address.
func (s *Server) admit(nc net.Conn) {
	ip := admit.RemoteIP(nc.RemoteAddr())
	release, refused := s.admitter.Admit(ip)
	if refused != "" {
		go s.reject(nc)
		s.deps.MailLog.Log(maillog.Rejected, "client", ip.String(), "proto", "imap", "reason", refused)
		return
	}
	c := &conn{Conn: nc, release: release}
	if s.cfg.ImplicitTLS {
		s.handOver(newGuard(s, tls.Server(c, s.cfg.TLS), c, true))
		return
	}
	ln := s.secureLn
	if s.trusted(ip) {
		ln = s.loopbackLn
	}
	g := newGuard(s, c, c, false)
	select {
	case ln.conns <- g:
	case <-ln.closed:
		g.Close()
	}
}

// handOver gives a connection over TLS to the instance for TLS sessions.
func (s *Server) handOver(g *guard) {
	select {
	case s.overTLSLn.conns <- g:
	case <-s.overTLSLn.closed:
		g.Close()
	}
}

// appendLimit is the largest message APPEND takes (RFC 7889).
func (s *Server) appendLimit() int64 { return min(s.cfg.MaxMessageBytes, 1<<32-1) }

// reject refuses a connection over the caps. RFC 9051 §7.1.5: the server
// may greet with BYE and close.
func (s *Server) reject(nc net.Conn) {
	defer nc.Close()
	if s.cfg.ImplicitTLS {
		return
	}
	nc.SetWriteDeadline(time.Now().Add(rejectWriteTimeout))
	io.WriteString(nc, "* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
}

func (s *Server) addSession(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.sessions[sess] = struct{}{}
	return true
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	select {
	case s.sessDone <- struct{}{}:
	default:
	}
}

// Shutdown stops accepting, tells every session BYE (RFC 9051 §7.1.5) and
// waits until they are gone or ctx ends; then it cuts what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	for _, ln := range s.lns {
		ln.Close()
	}
	var sessions []*session
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		go sess.conn.Bye("pail is shutting down")
	}
	for {
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-s.sessDone:
			continue
		case <-ctx.Done():
		}
		break
	}
	return s.Close()
}

// Close cuts every connection at once.
func (s *Server) Close() error {
	s.draining.Store(true)
	s.mu.Lock()
	for _, ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	s.secureLn.Close()
	s.loopbackLn.Close()
	s.overTLSLn.Close()
	s.stop()
	// After this, Serve can no longer start the background goroutines.
	s.startOnce.Do(func() {})
	// The library's Close must not overlap its Serve starting up (its
	// WaitGroup would race), so wait for the accept loops to end first;
	// Close then only cuts the connections.
	s.serving.Wait()
	s.secure.Close()
	s.loopback.Close()
	s.overTLS.Close()
	return nil
}

// Connections returns the number of open connections.
func (s *Server) Connections() int { return s.admitter.Open() }
