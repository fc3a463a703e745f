package main

import (
	"flag"
	"fmt"
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

// openTLSRPT loads the config and opens its TLS reporting database, as
// the data directory's owner (becomeDataOwner).
func (e *env) openTLSRPT() (*config.Config, *tlsrpt.DB, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return nil, nil, err
	}
	db, err := tlsrpt.Open(e.ctx, tlsrpt.DirIn(cfg.DataDir))
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}

// parseDay checks a --date value, "" for def.
func parseDay(s string, def time.Time) (string, error) {
	if s == "" {
		return tlsrpt.Day(def), nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", fmt.Errorf("--date %q: want YYYY-MM-DD", s)
	}
	return s, nil
}

func cmdTLSRPTShow(e *env, args []string) error {
	fs := flag.NewFlagSet("tlsrpt show", flag.ContinueOnError)
	date := fs.String("date", "", "the UTC `day` (YYYY-MM-DD); default today; with --received, reports from that day on")
	received := fs.Bool("received", false, "show the reports other servers sent for the local domains")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "tlsrpt show [--date YYYY-MM-DD] [--received]"); err != nil {
		return err
	}
	_, db, err := e.openTLSRPT()
	if err != nil {
		return err
	}
	defer db.Close()
	if *received {
		var since time.Time
		if *date != "" {
			day, err := parseDay(*date, time.Time{})
			if err != nil {
				return err
			}
			since, _ = time.Parse(time.DateOnly, day)
		}
		reps, err := db.ReceivedReports(e.ctx, since)
		if err != nil {
			return err
		}
		return tlsrpt.WriteReceived(e.stdout, reps)
	}
	day, err := parseDay(*date, time.Now())
	if err != nil {
		return err
	}
	rows, err := db.Counts(e.ctx, day, "")
	if err != nil {
		return err
	}
	return tlsrpt.WriteCounts(e.stdout, day, rows)
}

func cmdTLSRPTSend(e *env, args []string) error {
	fs := flag.NewFlagSet("tlsrpt send", flag.ContinueOnError)
	date := fs.String("date", "", "the UTC `day` (YYYY-MM-DD) to report; default yesterday")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "tlsrpt send [--date YYYY-MM-DD]"); err != nil {
		return err
	}
	day, err := parseDay(*date, time.Now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	cfg, db, err := e.openTLSRPT()
	if err != nil {
		return err
	}
	defer db.Close()
	inj, err := e.openInjector(cfg)
	if err != nil {
		return err
	}
	defer inj.close()
	// A report to one of our own domains is stored as the server would.
	inj.d.SetTap(&tlsrpt.Receiver{DB: db, Log: inj.log})
	sender := server.NewReportSender(cfg, resolve.New(cfg.Resolver, 0), db, inj.router, inj.d)
	sender.Log = inj.log
	res, err := sender.SendDay(e.ctx, day)
	if err != nil {
		return err
	}
	return e.printSent("tlsrpt send", day, res)
}

// printSent prints what a day's sending did; reports that could not be
// sent make it an error.
func (e *env) printSent(cmd, day string, res reporting.DayResult) error {
	fmt.Fprintf(e.stdout, "%s: %d reports sent, %d failed (to be retried), %d given up, %d sent before or not wanted\n",
		day, res.Sent, res.Failed, res.GaveUp, res.Skipped)
	if res.Failed > 0 || res.GaveUp > 0 {
		return fmt.Errorf("%s: %d reports could not be sent; the log above says why", cmd, res.Failed+res.GaveUp)
	}
	return nil
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
	st, err := store.Open(e.ctx, cfg.DataDir)
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
