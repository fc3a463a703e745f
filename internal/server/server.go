// Package server wires pail's services together for `pail serve`: it opens
// the store, builds the router, deliverer and authenticator, starts every
// service named in the config on its listener, and stops them gracefully.
// It is the only package that knows every service.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pail/internal/acme"
	"pail/internal/address"
	"pail/internal/auth"
	"pail/internal/blobdb"
	"pail/internal/config"
	"pail/internal/delivery"
	"pail/internal/dkim"
	"pail/internal/dmarcrpt"
	"pail/internal/dnsd"
	"pail/internal/maillog"
	"pail/internal/metrics"
	"pail/internal/pop3d"
	"pail/internal/queue"
	"pail/internal/reporting"
	"pail/internal/resolve"
	"pail/internal/rspamd"
	"pail/internal/smtpd"
	"pail/internal/store"
	"pail/internal/tlsconf"
	"pail/internal/tlsrpt"
	"pail/internal/verify"
)

// Server is a running pail instance.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *store.Store
	mailLog *maillog.Logger
	closers []io.Closer

	queue     *queue.Queue // outgoing mail
	transport *transport   // what the queue delivers through
	pop3Locks pop3d.Locks  // one POP3 session per account across pop3 and pop3s

	services []service
	wg       sync.WaitGroup
	errs     chan error

	metrics  *metrics.Registry
	started  time.Time
	status   *http.Server // on the unix socket pail.sock
	statusLn net.Listener

	// What a reload (SIGHUP) can change while the server runs.
	domains atomic.Pointer[[]string]
	certs   *tlsconf.Certs
	router  *delivery.Router
	dns     *dnsd.Server               // the name server, when [dns] listen is set
	dnsCfg  atomic.Pointer[config.DNS] // the [dns] settings in force (the TLSA record, dane.go)

	resolver *resolve.Resolver // every DNS lookup: the [resolver] setting

	dkimKeys *dkim.Store // DKIM keys, data_dir/dkim or in blobs
	// blobs, with the store on PostgreSQL, is the state the nodes share
	// beside it: DKIM keys, ACME's cache and its lease; nil otherwise.
	blobs *blobdb.DB
	dkim  atomic.Pointer[config.DKIM] // the [dkim] settings in force

	acme         *acme.Manager                 // ACME certificates, when [acme] is enabled (acme.go)
	acmeStop     func()                        // ends acme.Run and waits for it
	mtastsCfg    atomic.Pointer[config.MTASTS] // the [mta_sts] settings in force
	tlsRecorder  *tlsrpt.Recorder              // outbound TLS outcomes (RFC 8460)
	tlsScheduler *tlsrpt.Scheduler             // the daily TLS reports
	dmarc        *dmarcrpt.Recorder            // DMARC results of inbound mail (RFC 7489 §7.2; dmarcrpt.go)
	dmarcSched   *reporting.Scheduler          // the daily DMARC reports, when [dmarc] reports is set

	rspamd      *rspamd.Client                  // [spam] rspamd, or nil (spam.go)
	learner     *rspamd.Learner                 // learns from Junk moves, or nil
	learnerStop func()                          // ends learner.Run and waits for it
	inbound     atomic.Pointer[verify.Pipeline] // the [inbound] judgement in force; nil: checks off
}

// service is one protocol server on its listener.
type service struct {
	name  string
	ln    net.Listener
	run   func(net.Listener) error
	stop  func(context.Context) error
	conns func() int // open connections, when the server counts them
}

// Options are the outside dependencies of a Server.
type Options struct {
	Log     *slog.Logger // debug log
	MailLog io.Writer    // mail log; nil means standard error unless configured
}

