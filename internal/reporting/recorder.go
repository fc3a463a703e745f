package reporting

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
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

// Recorder counts outcomes O under the row K they fall in on the UTC day
// they happen. Record only updates a map (Tally); the counts are written
// every FlushInterval, and Close writes what is left. It is safe for
// concurrent use.
type Recorder[O any, K comparable] struct {
	now   func() time.Time
	key   func(day string, o O) K
	tally *Tally[K]
}

// NewRecorder returns a Recorder and starts its flusher: key makes an
// outcome's row, bounded; table says where rows are written in db.
func NewRecorder[O any, K comparable](cfg RecorderConfig, key func(day string, o O) K, table *CountTable[K], db *sql.DB) *Recorder[O, K] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Recorder[O, K]{now: cfg.Now, key: key, tally: NewTally(TallyConfig[K]{
		Name: table.Name, FlushInterval: cfg.FlushInterval, MaxPerDay: table.MaxRowsPerDay, Day: table.Day, Log: cfg.Log,
		Write: func(ctx context.Context, counts map[K]int64) (int, error) { return table.AddCounts(ctx, db, counts) },
	})}
}

// Record counts one outcome. It never blocks on storage; after Close it
// does nothing.
func (r *Recorder[O, K]) Record(_ context.Context, o O) { r.tally.Add(r.key(Day(r.now()), o)) }

// Pending returns the number of distinct rows not yet written.
func (r *Recorder[O, K]) Pending() int { return r.tally.Pending() }

// Flush writes the pending counts now; those that cannot be written stay
// pending for the next flush.
func (r *Recorder[O, K]) Flush(ctx context.Context) error { return r.tally.Flush(ctx) }

// Close stops the flusher and writes what is pending. It does not close
// the database.
func (r *Recorder[O, K]) Close() error { return r.tally.Close() }
