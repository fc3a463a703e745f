package main

import (
	"flag"
	"fmt"
	"log/slog"
	"time"

	"pail/internal/config"
	"pail/internal/delivery"
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
	st, err := store.Open(e.ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	_, q, err := e.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	mailLog, closeLog, err := openMailLog(cfg)
	if err != nil {
		return err
	}
	defer closeLog()
	router := delivery.NewRouter(st, cfg.IsLocalDomain, cfg.Postmaster)
	router.SetHostname(cfg.Hostname)
	d := delivery.NewDeliverer(st, q, mailLog, cfg.Hostname)
	// A report to one of our own domains is stored as the server would.
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	d.SetTap(&tlsrpt.Receiver{DB: db, Log: log})
	sender := server.NewReportSender(cfg, resolve.New(cfg.Resolver, 0), db, router, d)
	sender.Log = log
	res, err := sender.SendDay(e.ctx, day)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d reports sent, %d failed (to be retried), %d given up, %d sent before or not wanted\n",
		day, res.Sent, res.Failed, res.GaveUp, res.Skipped)
	if res.Failed > 0 || res.GaveUp > 0 {
		return fmt.Errorf("tlsrpt send: %d reports could not be sent; the log above says why", res.Failed+res.GaveUp)
	}
	return nil
}
