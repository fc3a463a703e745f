package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"pail/internal/config"
	"pail/internal/reporting"
)

// reportCommands are the `show` and send commands of one kind of daily
// aggregate report (`pail tlsrpt`, `pail dmarc`) over its database DB.
type reportCommands[DB io.Closer] struct {
	show, send string // the commands' names
	// open opens the database in a data directory.
	open func(ctx context.Context, dataDir string) (DB, error)
	// counts prints a day's counts; received the reports received since.
	counts   func(ctx context.Context, w io.Writer, db DB, day string) error
	received func(ctx context.Context, w io.Writer, db DB, since time.Time) error
	// sendDay sends a day's reports through inj; it sets inj's tap first
	// so that a report to one of our own domains is stored as the server
	// would.
	sendDay func(ctx context.Context, cfg *config.Config, db DB, inj *injector, day string) (reporting.DayResult, error)
}

// openDB loads the config and opens the database, as the data directory's
// owner (becomeDataOwner).
func (rc reportCommands[DB]) openDB(e *env) (*config.Config, DB, error) {
	var none DB
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, none, err
	}
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return nil, none, err
	}
	db, err := rc.open(e.ctx, cfg.DataDir)
	if err != nil {
		return nil, none, err
	}
	return cfg, db, nil
}

// dayFlag adds --day and its synonym --date.
func dayFlag(fs *flag.FlagSet, usage string) *string {
	day := fs.String("day", "", usage)
	fs.StringVar(day, "date", "", "the same as --day")
	return day
}

// parseDay checks a --day value, "" for def.
func parseDay(s string, def time.Time) (string, error) {
	if s == "" {
		return reporting.Day(def), nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", fmt.Errorf("--day %q: want YYYY-MM-DD", s)
	}
	return s, nil
}

// cmdShow runs the show command: a day's counts, or with --received the
// reports received from that day on.
func (rc reportCommands[DB]) cmdShow(e *env, args []string) error {
	fs := flag.NewFlagSet(rc.show, flag.ContinueOnError)
	date := dayFlag(fs, "the UTC `day` (YYYY-MM-DD); default today; with --received, reports from that day on")
	received := fs.Bool("received", false, "show the aggregate reports others sent for the local domains")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, rc.show+" [--day YYYY-MM-DD] [--received]"); err != nil {
		return err
	}
	_, db, err := rc.openDB(e)
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
		return rc.received(e.ctx, e.stdout, db, since)
	}
	day, err := parseDay(*date, time.Now())
	if err != nil {
		return err
	}
	return rc.counts(e.ctx, e.stdout, db, day)
}

// cmdSend runs the send command: a day's reports now, yesterday's by
// default, whatever the config says about sending them daily.
func (rc reportCommands[DB]) cmdSend(e *env, args []string) error {
	fs := flag.NewFlagSet(rc.send, flag.ContinueOnError)
	date := dayFlag(fs, "the UTC `day` (YYYY-MM-DD) to report; default yesterday")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, rc.send+" [--day YYYY-MM-DD]"); err != nil {
		return err
	}
	day, err := parseDay(*date, time.Now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	cfg, db, err := rc.openDB(e)
	if err != nil {
		return err
	}
	defer db.Close()
	inj, err := e.openInjector(cfg)
	if err != nil {
		return err
	}
	defer inj.close()
	res, err := rc.sendDay(e.ctx, cfg, db, inj, day)
	if err != nil {
		return err
	}
	return e.printSent(rc.send, day, res)
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