// New opens the store and prepares every configured service; Start runs
// them.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, log: opts.Log, errs: make(chan error, 16), resolver: resolve.New(cfg.Resolver, 0)}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	mailOut := opts.MailLog
	if mailOut == nil {
		mailOut = os.Stderr
		if cfg.Log.MailFile != "" {
			f, err := os.OpenFile(cfg.Log.MailFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
			if err != nil {
				return nil, fmt.Errorf("log.mail_file: %w", err)
			}
			s.closers = append(s.closers, f)
			mailOut = f
		}
	}
	s.mailLog = maillog.New(mailOut)
	s.metrics = metrics.NewRegistry()
	s.started = time.Now()
	s.mailLog.Count = func(event string) {
		s.metrics.Counter("pail_mail_events_total", "Mail events, as in the mail log.", "event", event).Inc()
	}

	st, err := store.OpenConfigured(ctx, cfg.DataDir, cfg.Store)
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.store = st
	s.closers = append(s.closers, st)
	st.SetDefaultQuota(cfg.Limits.QuotaBytes)
	if err := st.OwnerLock(); err != nil {
		s.log.Warn("store: no owner lock; files a crash leaves behind are told by their age alone", "err", err)
	}
	// What a crashed run left without an index row goes before anything
	// is served; files of other live processes (admin commands) stay. The
	// message directories are scanned only when a lock file says that a
	// process may have left something. A failure leaves files behind
	// (`pail check` names them), never mail.
	removed, scanned, err := st.RemoveCrashLeftovers(ctx)
	if err != nil {
		s.log.Warn("store: removing files a crash left behind", "err", err)
	}
	if scanned {
		s.log.Info("store: looked for files a crash left behind", "removed", len(removed))
	}
	statusLn, err := s.listenStatusSocket()
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.status = s.newStatusServer()
	if statusLn != nil {
		s.closers = append(s.closers, statusLn)
		s.statusLn = statusLn
	}

	s.domains.Store(&cfg.Domains)
	mc := cfg.MTASTS
	s.mtastsCfg.Store(&mc)
	dc := cfg.DNS
	s.dnsCfg.Store(&dc)
	s.certs, err = tlsconf.NewCerts(cfg.TLS.Cert, cfg.TLS.Key, cfg.DataDir, certNames(cfg))
	if err != nil {
		s.closeAll()
		return nil, err
	}
	if s.certs.Made() {
		s.log.Info("made a self-signed certificate; clients that check it can trust this file", "cert", s.certs.CertFile())
	}
	if cfg.Store != "" {
		if s.blobs, err = blobdb.Open(ctx, cfg.Store); err != nil {
			s.closeAll()
			return nil, err
		}
		s.closers = append(s.closers, s.blobs)
	}
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		s.closeAll()
		return nil, err
	}
	q, err := s.openQueue(ctx)
	if err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.openSpam(); err != nil {
		s.closeAll()
		return nil, err
	}
	s.inbound.Store(s.newPipeline(cfg)) // after openSpam: rspamd judges in it
	router := delivery.NewRouter(st, s.isLocalDomain, cfg.Postmaster)
	router.SetHostname(cfg.Hostname)
	s.router = router
	deliverer := delivery.NewDeliverer(st, q, s.mailLog, cfg.Hostname)
	deliverer.SetSieve(&delivery.Sieve{Store: st, Options: SieveOptions(cfg), Separator: address.SubaddressSeparator, Log: s.log.With("proto", "sieve")})
	if err := s.openTLSRPT(ctx, router, deliverer); err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.openDMARC(ctx, router, deliverer); err != nil {
		s.closeAll()
		return nil, err
	}
	s.transport = s.newTransport(router, deliverer)
	authn := auth.NewWithLimits(st, auth.Limits{
		FailuresPerAddress:       cfg.Limits.LoginFailuresPerAddress,
		FailuresPerAccount:       cfg.Limits.LoginFailuresPerAccount,
		SuspectAttemptsPerMinute: cfg.Limits.LoginSuspectAttemptsPerMinute,
		IPv6Prefix:               cfg.Limits.LoginIPv6Prefix,
		IPv4Prefix:               cfg.Limits.LoginIPv4Prefix,
	})

	smtpDeps := smtpd.Deps{Router: router, Deliverer: deliverer, Auth: authn, Senders: router, Judge: inboundJudge{s}, Log: s.log.With("proto", "smtp"), MailLog: s.mailLog}
	mxDeps := s.inboundChecks(smtpDeps)
	for _, svc := range cfg.Listen.Services() {
		var err error
		switch svc.Name {
		case "smtp":
			err = s.addSMTP(svc, smtpd.RoleMX, false, tlsCfg, mxDeps)
		case "submission":
			err = s.addSMTP(svc, smtpd.RoleSubmission, false, tlsCfg, smtpDeps)
		case "submissions":
			err = s.addSMTP(svc, smtpd.RoleSubmission, true, tlsCfg, smtpDeps)
		case "imap", "imaps":
			err = s.addIMAP(svc, svc.Name == "imaps", tlsCfg, authn)
		case "pop3", "pop3s":
			err = s.addPOP3(svc, tlsCfg, authn)
		case "http", "https":
			err = s.addWebmail(ctx, svc, tlsCfg, authn, router, deliverer)
		case "metrics":
			err = s.addMetrics(svc)
		case "managesieve":
			err = s.addManageSieve(svc, tlsCfg, authn)
		default:
			s.log.Warn("service not implemented yet; not started", "service", svc.Name, "addr", svc.Addr)
		}
		if err != nil {
			s.closeAll()
			return nil, err
		}
	}
	if err := s.addDNS(tlsCfg); err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.addProxy(); err != nil {
		s.closeAll()
		return nil, err
	}
	s.registerMetrics()
	return s, nil
}

