package tlsrpt

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"pail/internal/reporting"
)

// DefaultFlushInterval is how often a Recorder writes its counts
// (reporting.DefaultFlushInterval).
const DefaultFlushInterval = reporting.DefaultFlushInterval

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

// Recorder counts TLS session outcomes. Record only updates a map
// (reporting.Tally); the counts are written every FlushInterval, and
// Close writes what is left. It is safe for concurrent use.
type Recorder struct {
	now   func() time.Time
	tally *reporting.Tally[key]
}

// NewRecorder returns a Recorder writing to db and starts its flusher.
func NewRecorder(db *DB, cfg RecorderConfig) *Recorder {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Recorder{now: cfg.Now, tally: reporting.NewTally(reporting.TallyConfig[key]{
		Name: "tlsrpt", FlushInterval: cfg.FlushInterval, MaxPerDay: MaxRowsPerDay,
		Day:   func(k key) string { return k.Day },
		Write: db.AddCounts, Log: cfg.Log,
	})}
}

// Record counts one TLS session attempt under the UTC day it happens. It
// never blocks on storage; after Close it does nothing.
func (r *Recorder) Record(_ context.Context, o Outcome) {
	r.tally.Add(outcomeKey(Day(r.now()), o))
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

// Flush writes the pending counts now. Counts that cannot be written stay
// pending for the next flush.
func (r *Recorder) Flush(ctx context.Context) error { return r.tally.Flush(ctx) }

// Close stops the flusher and writes what is pending. It does not close
// the DB.
func (r *Recorder) Close() error { return r.tally.Close() }
