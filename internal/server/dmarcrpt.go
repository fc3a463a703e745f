package server

import (
	"context"

	"pail/internal/config"
	"pail/internal/delivery"
	"pail/internal/dmarcrpt"
	"pail/internal/resolve"
	"pail/internal/verify"
)

// openDMARC opens the DMARC reporting database and makes the Recorder
// that the MX judgement records each message's DMARC result in, the tap
// that stores aggregate reports arriving for postmaster@ and dmarc@ the
// local domains, and the daily Scheduler (started by Start when [dmarc]
// reports is set).
func (s *Server) openDMARC(ctx context.Context, router *delivery.Router, deliverer *delivery.Deliverer) error {
	db, err := dmarcrpt.Open(ctx, dmarcrpt.DirIn(s.cfg.DataDir))
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db)
	log := s.log.With("proto", "dmarc")
	s.dmarc = dmarcrpt.NewRecorder(db, dmarcrpt.RecorderConfig{Log: log})
	s.closers = append(s.closers, s.dmarc)
	deliverer.AddTap(dmarcrpt.NewReceiver(db, log))
	s.dmarcSched = NewDMARCSender(s.cfg, s.resolver, db, router, deliverer).Scheduler(log)
	return nil
}

// NewDMARCSender returns the Sender of the daily DMARC reports for cfg:
// reports injected through deliverer (signed when queued), DMARC records
// and destination checks looked up through r (the one resolver). `pail
// dmarc send-reports` uses it too.
func NewDMARCSender(cfg *config.Config, r *resolve.Resolver, db *dmarcrpt.DB, router *delivery.Router, deliverer *delivery.Deliverer) *dmarcrpt.Sender {
	return &dmarcrpt.Sender{
		DB:        db,
		Resolver:  r,
		Enqueue:   injectReport(router, deliverer),
		Submitter: dmarcrpt.Submitter{Organization: cfg.DMARCOrganization(), Email: cfg.DMARCContact(), Host: cfg.Hostname},
		From:      cfg.DMARCFrom(),
	}
}

// recordDMARC counts the DMARC result of a message judged on the MX port
// and what was done with it, for the aggregate reports.
func (s *Server) recordDMARC(ctx context.Context, m *verify.Message, d verify.Decision) {
	if o, ok := dmarcrpt.OutcomeOf(m, d); ok && s.dmarc != nil {
		s.dmarc.Record(ctx, o)
	}
}

// startDMARC runs the daily DMARC report scheduler when sending is on.
func (s *Server) startDMARC() {
	if s.dmarcSched == nil || !s.cfg.DMARC.Reports {
		return
	}
	s.background(s.dmarcSched.Run)
}
