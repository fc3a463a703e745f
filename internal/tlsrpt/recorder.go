package tlsrpt

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// DefaultFlushInterval is how often a Recorder writes its counts: what a
// crash can lose (a few seconds of counts: a report a little low, never
// mail).
const DefaultFlushInterval = 5 * time.Second

// flushTimeout bounds one write of the counts.
const flushTimeout = 30 * time.Second

// Field bounds: what one Outcome may add to a row, so that a peer's long
// HELO name cannot make rows large.
const (
	maxFieldLen      = 255  // a host name, an address, a URI
	maxPolicyLen     = 8192 // an MTA-STS policy file is at most 64 KiB; real ones are tiny
	maxPolicyStrings = 64   // lines of a policy, or TLSA records
)

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// FlushInterval is how often counts are written; 0 means
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives a line when counts cannot be written or are dropped.
	Log *slog.Logger
}

// Recorder counts TLS session outcomes. Record only updates a map; a
// goroutine writes the counts to the DB every FlushInterval, and Close
// writes what is left. It is safe for concurrent use.
type Recorder struct {
	db   *DB
	cfg  RecorderConfig
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending map[key]int64
	perDay  map[string]int // distinct keys pending per day
	dropped int            // outcomes dropped by the cap since the last flush
	closed  bool
}

// NewRecorder returns a Recorder writing to db and starts its flusher.
func NewRecorder(db *DB, cfg RecorderConfig) *Recorder {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{db: db, cfg: cfg, log: log, stop: make(chan struct{}), done: make(chan struct{}),
		pending: map[key]int64{}, perDay: map[string]int{}}
	go r.loop()
	return r
}

// Record counts one TLS session attempt under the UTC day it happens. It
// never blocks on storage; after Close it does nothing.
func (r *Recorder) Record(_ context.Context, o Outcome) {
	k := outcomeKey(Day(r.cfg.Now()), o)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if _, ok := r.pending[k]; !ok {
		if r.perDay[k.Day] >= MaxRowsPerDay {
			r.dropped++
			return
		}
		r.perDay[k.Day]++
	}
	r.pending[k]++
}

// outcomeKey is the row an outcome counts in, its fields bounded.
func outcomeKey(day string, o Outcome) key {
	ps := o.PolicyStrings
	if len(ps) > maxPolicyStrings {
		ps = ps[:maxPolicyStrings]
	}
	lines := make([]string, len(ps))
	for i, s := range ps {
		lines[i] = strings.Map(oneLine, s)
	}
	k := key{
		Day:           day,
		PolicyDomain:  clip(strings.ToLower(strings.TrimSuffix(o.PolicyDomain, ".")), maxFieldLen),
		PolicyType:    PolicyType(clip(string(o.PolicyType), maxFieldLen)),
		PolicyStrings: clip(strings.Join(lines, "\n"), maxPolicyLen),
		MXHost:        clip(strings.ToLower(strings.TrimSuffix(o.MXHost, ".")), maxFieldLen),
	}
	if k.PolicyType == "" {
		k.PolicyType = PolicyNone
	}
	if o.Success {
		return k
	}
	k.Result = ResultType(clip(string(o.Failure), maxFieldLen))
	if k.Result == "" {
		k.Result = ResultValidationFailure
	}
	k.SendingIP = clip(o.SendingIP, maxFieldLen)
	k.ReceivingIP = clip(o.ReceivingIP, maxFieldLen)
	k.ReceivingHELO = clip(o.ReceivingHELO, maxFieldLen)
	k.Additional = clip(o.AdditionalInfo, maxFieldLen)
	return k
}

// oneLine replaces the line breaks that would split a policy line.
func oneLine(r rune) rune {
	if r == '\r' || r == '\n' {
		return ' '
	}
	return r
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (r *Recorder) loop() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.Flush(context.Background())
		}
	}
}

// Flush writes the pending counts now. Counts that cannot be written stay
// pending for the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	counts, dropped := r.pending, r.dropped
	r.pending, r.perDay, r.dropped = map[key]int64{}, map[string]int{}, 0
	r.mu.Unlock()
	if dropped > 0 {
		r.log.Warn("tlsrpt: too many distinct outcomes today; some are not counted", "dropped", dropped, "max_rows", MaxRowsPerDay)
	}
	if len(counts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	n, err := r.db.AddCounts(ctx, counts)
	if n > 0 {
		r.log.Warn("tlsrpt: the day's rows are full; new outcomes are not counted", "dropped_rows", n, "max_rows", MaxRowsPerDay)
	}
	if err != nil {
		r.log.Warn("tlsrpt: writing counts failed; kept for the next try", "err", err)
		r.mu.Lock()
		for k, v := range counts {
			if _, ok := r.pending[k]; !ok {
				r.perDay[k.Day]++
			}
			r.pending[k] += v
		}
		r.mu.Unlock()
		return err
	}
	return nil
}

// Close stops the flusher and writes what is pending. It does not close
// the DB.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	return r.Flush(context.Background())
}
