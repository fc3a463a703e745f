package reporting

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
	// §4.1 and RFC 7489 §7.2 leave the time to the sender).
	DefaultJitter = 20 * time.Minute
	// DefaultStartDelay is how long after start-up the previous day is
	// looked at: a server that was down at the daily run sends it then
	// (what was sent is recorded, so nothing goes out twice).
	DefaultStartDelay = time.Minute
	// DefaultRetryDelay is the wait before trying failed sends again; it
	// doubles with each retry.
	DefaultRetryDelay = 30 * time.Minute
)

// Daily runs a job for the previous UTC day once a day, shortly after
// 00:00 UTC, once StartDelay after it starts, and again after
// RetryDelay (doubling) while the job asks for it, in the caller's
// goroutine: run it in one of its own, so that it never holds up mail.
type Daily struct {
	// Job does the work for day; retry asks for another run before the
	// next day's.
	Job        func(ctx context.Context, day string) (retry bool)
	Jitter     time.Duration // 0: DefaultJitter
	StartDelay time.Duration // 0: DefaultStartDelay
	RetryDelay time.Duration // 0: DefaultRetryDelay
	// MaxRetries bounds the extra runs for one day.
	MaxRetries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run runs the job until ctx ends.
func (d *Daily) Run(ctx context.Context) {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	jitter, retry := orDefault(d.Jitter, DefaultJitter), orDefault(d.RetryDelay, DefaultRetryDelay)
	wait := orDefault(d.StartDelay, DefaultStartDelay)
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
		again := d.Job(ctx, day)
		next := NextRun(now(), jitter)
		if again && retries < d.MaxRetries {
			if r := now().Add(retry << retries); r.Before(next) {
				next = r
			}
			retries++
		}
		wait = next.Sub(now())
	}
}

// NextRun is the next daily run after now: 00:01 UTC of the next day
// plus a random part of jitter.
func NextRun(now time.Time, jitter time.Duration) time.Time {
	midnight := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	return midnight.Add(time.Minute + rand.N(jitter))
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// KeepDays is how long counts and send records are kept (for the `show`
// commands), not for ever.
const KeepDays = 32

// SendJob is the Daily job of a report sender: send the day's reports,
// log what was done, prune the rows of days older than KeepDays, and ask
// for a retry when a send failed. name prefixes log lines.
func SendJob(name string, log *slog.Logger, now func() time.Time,
	send func(ctx context.Context, day string) (DayResult, error),
	prune func(ctx context.Context, before string) error) func(context.Context, string) bool {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, day string) bool {
		res, err := send(ctx, day)
		if err != nil {
			log.Warn(name+": daily reports", "day", day, "err", err)
		}
		if res.Sent+res.Failed+res.GaveUp > 0 {
			log.Info(name+": daily reports", "day", day, "sent", res.Sent, "failed", res.Failed, "gave_up", res.GaveUp)
		}
		if err := prune(ctx, Day(now().Add(-KeepDays*24*time.Hour))); err != nil {
			log.Warn(name+": pruning old counts", "err", err)
		}
		return res.Failed > 0 || err != nil
	}
}

// Scheduler runs a report sender once a day (Daily with SendJob): Send
// for the previous UTC day shortly after 00:00 UTC, again for failed
// sends up to MaxAttempts times, and Prune of old rows.
type Scheduler struct {
	Name       string // prefixes log lines
	Send       func(ctx context.Context, day string) (DayResult, error)
	Prune      func(ctx context.Context, before string) error
	Jitter     time.Duration // 0: DefaultJitter
	StartDelay time.Duration // 0: DefaultStartDelay
	RetryDelay time.Duration // 0: DefaultRetryDelay
	Now        func() time.Time
	Log        *slog.Logger
}

// Run sends reports until ctx ends.
func (sc *Scheduler) Run(ctx context.Context) {
	d := &Daily{Jitter: sc.Jitter, StartDelay: sc.StartDelay, RetryDelay: sc.RetryDelay, MaxRetries: MaxAttempts, Now: sc.Now,
		Job: SendJob(sc.Name, sc.Log, sc.Now, sc.Send, sc.Prune)}
	d.Run(ctx)
}
