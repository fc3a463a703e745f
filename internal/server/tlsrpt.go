package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"pail/internal/config"
	"pail/internal/delivery"
	"pail/internal/resolve"
	"pail/internal/tlsrpt"
)

// reportHTTPTimeout bounds one HTTPS report upload (RFC 8460 §5.2).
const reportHTTPTimeout = time.Minute

// openTLSRPT opens the TLS reporting database and makes the Recorder the
// SMTP client records outcomes in, the tap that stores reports arriving
// for postmaster@ and tlsrpt@ the local domains, and the daily Scheduler
// (started by Start when [tlsrpt] enabled).
func (s *Server) openTLSRPT(ctx context.Context, router *delivery.Router, deliverer *delivery.Deliverer) error {
	db, err := tlsrpt.Open(ctx, tlsrpt.DirIn(s.cfg.DataDir))
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db)
	log := s.log.With("proto", "tlsrpt")
	s.tlsRecorder = tlsrpt.NewRecorder(db, tlsrpt.RecorderConfig{Log: log})
	s.closers = append(s.closers, s.tlsRecorder)
	deliverer.SetTap(tlsrpt.NewReceiver(db, log))
	s.tlsScheduler = &tlsrpt.Scheduler{Sender: NewReportSender(s.cfg, s.resolver, db, router, deliverer), Log: log}
	return nil
}

// NewReportSender returns the Sender of the daily reports for cfg: mail
// reports injected through deliverer (signed when queued), HTTPS reports
// through an HTTP client that verifies certificates and follows no
// redirects, TXT lookups and the addresses of report hosts through r (the
// one resolver). `pail tlsrpt send` uses it too.
func NewReportSender(cfg *config.Config, r *resolve.Resolver, db *tlsrpt.DB, router *delivery.Router, deliverer *delivery.Deliverer) *tlsrpt.Sender {
	return &tlsrpt.Sender{
		DB:       db,
		Resolver: r,
		Enqueue:  injectReport(router, deliverer),
		HTTP: &http.Client{
			Transport:     &http.Transport{DialContext: r.DialContext, TLSHandshakeTimeout: 10 * time.Second},
			Timeout:       reportHTTPTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Submitter: tlsrpt.Submitter{Organization: cfg.ReportOrganization(), Contact: cfg.ReportContact(), Host: cfg.Hostname},
		From:      cfg.ReportFrom(),
	}
}

// injectReport is how a report Sender queues a report mail: through
// deliverer, as mail from a local user is (DKIM-signed when queued).
func injectReport(router *delivery.Router, deliverer *delivery.Deliverer) func(ctx context.Context, from string, rcpts []string, msg []byte) error {
	return func(ctx context.Context, from string, rcpts []string, msg []byte) error {
		return deliverer.Inject(ctx, router, from, rcpts, msg)
	}
}

// TLSReporter is what the SMTP client records each outbound TLS session
// attempt in (RFC 8460); pass it as the client's recorder.
func (s *Server) TLSReporter() tlsrpt.Recording { return s.tlsRecorder }

// startTLSRPT runs the daily report scheduler when sending is on.
func (s *Server) startTLSRPT() {
	if s.tlsScheduler == nil || !s.cfg.TLSRPT.Enabled {
		return
	}
	s.background(s.tlsScheduler.Run)
}

// background runs run in a goroutine until the server closes: its
// context ends then, and Close waits for it to return.
func (s *Server) background(run func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx)
	}()
	s.closers = append(s.closers, closerFunc(func() error {
		cancel()
		wg.Wait()
		return nil
	}))
}

// closerFunc makes a func an io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }
