// Package managesieve is the ManageSieve service (RFC 5804): users
// upload, list, activate, fetch, rename and delete their Sieve scripts
// over it, after STARTTLS and AUTHENTICATE PLAIN. Scripts are compiled by
// package sieve before they are stored, so an error is answered with its
// line and column and nothing broken is kept; the store holds them.
package managesieve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"pail/internal/admit"
	"pail/internal/maillog"
	"pail/internal/sieve"
	"pail/internal/store"
)

// Timeouts, each with its reason.
const (
	// DefaultIdleTimeout closes a silent session. RFC 5804 sets none;
	// IMAP's 30 minutes (RFC 9051 §5.4) is what ManageSieve clients,
	// written alongside IMAP ones, expect at least.
	DefaultIdleTimeout = 30 * time.Minute
	// literalTimeout bounds the reading of one literal (a script of at
	// most 1 MiB: minutes even on a slow link).
	literalTimeout = 5 * time.Minute
	// writeTimeout bounds each write to a client that stops reading.
	writeTimeout = time.Minute
	// rejectTimeout bounds the refusal of a connection over the caps.
	rejectTimeout = 5 * time.Second
	// closeGrace is how long Shutdown waits for cut-off sessions.
	closeGrace = 2 * time.Second
)

// Store is the part of the store ManageSieve uses: one account's scripts.
type Store interface {
	SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error)
	SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error)
	PutSieveScript(ctx context.Context, accountID int64, name string, text []byte, lim store.SieveLimits) error
	CheckSieveQuota(ctx context.Context, accountID int64, name string, size int, lim store.SieveLimits) error
	SetActiveSieveScript(ctx context.Context, accountID int64, name string) error
	DeleteSieveScript(ctx context.Context, accountID int64, name string) error
	RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error
}

// Authenticator checks a login (with the failed-login limits of package
// auth).
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error)
}

var _ Store = (*store.Store)(nil)

// Config configures a Server.
type Config struct {
	// Hostname is named in the greeting.
	Hostname string
	// TLS offers STARTTLS (RFC 5804 §2.2); nil offers none.
	TLS *tls.Config
	// Options compile uploaded scripts (their limits).
	Options sieve.Options
	// Limits bound each account's scripts (QUOTA/MAXSCRIPTS, MAXSIZE).
	Limits store.SieveLimits
	// MaxRedirects is announced as MAXREDIRECTS (§1.7).
	MaxRedirects int
	// MaxConnections, MaxConnectionsPerIP and ConnectionRatePerIP (per
	// minute) cap sessions; 0 means no cap. Loopback is exempt from the
	// rate.
	MaxConnections      int
	MaxConnectionsPerIP int
	ConnectionRatePerIP int
	// IdleTimeout closes a silent session; 0 is DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// Deps are the services a Server uses.
type Deps struct {
	Store   Store
	Auth    Authenticator
	Log     *slog.Logger    // debug log; nil discards
	MailLog *maillog.Logger // auth failures; nil discards
}

// Server is one ManageSieve service.
type Server struct {
	cfg    Config
	deps   Deps
	ctx    context.Context
	cancel context.CancelFunc
	// plaintextOK reports whether a client at an address may log in
	// without TLS (loopback, as for the other protocols); a field for
	// tests.
	plaintextOK func(netip.Addr) bool

	group    *admit.Group // listeners and running sessions
	admitter *admit.Admitter
}

// New returns a server; Serve starts it.
func New(cfg Config, deps Deps) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, deps: deps, ctx: ctx, cancel: cancel,
		plaintextOK: netip.Addr.IsLoopback,
		group:       admit.NewGroup(cancel),
		admitter: admit.New(admit.Limits{
			MaxConnections:      cfg.MaxConnections,
			MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
			RatePerIP:           cfg.ConnectionRatePerIP,
		}),
	}
}

// Serve accepts connections on ln until Shutdown or Close, then returns
// nil.
func (s *Server) Serve(ln net.Listener) error {
	return s.group.Serve("managesieve", ln, s.admit)
}

func (s *Server) admit(nc net.Conn) {
	ip := admit.RemoteIP(nc.RemoteAddr())
	release, refused := s.admitter.Admit(ip)
	if refused != "" {
		s.deps.MailLog.Log(maillog.Rejected, "client", ip.String(), "proto", "MANAGESIEVE", "reason", refused)
		go func() {
			defer nc.Close()
			nc.SetWriteDeadline(time.Now().Add(rejectTimeout))
			// RFC 5804 §1.3: BYE with TRYLATER.
			io.WriteString(nc, "BYE (TRYLATER) \"Too many connections, try again later\"\r\n")
		}()
		return
	}
	sess := newSession(s, nc, ip)
	if !s.group.Go(nc, func() {
		defer release()
		sess.serve()
	}) {
		release()
		nc.Close()
	}
}

// Shutdown stops accepting, ends idle sessions, lets a command in
// progress finish, and returns when all are gone (or cuts them off as
// Close does when ctx ends first).
func (s *Server) Shutdown(ctx context.Context) error { return s.group.Shutdown(ctx, closeGrace) }

// Close stops accepting and cuts every session.
func (s *Server) Close() error { return s.group.Close() }

// Connections returns the number of open sessions.
func (s *Server) Connections() int { return s.group.Len() }

// errHangUp ends a session without a reply.
var errHangUp = errors.New("managesieve: hang up")
