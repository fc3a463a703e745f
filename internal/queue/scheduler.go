package queue

import (
	"context"
	"database/sql"
	"strconv"
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
	renewCtx, stopRenew := context.WithCancel(context.Background())
	q.stopRenew = stopRenew
	q.renewDone = make(chan struct{})
	go q.renewLoop(renewCtx)
	go q.run(runCtx, d)
}

// Shutdown stops starting deliveries and waits for those in progress to
// finish; when ctx ends first, it cuts them off (they are retried after
// the next start, or by another node) and waits for them to return. Then
// it releases the scheduler's leases, so that another node need not wait
// for them to expire.
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
	q.stopRenew()
	<-q.renewDone
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	q.releaseIdle(rctx)
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

// dispatch gives back the leases no delivery needs any more, then starts
// a delivery for each due group that the concurrency limits allow and
// whose message's lease this node holds or can claim, and returns when
// the next not-yet-due attempt is (zero if none is known).
func (q *Queue) dispatch(ctx context.Context, d Deliverer) time.Time {
	q.releaseIdle(ctx)
	nowT := q.now()
	now := ms(nowT)
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
		// their backlog cannot crowd other domains out of the batch; so
		// are messages another node holds.
		query := `SELECT r.message_id, r.domain, MIN(r.next_attempt) AS due FROM recipients r JOIN messages m ON m.id = r.message_id
			WHERE r.state = 'pending' AND r.next_attempt <= ? AND (m.lease_owner = '' OR m.lease_owner = ? OR m.lease_until <= ?)`
		args := append([]any{now, q.cfg.NodeID, now}, busy...)
		if len(busy) > 0 {
			query += " AND r.domain NOT IN (" + placeholders(len(busy)) + ")"
		}
		query += " GROUP BY r.message_id, r.domain ORDER BY due LIMIT " + strconv.Itoa(dispatchBatch)
		groups, err := q.dueGroups(ctx, query, args...)
		if err != nil {
			q.cfg.Log.Error("queue: reading due messages", "err", err)
		}
		q.start(ctx, d, groups, nowT)
	}

	var next sql.NullInt64
	err := q.db.QueryRowContext(ctx, "SELECT MIN(next_attempt) FROM recipients WHERE state = 'pending' AND next_attempt > ?", now).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}
	}
	return fromMS(next.Int64)
}

// start starts the deliveries of groups that the limits allow: it takes
// their slots, claims the leases of their messages that this node does
// not hold yet, and gives back the slots of those it could not claim.
func (q *Queue) start(ctx context.Context, d Deliverer, groups []group, now time.Time) {
	q.mu.Lock()
	var chosen []group
	var need []string
	seen := map[string]bool{}
	for _, g := range groups {
		key := g.id + "\x00" + g.domain
		if q.active >= q.cfg.MaxConcurrent {
			break
		}
		if q.inflight[key] || q.perDomain[g.domain] >= q.cfg.MaxPerDomain {
			continue
		}
		q.inflight[key] = true
		q.perDomain[g.domain]++
		q.active++
		chosen = append(chosen, g)
		if q.held[g.id] == nil && !seen[g.id] {
			seen[g.id] = true
			need = append(need, g.id)
		}
	}
	q.mu.Unlock()
	if len(chosen) == 0 {
		return
	}
	claimed, err := q.claim(ctx, need, now)
	if err != nil {
		q.cfg.Log.Error("queue: claiming messages", "err", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, until := range claimed {
		q.newLease(id, until)
	}
	for _, g := range chosen {
		l := q.held[g.id]
		if l == nil {
			q.release(g) // another node has it
			continue
		}
		l.n++
		q.jobs.Add(1)
		go q.deliver(d, g, l)
	}
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

// done releases a delivery's slots and its hold on the lease, and wakes
// the scheduler, which may now start what the limits held back and give
// the lease back.
func (q *Queue) done(g group, l *lease) {
	q.mu.Lock()
	q.release(g)
	l.n--
	q.mu.Unlock()
	q.jobs.Done()
	q.kick()
}

// release gives back a group's slots; q.mu is held.
func (q *Queue) release(g group) {
	delete(q.inflight, g.id+"\x00"+g.domain)
	if q.perDomain[g.domain]--; q.perDomain[g.domain] <= 0 {
		delete(q.perDomain, g.domain)
	}
	q.active--
}
