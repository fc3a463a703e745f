package main

import (
	"context"
	"io"
	"time"

	"pail/internal/config"
	"pail/internal/dmarcrpt"
	"pail/internal/reporting"
	"pail/internal/resolve"
	"pail/internal/server"
)

// dmarcCommands are `pail dmarc show` and `pail dmarc send-reports`.
func dmarcCommands() reportCommands[*dmarcrpt.DB] {
	return reportCommands[*dmarcrpt.DB]{
		show: "dmarc show", send: "dmarc send-reports",
		open: func(ctx context.Context, dataDir string) (*dmarcrpt.DB, error) {
			return dmarcrpt.Open(ctx, dmarcrpt.DirIn(dataDir))
		},
		counts: func(ctx context.Context, w io.Writer, db *dmarcrpt.DB, day string) error {
			counts, err := db.Counts(ctx, day, "")
			if err != nil {
				return err
			}
			return dmarcrpt.WriteCounts(w, day, counts)
		},
		received: func(ctx context.Context, w io.Writer, db *dmarcrpt.DB, since time.Time) error {
			reps, err := db.ReceivedReports(ctx, since)
			if err != nil {
				return err
			}
			return dmarcrpt.WriteReceived(w, reps)
		},
		sendDay: func(ctx context.Context, cfg *config.Config, db *dmarcrpt.DB, inj *injector, day string) (reporting.DayResult, error) {
			inj.d.SetTap(dmarcrpt.NewReceiver(db, inj.log))
			sender := server.NewDMARCSender(cfg, resolve.New(cfg.Resolver, 0), db, inj.router, inj.d)
			sender.Log = inj.log
			return sender.SendDay(ctx, day)
		},
	}
}
