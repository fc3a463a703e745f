package main

import (
	"flag"
	"time"

	"pail/internal/config"
	"pail/internal/dmarcrpt"
	"pail/internal/resolve"
	"pail/internal/server"
)

// openDMARC loads the config and opens its DMARC reporting database, as
// the data directory's owner (becomeDataOwner).
func (e *env) openDMARC() (*config.Config, *dmarcrpt.DB, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return nil, nil, err
	}
	db, err := dmarcrpt.Open(e.ctx, dmarcrpt.DirIn(cfg.DataDir))
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}

// dayFlag adds --day and its synonym --date (as `tlsrpt` spells it).
func dayFlag(fs *flag.FlagSet, usage string) *string {
	day := fs.String("day", "", usage)
	fs.StringVar(day, "date", "", "the same as --day")
	return day
}

func cmdDMARCShow(e *env, args []string) error {
	fs := flag.NewFlagSet("dmarc show", flag.ContinueOnError)
	date := dayFlag(fs, "the UTC `day` (YYYY-MM-DD); default today; with --received, reports from that day on")
	received := fs.Bool("received", false, "show the aggregate reports other receivers sent for the local domains")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "dmarc show [--day YYYY-MM-DD] [--received]"); err != nil {
		return err
	}
	_, db, err := e.openDMARC()
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
		return dmarcrpt.WriteReceived(e.stdout, reps)
	}
	day, err := parseDay(*date, time.Now())
	if err != nil {
		return err
	}
	counts, err := db.Counts(e.ctx, day, "")
	if err != nil {
		return err
	}
	return dmarcrpt.WriteCounts(e.stdout, day, counts)
}

func cmdDMARCSend(e *env, args []string) error {
	fs := flag.NewFlagSet("dmarc send-reports", flag.ContinueOnError)
	date := dayFlag(fs, "the UTC `day` (YYYY-MM-DD) to report; default yesterday")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "dmarc send-reports [--day YYYY-MM-DD]"); err != nil {
		return err
	}
	day, err := parseDay(*date, time.Now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	cfg, db, err := e.openDMARC()
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
	inj.d.SetTap(&dmarcrpt.Receiver{DB: db, Log: inj.log})
	sender := server.NewDMARCSender(cfg, resolve.New(cfg.Resolver, 0), db, inj.router, inj.d)
	sender.Log = inj.log
	res, err := sender.SendDay(e.ctx, day)
	if err != nil {
		return err
	}
	return e.printSent("dmarc send-reports", day, res)
}