func (s *Server) addSMTP(svc config.ListenEntry, role smtpd.Role, implicitTLS bool, tlsCfg *tls.Config, deps smtpd.Deps) error {
	lim := s.cfg.Limits
	cfg := smtpd.Config{
		Hostname:            s.cfg.Hostname,
		Role:                role,
		ImplicitTLS:         implicitTLS,
		TLS:                 tlsCfg,
		MaxMessageBytes:     lim.MaxMessageBytes,
		MaxRecipients:       lim.MaxRecipients,
		MaxConnections:      lim.MaxConnections,
		MaxConnectionsPerIP: lim.MaxConnectionsPerIP,
		ConnectionRatePerIP: lim.ConnectionRatePerIP,
		CommandRatePerIP:    lim.CommandRatePerIP,
		CommandTimeout:      lim.CommandTimeout.Duration,
		DataTimeout:         lim.DataTimeout.Duration,
	}
	if role == smtpd.RoleMX {
		cfg.GreetDelay = lim.GreetDelay.Duration
		cfg.DNSBLScore = s.cfg.Inbound.DNSBLAction == config.DNSBLScore
		cfg.CheckLoopback = s.cfg.Inbound.CheckLoopback
	}
	srv := smtpd.New(cfg, deps)
	if err := s.listen(svc, srv.Serve, srv.Shutdown); err != nil {
		return err
	}
	s.countConnections(srv.Connections)
	return nil
}

func (s *Server) listen(svc config.ListenEntry, run func(net.Listener) error, stop func(context.Context) error) error {
	ln, err := net.Listen("tcp", svc.Addr)
	if err != nil {
		return fmt.Errorf("listen.%s: %w", svc.Name, err)
	}
	s.services = append(s.services, service{name: svc.Name, ln: ln, run: run, stop: stop})
	// Closed again by closeAll, so that a start-up that fails later does not
	// leave the port bound.
	s.closers = append(s.closers, ln)
	return nil
}

// isLocalDomain reports whether mail for domain is delivered here, by the
// configuration in force (it changes on reload).
func (s *Server) isLocalDomain(domain string) bool {
	return slices.Contains(*s.domains.Load(), strings.ToLower(strings.TrimSuffix(domain, ".")))
}

