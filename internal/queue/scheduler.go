package queue

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// Housekeeping intervals.
const (
	// sweepInterval is how often leftover files are looked for.
	sweepInterval = time.Hour
	// finishInterval is how often settled messages that missed their
	// DSN or removal (a failed write, another process) are looked for.
	finishInterval = time.Minute
	// orphanAge is how old a file without a record must be before it is
	// removed: younger ones may belong to an Enqueue in another process
	// that has not committed yet.
	orphanAge = time.Hour
	// dispatchBatch bounds the due (message, domain) groups read at once.
	dispatchBatch = 500
)

// Start runs the scheduler in the background, delivering through d. It
// must be called at most once.
func (q *Queue) Start(d Deliverer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return
	}
	q.started = true
	runCtx, stopRun := context.WithCancel(context.Background())
	q.jobCtx, q.stopJobs = context.WithCancel(context.Background())
	q.stopRun = stopRun
	q.runDone = make(chan struct{})
	go q.run(runCtx, d)
}

// Shutdown stops starting deliveries and waits for those in progress to
// finish; when ctx ends first, it cuts them off (they are retried after
// the next start) and waits for them to return.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	started := q.started
	q.mu.Unlock()
	if !started {
		return nil
	}
	q.stopRun()
	<-q.runDone
	done := make(chan struct{})
	go func() {
		q.jobs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		q.stopJobs()
		<-done
	}
	q.stopJobs()
	return nil
}

// run is the scheduling loop: start what is due, then sleep until the
// next attempt is due, something is enqueued or a delivery ends, or the
// poll interval passes.
func (q *Queue) run(ctx context.Context, d Deliverer) {
	defer close(q.runDone)
	q.sweep(ctx)
	q.finishAll(ctx)
	lastSweep, lastFinish := q.now(), q.now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := q.dispatch(ctx, d)
		if now := q.now(); now.Sub(lastFinish) >= finishInterval {
			q.finishAll(ctx)
			lastFinish = now
		}
		if now := q.now(); now.Sub(lastSweep) >= sweepInterval {
			q.sweep(ctx)
			lastSweep = now
		}
		wait := q.cfg.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(q.now()), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
	}
}

// group is one message's pending recipients at one domain.
type group struct{ id, domain string }

// dispatch starts a delivery for each due group that the concurrency
// limits allow, and returns when the next not-yet-due attempt is (zero if
// none is known).
func (q *Queue) dispatch(ctx context.Context, d Deliverer) time.Time {
	now := ms(q.now())
	q.mu.Lock()
	var busy []any
	for dom, n := range q.perDomain {
		if n >= q.cfg.MaxPerDomain {
			busy = append(busy, dom)
		}
	}
	full := q.active >= q.cfg.MaxConcurrent
	q.mu.Unlock()

	if !full {
		// Domains at their limit are left out of the query, so that
		// their backlog cannot crowd other domains out of the batch.
		query := "SELECT message_id, domain, MIN(next_attempt) AS due FROM recipients WHERE state = 'pending' AND next_attempt <= ?"
		args := append([]any{now}, busy...)
		if len(busy) > 0 {
			query += " AND domain NOT IN (" + strings.TrimSuffix(strings.Repeat("?,", len(busy)), ",") + ")"
		}
		query += " GROUP BY message_id, domain ORDER BY due LIMIT " + strconv.Itoa(dispatchBatch)
		groups, err := q.dueGroups(ctx, query, args...)
		if err != nil {
			q.cfg.Log.Error("queue: reading due messages", "err", err)
		}
		for _, g := range groups {
			q.mu.Lock()
			key := g.id + "\x00" + g.domain
			switch {
			case q.active >= q.cfg.MaxConcurrent:
				q.mu.Unlock()
				return time.Time{}
			case q.inflight[key] || q.perDomain[g.domain] >= q.cfg.MaxPerDomain:
				q.mu.Unlock()
				continue
			}
			q.inflight[key] = true
			q.perDomain[g.domain]++
			q.active++
			q.jobs.Add(1)
			q.mu.Unlock()
			go q.deliver(d, g)
		}
	}

	var next sql.NullInt64
	err := q.db.QueryRowContext(ctx, "SELECT MIN(next_attempt) FROM recipients WHERE state = 'pending' AND next_attempt > ?", now).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}
	}
	return fromMS(next.Int64)
}

func (q *Queue) dueGroups(ctx context.Context, query string, args ...any) ([]group, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []group
	for rows.Next() {
		var g group
		var due int64
		if err := rows.Scan(&g.id, &g.domain, &due); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// done releases a delivery's slots and wakes the scheduler, which may
// now start what the limits held back.
func (q *Queue) done(g group) {
	q.mu.Lock()
	delete(q.inflight, g.id+"\x00"+g.domain)
	if q.perDomain[g.domain]--; q.perDomain[g.domain] <= 0 {
		delete(q.perDomain, g.domain)
	}
	q.active--
	q.mu.Unlock()
	q.jobs.Done()
	q.kick()
}
