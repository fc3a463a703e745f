package tlsrpt

import (
	"context"
	"log/slog"
	"time"

	"pail/internal/reporting"
)

// keepDays is how long counts and send records are kept.
const keepDays = 32

// Scheduler runs Sender.SendDay for the previous UTC day once a day,
// shortly after 00:00 UTC, and again for failed sends (reporting.Daily),
// in its own goroutine: it never holds up mail.
type Scheduler struct {
	Sender     *Sender
	Jitter     time.Duration // 0: reporting.DefaultJitter
	StartDelay time.Duration // 0: reporting.DefaultStartDelay
	RetryDelay time.Duration // 0: reporting.DefaultRetryDelay
	Now        func() time.Time
	Log        *slog.Logger
}

// Run sends reports until ctx ends.
func (sc *Scheduler) Run(ctx context.Context) {
	now := sc.Now
	if now == nil {
		now = time.Now
	}
	log := sc.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &reporting.Daily{Jitter: sc.Jitter, StartDelay: sc.StartDelay, RetryDelay: sc.RetryDelay, MaxRetries: MaxAttempts, Now: now,
		Job: func(ctx context.Context, day string) bool {
			res, err := sc.Sender.SendDay(ctx, day)
			if err != nil {
				log.Warn("tlsrpt: daily reports", "day", day, "err", err)
			}
			if res.Sent+res.Failed+res.GaveUp > 0 {
				log.Info("tlsrpt: daily reports", "day", day, "sent", res.Sent, "failed", res.Failed, "gave_up", res.GaveUp)
			}
			if err := sc.Sender.DB.Prune(ctx, Day(now().Add(-keepDays*24*time.Hour))); err != nil {
				log.Warn("tlsrpt: pruning old counts", "err", err)
			}
			return res.Failed > 0 || err != nil
		}}
	d.Run(ctx)
}