// Reload applies a new configuration while the server runs: the local
// domains, the postmaster address, the [dkim], [mta_sts] and [inbound] settings and
// the certificate files' contents take effect at once, and the name
// server re-reads its zones and pools and makes the local domains'
// records again.
// Listen addresses, limits, [spam], [sieve] and the data directory need a
// restart; a change to them is reported and otherwise ignored.
func (s *Server) Reload(cfg *config.Config) error {
	// The default quota applies at once; the other limits need a restart.
	s.store.SetDefaultQuota(cfg.Limits.QuotaBytes)
	newLim, oldLim := cfg.Limits, s.cfg.Limits
	newLim.QuotaBytes, oldLim.QuotaBytes = 0, 0
	if cfg.Listen != s.cfg.Listen || cfg.DataDir != s.cfg.DataDir || !reflect.DeepEqual(newLim, oldLim) || cfg.Hostname != s.cfg.Hostname {
		s.log.Warn("reload: listen, limits, hostname and data_dir changes need a restart; they are not applied")
	}
	if cfg.Spam != s.cfg.Spam {
		s.log.Warn("reload: [spam] changes need a restart; they are not applied")
	}
	if cfg.Sieve != s.cfg.Sieve {
		// Delivery, ManageSieve and the webmail took their copies of the
		// script limits at start.
		s.log.Warn("reload: [sieve] changes need a restart; they are not applied")
	}
	s.warnACMEReload(cfg)
	s.warnInboundReload(cfg)
	s.domains.Store(&cfg.Domains)
	dk := cfg.DKIM
	s.dkim.Store(&dk)
	s.ensureDKIM(cfg.Domains)
	mc := cfg.MTASTS
	s.mtastsCfg.Store(&mc)
	s.inbound.Store(s.newPipeline(cfg))
	s.router.SetPostmaster(cfg.Postmaster)
	var errs []error
	if err := s.certs.Reload(); err != nil {
		errs = append(errs, err)
	}
	dc := cfg.DNS
	s.dnsCfg.Store(&dc)
	if s.dns != nil {
		// Zones and pools are swapped in without dropping a query, with
		// the local domains' own records made again (ownRecords); listen
		// and rate-limit changes need a restart.
		if err := s.dns.Reload(cfg.DNS); err != nil {
			errs = append(errs, fmt.Errorf("dns: %w", err))
		}
	}
	s.log.Info("configuration reloaded", "domains", cfg.Domains)
	return errors.Join(errs...)
}

// countConnections records how the service added last counts its open
// connections, for metrics and status.
func (s *Server) countConnections(fn func() int) {
	s.services[len(s.services)-1].conns = fn
}

// Addrs returns the address each started service listens on, by service
// name.
func (s *Server) Addrs() map[string]string {
	out := map[string]string{}
	for _, svc := range s.services {
		out[svc.name] = svc.ln.Addr().String()
	}
	return out
}

// Store returns the server's store.
func (s *Server) Store() *store.Store { return s.store }

// Start runs every service in the background and prints where each
// listens to w.
func (s *Server) Start(w io.Writer) {
	s.startQueue()
	s.startACME()
	s.startTLSRPT()
	s.startDMARC()
	s.startSpam()
	if s.statusLn != nil {
		go s.status.Serve(s.statusLn)
	}
	for _, svc := range s.services {
		fmt.Fprintf(w, "pail: %s listening on %s\n", svc.name, svc.ln.Addr())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := svc.run(svc.ln); err != nil {
				s.errs <- fmt.Errorf("%s: %w", svc.name, err)
			}
		}()
	}
}

// Errors reports a service that stopped on its own.
func (s *Server) Errors() <-chan error { return s.errs }

// Shutdown stops every service gracefully (see each service's Shutdown),
// waiting at most until ctx ends, then closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, svc := range s.services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := svc.stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", svc.name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.wg.Wait()
	s.stopSpam()
	s.stopACME()
	if err := s.stopQueue(ctx); err != nil {
		errs = append(errs, fmt.Errorf("queue: %w", err))
	}
	s.status.Shutdown(ctx)
	s.closeAll()
	return errors.Join(errs...)
}

func (s *Server) closeAll() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i].Close()
	}
	s.closers = nil
}

// certNames are the names the self-signed certificate carries: the host
// name, the domains, and the host part of every listen address that names
// one host (not 0.0.0.0 or ::), so that a client connecting to any of them
// can check the certificate.
func certNames(cfg *config.Config) []string {
	names := append([]string{cfg.Hostname}, cfg.Domains...)
	for _, svc := range cfg.Listen.Services() {
		host, _, err := net.SplitHostPort(svc.Addr)
		if err != nil || host == "" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			continue
		}
		names = append(names, host)
	}
	return names
}
