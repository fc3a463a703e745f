package tlsrpt

import (
	"context"
	"log/slog"
	"time"

	"pail/internal/reporting"
)

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
	(&reporting.Scheduler{Name: "tlsrpt", Send: sc.Sender.SendDay, Prune: sc.Sender.DB.Prune,
		Jitter: sc.Jitter, StartDelay: sc.StartDelay, RetryDelay: sc.RetryDelay, Now: sc.Now, Log: sc.Log}).Run(ctx)
}
