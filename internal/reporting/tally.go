package reporting

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultFlushInterval is how often a Tally writes its counts: what a
// crash can lose (a few seconds of counts: a report a little low, never
// mail).
const DefaultFlushInterval = 5 * time.Second

// flushTimeout bounds one write of the counts.
const flushTimeout = 30 * time.Second

// TallyConfig configures a Tally of keys K.
type TallyConfig[K comparable] struct {
	// Name prefixes log lines ("tlsrpt").
	Name string
	// FlushInterval is how often counts are written; 0 means
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// MaxPerDay bounds the distinct keys of one day held in memory; the
	// new keys of a day past it are dropped (and logged), never the
	// counts of those already known.
	MaxPerDay int
	// Day is the UTC day a key counts in.
	Day func(K) string
	// Write adds counts to the database; it returns how many keys it did
	// not add because the day's rows were full.
	Write func(ctx context.Context, counts map[K]int64) (dropped int, err error)
	// Log receives a line when counts cannot be written or are dropped.
	Log *slog.Logger
}

// Tally counts events by key. Add only updates a map; a goroutine writes
// the counts every FlushInterval, and Close writes what is left. It is
// safe for concurrent use.
type Tally[K comparable] struct {
	cfg  TallyConfig[K]
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending map[K]int64
	perDay  map[string]int // distinct keys pending per day
	dropped int            // events dropped by the cap since the last flush
	closed  bool
}

// NewTally returns a Tally and starts its flusher.
func NewTally[K comparable](cfg TallyConfig[K]) *Tally[K] {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tally[K]{cfg: cfg, log: log, stop: make(chan struct{}), done: make(chan struct{}),
		pending: map[K]int64{}, perDay: map[string]int{}}
	go t.loop()
	return t
}

// Add counts one event under k. It never blocks on storage; after Close
// it does nothing.
func (t *Tally[K]) Add(k K) {
	day := t.cfg.Day(k)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if _, ok := t.pending[k]; !ok {
		if t.perDay[day] >= t.cfg.MaxPerDay {
			t.dropped++
			return
		}
		t.perDay[day]++
	}
	t.pending[k]++
}

// Pending returns the number of distinct keys not yet written.
func (t *Tally[K]) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

func (t *Tally[K]) loop() {
	defer close(t.done)
	tick := time.NewTicker(t.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.Flush(context.Background())
		}
	}
}

