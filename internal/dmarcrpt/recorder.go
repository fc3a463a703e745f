package dmarcrpt

import (
	"context"
	"log/slog"
	"time"

	"pail/internal/reporting"
)

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// FlushInterval is how often counts are written; 0 means
	// reporting.DefaultFlushInterval.
	FlushInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives a line when counts cannot be written or are dropped.
	Log *slog.Logger
}

// Recorder counts DMARC outcomes. Record only updates a map
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
		Name: name, FlushInterval: cfg.FlushInterval, MaxPerDay: MaxRowsPerDay,
		Day:   func(k key) string { return k.Day },
		Write: db.addCounts, Log: cfg.Log,
	})}
}

// Record counts one message under the UTC day it arrives. It never
// blocks on storage; after Close it does nothing.
func (r *Recorder) Record(_ context.Context, o Outcome) {
	r.tally.Add(outcomeKey(reporting.Day(r.now()), o))
}

// Flush writes the pending counts now.
func (r *Recorder) Flush(ctx context.Context) error { return r.tally.Flush(ctx) }

// Close stops the flusher and writes what is pending. It does not close
// the DB.
func (r *Recorder) Close() error { return r.tally.Close() }
