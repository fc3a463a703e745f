package tlsrpt

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Scheduling of the daily run.
const (
	// DefaultJitter spreads the daily run over the first part of the
	// UTC day, so that not every sender reports at 00:00:00 (RFC 8460
	// §4.1 leaves the time to the sender).
	DefaultJitter = 20 * time.Minute
	// DefaultStartDelay is how long after start-up the previous day is
	// looked at: a server that was down at the daily run sends it then
	// (what was sent is recorded, so nothing goes out twice).
	DefaultStartDelay = time.Minute
	// DefaultRetryDelay is the wait before trying failed sends again; it
	// doubles with each retry.
	DefaultRetryDelay = 30 * time.Minute
	// keepDays is how long counts and send records are kept.
	keepDays = 32
)

// Scheduler runs Sender.SendDay for the previous UTC day once a day,
// shortly after 00:00 UTC, and again for failed sends, in its own
// goroutine: it never holds up mail.
type Scheduler struct {
	Sender     *Sender
	Jitter     time.Duration // 0: DefaultJitter
	StartDelay time.Duration // 0: DefaultStartDelay
	RetryDelay time.Duration // 0: DefaultRetryDelay
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
	jitter, retry := orDefault(sc.Jitter, DefaultJitter), orDefault(sc.RetryDelay, DefaultRetryDelay)
	wait := orDefault(sc.StartDelay, DefaultStartDelay)
	retries, lastDay := 0, ""
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		day := Day(now().Add(-24 * time.Hour))
		if day != lastDay {
			retries, lastDay = 0, day
		}
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
		next := nextRun(now(), jitter)
		if (res.Failed > 0 || err != nil) && retries < MaxAttempts {
			if r := now().Add(retry << retries); r.Before(next) {
				next = r
			}
			retries++
		}
		wait = next.Sub(now())
	}
}

// nextRun is the next daily run after now: 00:00 UTC of the next day
// plus a random part of jitter.
func nextRun(now time.Time, jitter time.Duration) time.Time {
	midnight := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	return midnight.Add(time.Minute + rand.N(jitter))
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