// Flush writes the pending counts now. Counts that cannot be written stay
// pending for the next flush.
func (t *Tally[K]) Flush(ctx context.Context) error {
	t.mu.Lock()
	counts, dropped := t.pending, t.dropped
	t.pending, t.perDay, t.dropped = map[K]int64{}, map[string]int{}, 0
	t.mu.Unlock()
	if dropped > 0 {
		t.log.Warn(t.cfg.Name+": too many distinct rows today; some are not counted", "dropped", dropped, "max_rows", t.cfg.MaxPerDay)
	}
	if len(counts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	n, err := t.cfg.Write(ctx, counts)
	if n > 0 {
		t.log.Warn(t.cfg.Name+": the day's rows are full; new rows are not counted", "dropped_rows", n, "max_rows", t.cfg.MaxPerDay)
	}
	if err != nil {
		t.log.Warn(t.cfg.Name+": writing counts failed; kept for the next try", "err", err)
		t.mu.Lock()
		for k, v := range counts {
			if _, ok := t.pending[k]; !ok {
				t.perDay[t.cfg.Day(k)]++
			}
			t.pending[k] += v
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

// Close stops the flusher and writes what is pending.
func (t *Tally[K]) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	return t.Flush(context.Background())
}

// CountTable describes the table a Tally's counts are written to: one row
// per key, its columns KeyColumns (the first of them the day, the second
// the policy domain), and the count in CountColumn.
type CountTable[K comparable] struct {
	Name        string // prefixes errors
	Table       string
	KeyColumns  []string
	CountColumn string
	// Args are a key's values for KeyColumns, in order; Dest points at
	// its fields in that order, for reading a row; Day is its day.
	Args func(K) []any
	Dest func(*K) []any
	Day  func(K) string
	// MaxRowsPerDay bounds the rows of one day.
	MaxRowsPerDay int
}

// AddCounts adds counts to the table in one transaction of db. Rows new
// to a day that already has MaxRowsPerDay are not added; their number is
// returned.
func (c *CountTable[K]) AddCounts(ctx context.Context, db *sql.DB, counts map[K]int64) (dropped int, err error) {
	if len(counts) == 0 {
		return 0, nil
	}
	keys := make([]K, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	// A fixed order, so that the cap is deterministic.
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	cols := strings.Join(c.KeyColumns, ", ")
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(c.KeyColumns)), ", ")
	update := "UPDATE " + c.Table + " SET " + c.CountColumn + " = " + c.CountColumn + " + ? WHERE (" + cols + ") = (" + marks + ")"
	insert := "INSERT INTO " + c.Table + " (" + cols + ", " + c.CountColumn + ") VALUES (" + marks + ", ?)"
	countDay := "SELECT count(*) FROM " + c.Table + " WHERE " + c.KeyColumns[0] + " = ?"
	err = Tx(ctx, c.Name, db, func(tx *sql.Tx) error {
		rows := map[string]int{}
		for _, k := range keys {
			args := c.Args(k)
			res, err := tx.ExecContext(ctx, update, append([]any{counts[k]}, args...)...)
			if err != nil {
				return fmt.Errorf("%s: add counts: %w", c.Name, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				continue
			}
			day := c.Day(k)
			have, ok := rows[day]
			if !ok {
				if err := tx.QueryRowContext(ctx, countDay, day).Scan(&have); err != nil {
					return fmt.Errorf("%s: add counts: %w", c.Name, err)
				}
			}
			if have >= c.MaxRowsPerDay {
				dropped++
				rows[day] = have
				continue
			}
			if _, err := tx.ExecContext(ctx, insert, append(args, counts[k])...); err != nil {
				return fmt.Errorf("%s: add counts: %w", c.Name, err)
			}
			rows[day] = have + 1
		}
		return nil
	})
	return dropped, err
}

// Counted is one row of a CountTable: a key and its count.
type Counted[K comparable] struct {
	Key K
	N   int64
}

// Rows returns the rows of day, of one policy domain unless domain is "",
// ordered by the key columns.
func (c *CountTable[K]) Rows(ctx context.Context, db *sql.DB, day, domain string) ([]Counted[K], error) {
	q := "SELECT " + strings.Join(c.KeyColumns, ", ") + ", " + c.CountColumn + " FROM " + c.Table + " WHERE " + c.KeyColumns[0] + " = ?"
	args := []any{day}
	if domain != "" {
		q += " AND " + c.KeyColumns[1] + " = ?"
		args = append(args, domain)
	}
	rows, err := db.QueryContext(ctx, q+" ORDER BY "+strings.Join(c.KeyColumns, ", "), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: counts: %w", c.Name, err)
	}
	defer rows.Close()
	var out []Counted[K]
	for rows.Next() {
		var r Counted[K]
		if err := rows.Scan(append(c.Dest(&r.Key), &r.N)...); err != nil {
			return nil, fmt.Errorf("%s: counts: %w", c.Name, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: counts: %w", c.Name, err)
	}
	return out, nil
}

// Domains returns the policy domains with counts on day.
func (c *CountTable[K]) Domains(ctx context.Context, db *sql.DB, day string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT "+c.KeyColumns[1]+" FROM "+c.Table+" WHERE "+c.KeyColumns[0]+" = ? ORDER BY 1", day)
	if err != nil {
		return nil, fmt.Errorf("%s: domains: %w", c.Name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("%s: domains: %w", c.Name, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: domains: %w", c.Name, err)
	}
	return out, nil
}
