package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"pail/internal/admit"
	"pail/internal/auth"
	"pail/internal/imapengine"
	"pail/internal/maillog"
	"pail/internal/store"
)

// rejectWriteTimeout bounds the BYE written to a connection refused by the
// connection caps, so a client that does not read cannot hold the slot.
const rejectWriteTimeout = 5 * time.Second

// Server is one IMAP service: admission in front of imapengine, which
// runs each session and calls back into this package for its mailboxes.
type Server struct {
	cfg  Config
	deps Deps
	ctx  context.Context // ends when the server closes for good
	stop context.CancelFunc
	eng  *imapengine.Server

	draining  atomic.Bool
	mu        sync.Mutex
	lns       []net.Listener
	admitter  *admit.Admitter
	startOnce sync.Once
	serving   sync.WaitGroup // the store watcher and the sessions

	// trusted says whether a client address may log in without TLS;
	// loopback by default. Tests replace it.
	trusted func(netip.Addr) bool
	// notifyMax bounds the mailboxes one round of NOTIFY reports on
	// (maxNotifyChanges; tests lower it).
	notifyMax int
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
		trusted:   netip.Addr.IsLoopback,
		notifyMax: maxNotifyChanges,
	}
	s.eng = s.newEngine()
	return s
}

// newEngine makes the protocol engine from the configuration.
func (s *Server) newEngine() *imapengine.Server {
	cfg := s.cfg
	ecfg := imapengine.Config{
		Hostname:    cfg.Hostname,
		Caps:        append(caps[:len(caps):len(caps)], "APPENDLIMIT="+strconv.FormatInt(s.appendLimit(), 10)),
		AppendLimit: s.appendLimit(),
		Delimiter:   delim,
		Trusted:     func(a netip.Addr) bool { return s.trusted(a) },
		Log:         s.deps.Log,
		Debug:       cfg.Debug,
	}
	if !cfg.ImplicitTLS {
		ecfg.TLS = cfg.TLS // STARTTLS (RFC 9051 §6.2.1)
	}
	return imapengine.New(ecfg, s)
}

// caps are the capabilities pail offers beyond the engine's own
// (IMAP4rev1, IMAP4rev2, STARTTLS, AUTH=PLAIN / LOGINDISABLED, SASL-IR,
// LITERAL+, ENABLE, IDLE, NAMESPACE, UNSELECT, ID, COMPRESS=DEFLATE) and
// APPENDLIMIT.
var caps = []string{
	"UIDPLUS",     // RFC 4315
	"MULTIAPPEND", // RFC 3502
	"CATENATE",    // RFC 4469
	"QUOTA",       // RFC 9208
	"QUOTA=RES-STORAGE",
	"MOVE",          // RFC 6851
	"ESEARCH",       // RFC 4731
	"SEARCHRES",     // RFC 5182
	"LIST-EXTENDED", // RFC 5258
	"LIST-STATUS",   // RFC 5819
	"STATUS=SIZE",   // RFC 8438
	"BINARY",        // RFC 3516
	"CHILDREN",      // RFC 3348
	"CONDSTORE",     // RFC 7162 §3.1
	"QRESYNC",       // RFC 7162 §3.2
	"SPECIAL-USE",   // RFC 6154
	"CREATE-SPECIAL-USE",
	"SAVEDATE",              // RFC 8514
	"OBJECTID",              // RFC 8474
	"PREVIEW",               // RFC 8970
	"WITHIN",                // RFC 5032
	"SORT",                  // RFC 5256
	"SORT=DISPLAY",          // RFC 5957
	"THREAD=ORDEREDSUBJECT", // RFC 5256
	"THREAD=REFERENCES",
	"ESORT",          // RFC 5267 §3
	"CONTEXT=SEARCH", // RFC 5267 §4 (context.go)
	"CONTEXT=SORT",
	"NOTIFY",      // RFC 5465
	"I18NLEVEL=1", // RFC 5255 §4: SEARCH and SORT by i;unicode-casemap (search.go)
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
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			// The watcher rides out a database that goes away; on any
			// other error it ends, and is started again a second later,
			// so that IDLE goes on hearing of other processes' and
			// nodes' changes.
			for s.ctx.Err() == nil {
				if err := s.deps.Store.WatchChanges(s.ctx, s.cfg.WatchInterval); err != nil && s.ctx.Err() == nil {
					s.deps.Log.Error("store watcher stopped; starting it again", "err", err)
				}
				select {
				case <-s.ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	})
	return admit.Serve("imapd", ln, s.draining.Load, s.admit)
}

// admit applies the connection caps and runs the session.
func (s *Server) admit(nc net.Conn) {
	ip := admit.RemoteIP(nc.RemoteAddr())
	release, refused := s.admitter.Admit(ip)
	if refused != "" {
		go s.reject(nc)
		s.deps.MailLog.Log(maillog.Rejected, "client", ip.String(), "proto", "imap", "reason", refused)
		return
	}
	s.serving.Add(1)
	// The session runs on the engine's goroutines, none while it
	// hibernates; done releases its place when it ends.
	done := func() {
		release()
		s.serving.Done()
	}
	if s.cfg.ImplicitTLS {
		s.eng.Start(tls.Server(nc, s.cfg.TLS), true, done)
		return
	}
	s.eng.Start(nc, false, done)
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

// Login checks a password through the authenticator, which slows and
// limits failures, and opens the user's session. The engine allows it
// only over TLS or from a trusted address (RFC 9051 §6.2.3).
func (s *Server) Login(ctx context.Context, c *imapengine.Conn, username, password string) (imapengine.Session, error) {
	ip := c.RemoteAddr().String()
	acct, err := s.deps.Auth.Authenticate(ctx, c.RemoteAddr(), username, password)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrLimited):
		s.deps.MailLog.Log(maillog.AuthFailed, "client", ip, "user", username, "proto", "imap", "reason", "limited")
		return nil, imapengine.No("UNAVAILABLE", "Too many failed logins, try again later")
	case errors.Is(err, auth.ErrFailed):
		s.deps.MailLog.Log(maillog.AuthFailed, "client", ip, "user", username, "proto", "imap")
		return nil, imapengine.ErrAuthFailed
	default:
		s.deps.Log.Error("auth", "err", err)
		return nil, errUnavailable
	}
	s.deps.Log.Debug("login", "user", acct.Address, "client", ip)
	return &session{srv: s, conn: c, ip: ip, acct: acct, sub: s.deps.Store.Subscribe(acct.ID)}, nil
}

// Shutdown stops accepting, tells every session BYE (RFC 9051 §7.1.5) and
// waits until they are gone or ctx ends; then it cuts what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	for _, ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	s.eng.Shutdown(ctx)
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
	s.eng.Close()
	s.stop()
	// After this, Serve can no longer start the watcher.
	s.startOnce.Do(func() {})
	s.serving.Wait()
	return nil
}

// Connections returns the number of open connections.
func (s *Server) Connections() int { return s.admitter.Open() }
