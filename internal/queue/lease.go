package queue

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Leases: a scheduler delivers a message only while it holds the
// message's lease, lease_owner (its NodeID) and lease_until (a time in
// Unix milliseconds) in the messages row. It claims the lease of a due
// message in one statement that takes only rows nobody else holds (on
// PostgreSQL, SELECT ... FOR UPDATE SKIP LOCKED, so two nodes claiming at
// once never wait on each other or both win), renews its leases every
// third of Config.Lease while deliveries run, and releases a lease once
// the message's deliveries have ended and their results are committed.
// A lease whose owner died (crash, SIGKILL, lost network) expires and is
// then claimed by another node.
//
// Exactly once: a node reads a message's recipients only after its claim
// has committed, so it sees every result that the previous holder
// committed before releasing (a holder records, then releases), and
// delivers only recipients still pending and due. A recipient goes out
// twice only when a lease expires under a live holder: a node or
// database stalled for longer than the lease, or clocks that disagree by
// that much (lease_until is written and compared with the nodes' own
// clocks; keep them synchronized). When a renewal finds the lease lost,
// or cannot renew before the lease ends, the deliveries under it are cut
// off (their deferred recipients are not recorded).

// localNodeID is the NodeID of a queue on SQLite: one scheduler runs per
// queue directory (the server's, which owns the data directory), so a
// fixed name lets a server restarted after a crash take back its leases
// at once instead of waiting for them to expire.
const localNodeID = "local"

// releaseTimeout bounds the release of the leases when a scheduler
// stops; one that cannot be released (database down) expires instead.
const releaseTimeout = 5 * time.Second

// lease is this node's claim on one message.
type lease struct {
	n      int       // deliveries in progress under it
	until  time.Time // as last written to the database
	ctx    context.Context
	cancel context.CancelFunc // cuts the deliveries when the lease is lost
}

// placeholders returns n ? separated by commas.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// claim takes the leases of ids that nobody else holds and returns those
// it got. The caller holds no lease of them in q.held.
func (q *Queue) claim(ctx context.Context, ids []string, now time.Time) (map[string]time.Time, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	lock := ""
	if q.pg {
		// Rows another node is claiming right now are skipped rather
		// than waited for; the next pass sees whether it got them.
		lock = " FOR UPDATE SKIP LOCKED"
	}
	until := now.Add(q.cfg.Lease)
	args := []any{q.cfg.NodeID, ms(until)}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, q.cfg.NodeID, ms(now))
	rows, err := q.db.QueryContext(ctx, "UPDATE messages SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM messages WHERE id IN ("+
		placeholders(len(ids))+") AND (lease_owner = '' OR lease_owner = ? OR lease_until <= ?)"+lock+") RETURNING id", args...)
	if err != nil {
		return nil, fmt.Errorf("queue: claim: %w", err)
	}
	defer rows.Close()
	got := map[string]time.Time{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("queue: claim: %w", err)
		}
		got[id] = until
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: claim: %w", err)
	}
	return got, nil
}

// newLease records a claimed lease in q.held; q.mu is held.
func (q *Queue) newLease(id string, until time.Time) *lease {
	ctx, cancel := context.WithCancel(q.jobCtx)
	l := &lease{until: until, ctx: ctx, cancel: cancel}
	q.held[id] = l
	return l
}

// releaseIdle gives back the leases under which no delivery runs, so that
// any node may take up what is left of their messages (a deferred
// recipient, when it falls due). Only the scheduling loop (and Shutdown,
// after it) calls it, so a lease is never released while the loop claims
// it again.
func (q *Queue) releaseIdle(ctx context.Context) {
	q.mu.Lock()
	var ids []any
	for id, l := range q.held {
		if l.n == 0 {
			ids = append(ids, id)
			l.cancel()
			delete(q.held, id)
		}
	}
	q.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	_, err := q.db.ExecContext(ctx, "UPDATE messages SET lease_owner = '', lease_until = 0 WHERE lease_owner = ? AND id IN ("+
		placeholders(len(ids))+")", append([]any{q.cfg.NodeID}, ids...)...)
	if err != nil {
		q.cfg.Log.Warn("queue: releasing leases (they expire instead)", "n", len(ids), "err", err)
	}
}

// renewLoop renews the held leases every third of the lease until ctx
// ends.
func (q *Queue) renewLoop(ctx context.Context) {
	defer close(q.renewDone)
	t := time.NewTicker(max(q.cfg.Lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.renew(ctx)
		}
	}
}

// renew extends every held lease. A lease the database no longer gives
// this node (taken over after it expired, or its message deleted), or
// one that could not be renewed before it ran out, is dropped and its
// deliveries cut off.
func (q *Queue) renew(ctx context.Context) {
	q.mu.Lock()
	snap := make(map[string]*lease, len(q.held))
	args := []any{0, q.cfg.NodeID}
	for id, l := range q.held {
		snap[id] = l
		args = append(args, id)
	}
	q.mu.Unlock()
	if len(snap) == 0 {
		return
	}
	now := q.now()
	until := now.Add(q.cfg.Lease)
	args[0] = ms(until)
	kept := map[string]bool{}
	rows, err := q.db.QueryContext(ctx, "UPDATE messages SET lease_until = ? WHERE lease_owner = ? AND id IN ("+
		placeholders(len(snap))+") RETURNING id", args...)
	if err == nil {
		for rows.Next() {
			var id string
			if err = rows.Scan(&id); err != nil {
				break
			}
			kept[id] = true
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		q.cfg.Log.Warn("queue: renewing leases", "err", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, l := range snap {
		if q.held[id] != l {
			continue // released (and maybe claimed again) meanwhile
		}
		switch {
		case err == nil && kept[id]:
			l.until = until
			continue
		case err != nil && now.Before(l.until):
			continue // not renewed, but not run out yet: next time
		}
		q.cfg.Log.Warn("queue: lease lost; cutting its deliveries off", "id", id, "renewal_err", err)
		l.cancel()
		delete(q.held, id)
	}
}
