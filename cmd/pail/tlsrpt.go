package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"pail/internal/config"
	"pail/internal/delivery"
	"pail/internal/reporting"
	"pail/internal/resolve"
	"pail/internal/server"
	"pail/internal/store"
	"pail/internal/tlsrpt"
)

// tlsrptCommands are `pail tlsrpt show` and `pail tlsrpt send`.
func tlsrptCommands() reportCommands[*tlsrpt.DB] {
	return reportCommands[*tlsrpt.DB]{
		show: "tlsrpt show", send: "tlsrpt send",
		open: func(ctx context.Context, dataDir string) (*tlsrpt.DB, error) {
			return tlsrpt.Open(ctx, tlsrpt.DirIn(dataDir))
		},
		counts: func(ctx context.Context, w io.Writer, db *tlsrpt.DB, day string) error {
			rows, err := db.Counts(ctx, day, "")
			if err != nil {
				return err
			}
			return tlsrpt.WriteCounts(w, day, rows)
		},
		received: func(ctx context.Context, w io.Writer, db *tlsrpt.DB, since time.Time) error {
			reps, err := db.ReceivedReports(ctx, since)
			if err != nil {
				return err
			}
			return tlsrpt.WriteReceived(w, reps)
		},
		sendDay: func(ctx context.Context, cfg *config.Config, db *tlsrpt.DB, inj *injector, day string) (reporting.DayResult, error) {
			inj.d.SetTap(tlsrpt.NewReceiver(db, inj.log))
			sender := server.NewReportSender(cfg, resolve.New(cfg.Resolver, 0), db, inj.router, inj.d)
			sender.Log = inj.log
			return sender.SendDay(ctx, day)
		},
	}
}

// injector is what a command needs to send mail as the server does: the
// router and a deliverer on the data directory's store and queue, with
// the mail log, and a log on standard error.
type injector struct {
	router *delivery.Router
	d      *delivery.Deliverer
	log    *slog.Logger
	close  func()
}

// openInjector opens the store, the queue and the mail log of cfg.
func (e *env) openInjector(cfg *config.Config) (*injector, error) {
	st, err := store.OpenConfigured(e.ctx, cfg.DataDir, cfg.Store)
	if err != nil {
		return nil, err
	}
	_, q, err := e.openQueue()
	if err != nil {
		st.Close()
		return nil, err
	}
	mailLog, closeLog, err := openMailLog(cfg)
	if err != nil {
		q.Close()
		st.Close()
		return nil, err
	}
	router := delivery.NewRouter(st, cfg.IsLocalDomain, cfg.Postmaster)
	router.SetHostname(cfg.Hostname)
	return &injector{router: router, d: delivery.NewDeliverer(st, q, mailLog, cfg.Hostname),
		log:   slog.New(slog.NewTextHandler(e.stderr, nil)),
		close: func() { closeLog(); q.Close(); st.Close() }}, nil
}
