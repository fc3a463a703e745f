package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pail/internal/maillog"
	"pail/internal/remote"
	"pail/internal/sqldb"
)

// recordTimeout bounds the writes that record an attempt's results; they
// run even when the queue is shutting down, since the results are real.
const recordTimeout = time.Minute

// deliver makes one attempt for a group, under the lease l of its
// message, and records the results. The recipients are read after the
// lease was claimed, so that those another node delivered before giving
// the lease up are not sent again.
func (q *Queue) deliver(d Deliverer, g group, l *lease) {
	defer q.done(g, l)
	ctx := l.ctx
	m, err := q.load(ctx, q.db, g.id, g.domain)
	if errors.Is(err, ErrNotFound) {
		return // deleted meanwhile
	}
	if err != nil {
		q.cfg.Log.Error("queue: loading message", "id", g.id, "err", err)
		return
	}
	var rcpts []string
	now := q.now()
	for _, r := range m.Recipients {
		// A recipient that another node attempted meanwhile waits for
		// the retry time that node recorded.
		if r.State == Pending && !r.NextAttempt.After(now) {
			rcpts = append(rcpts, r.Address)
		}
	}
	if len(rcpts) == 0 {
		return
	}
	var results []remote.Result
	var took time.Duration
	// The next attempt is counted from when this one began, so a slow
	// delivery does not push its retry later.
	began := q.now()
	f, err := q.OpenBody(ctx, m)
	if err != nil {
		q.cfg.Log.Error("queue: message file", "id", g.id, "err", err)
		results = make([]remote.Result, len(rcpts))
		for i, r := range rcpts {
			results[i] = remote.Result{Rcpt: r, Status: remote.Deferred, Reply: remote.Reply{Enhanced: "4.3.0", Text: "queue file unreadable: " + err.Error()}}
		}
	} else {
		start := time.Now()
		results = d.Deliver(ctx, g.domain, remote.Message{ID: m.ID, From: m.From, Rcpts: rcpts, Body: f, Size: m.Size})
		took = time.Since(start)
		f.Close()
	}
	if len(results) != len(rcpts) {
		q.cfg.Log.Error("queue: deliverer returned the wrong number of results", "id", g.id, "want", len(rcpts), "got", len(results))
		return
	}
	// A delivery cut short by shutdown was not a real attempt: leave its
	// deferred recipients as they were, due at once after the restart.
	cut := ctx.Err() != nil
	rctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if err := q.record(rctx, m, results, cut, began, took); err != nil {
		q.cfg.Log.Error("queue: recording results", "id", g.id, "err", err)
		return
	}
	if err := q.finish(rctx, m.ID); err != nil {
		q.cfg.Log.Error("queue: settling message", "id", g.id, "err", err)
	}
}

// record stores the results of an attempt that began at now (took is
// how long it lasted, for the mail log), one recipient each: delivered,
// failed for good, or deferred until the next attempt (or failed, when the
// message has outlived the queue lifetime).
func (q *Queue) record(ctx context.Context, m Message, results []remote.Result, cut bool, now time.Time, took time.Duration) error {
	expiry := m.Created.Add(q.cfg.Lifetime)
	attempts := map[string]int{}
	for _, r := range m.Recipients {
		attempts[r.Address] = r.Attempts
	}
	type logLine struct {
		event string
		kv    []string
	}
	var lines []logLine
	err := q.db.Tx(ctx, func(tx *sqldb.Tx) error {
		for _, res := range results {
			if cut && res.Status != remote.Delivered && res.Status != remote.Failed {
				continue
			}
			n := attempts[res.Rcpt] + 1
			state, next := Pending, time.Time{}
			kv := []string{"id", m.ID, "from", "<" + m.From + ">", "to", "<" + res.Rcpt + ">", "size", fmt.Sprint(m.Size),
				"relay", relay(res), "attempts", fmt.Sprint(n), "duration", took.Round(time.Millisecond).String(), "reply", res.Reply.String()}
			switch res.Status {
			case remote.Delivered:
				state = Delivered
				lines = append(lines, logLine{maillog.Delivered, kv})
			case remote.Failed:
				state = Failed // logged as bounced when the DSN goes out
			default:
				if !now.Before(expiry) {
					state = Failed
					break
				}
				// The last attempt falls due at the expiry, so that a
				// message bounces when its time is up, not hours later.
				next = now.Add(q.backoff(n))
				if next.After(expiry) {
					next = expiry
				}
				lines = append(lines, logLine{maillog.Deferred, append(kv, "next", next.UTC().Format(time.RFC3339))})
			}
			nextMS := int64(0)
			if state == Pending {
				nextMS = ms(next)
			}
			_, err := tx.ExecContext(ctx, `UPDATE recipients SET state = ?, attempts = ?, next_attempt = ?, last_attempt = ?,
				code = ?, status = ?, text = ?, remote_mta = ? WHERE message_id = ? AND address = ? AND state = 'pending'`,
				string(state), n, nextMS, ms(now), res.Reply.Code, res.Reply.Enhanced, res.Reply.Text, res.RemoteMTA, m.ID, res.Rcpt)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range lines {
		q.cfg.MailLog.Log(l.event, l.kv...)
	}
	return nil
}

// resultOf rebuilds enough of a result from a record for relay.
func resultOf(r Recipient) remote.Result {
	return remote.Result{RemoteMTA: r.RemoteMTA}
}

// relay names the server of a result for the mail log, "host[addr]".
func relay(r remote.Result) string {
	switch {
	case r.RemoteMTA == "":
		return "none"
	case r.Addr == "":
		return r.RemoteMTA
	}
	return r.RemoteMTA + "[" + r.Addr + "]"
}
