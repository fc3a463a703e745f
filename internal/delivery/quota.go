package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pail/internal/dsn"
	"pail/internal/store"
)

// ErrMailboxFull is returned by Commit when no recipient of the message
// has room for it in its quota (RFC 3463 4.2.2: mailbox full, a transient
// failure; smtpd answers 452 4.2.2).
var ErrMailboxFull = errors.New("delivery: mailbox full")

// quotaStore is the part of the store that knows the accounts' quotas
// (*store.Store); a Store without it has no quotas.
type quotaStore interface {
	Room(ctx context.Context, accountID int64) (room int64, limited bool, err error)
}

// Full reports whether the route has local accounts only and every one
// of them is at or past its quota, so that RCPT can be refused at once
// (RFC 5321 §4.2.2 452, RFC 3463 4.2.2). A route with room anywhere is
// taken: a message that does not fit is refused for its account at the
// end of data.
func (d *Deliverer) Full(ctx context.Context, r Route) (bool, error) {
	qs, ok := d.store.(quotaStore)
	if !ok || len(r.Accounts) == 0 || len(r.Remote) > 0 {
		return false, nil
	}
	for _, t := range r.Accounts {
		room, limited, err := qs.Room(ctx, t.ID)
		if err != nil {
			return false, fmt.Errorf("delivery: quota: %w", err)
		}
		if !limited || room > 0 {
			return false, nil
		}
	}
	return true, nil
}

// overQuota leaves out of ds (and ts, in step) the copies whose accounts
// lack room for size octets, and returns those targets.
func (m *Message) overQuota(ctx context.Context, ds []store.Delivery, ts []Target, size int64) ([]store.Delivery, []Target, []Target, error) {
	qs, ok := m.d.store.(quotaStore)
	if !ok {
		return ds, ts, nil, nil
	}
	var over []Target
	keepD, keepT := ds[:0:0], ts[:0:0]
	for i, d := range ds {
		room, limited, err := qs.Room(ctx, d.AccountID)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("delivery: quota: %w", err)
		}
		if limited && size > room {
			over = append(over, ts[i])
			continue
		}
		keepD, keepT = append(keepD, d), append(keepT, ts[i])
	}
	return keepD, keepT, over, nil
}

// fullNotice queues the notice to the sender that the recipients' mailboxes
// were full (a DSN, RFC 3464, status 5.2.2): the 250 that the other
// recipients' copies earn cannot refuse these. None goes to the null
// sender.
func (m *Message) fullNotice(ctx context.Context, over []Target, header []byte) error {
	if m.from == "" {
		return nil
	}
	rs := make([]dsn.Recipient, len(over))
	for i, t := range over {
		rs[i] = dsn.Recipient{Address: t.Rcpt, Status: "5.2.2", Reason: "mailbox full: the message is larger than the room left in the recipient's quota"}
	}
	notice := dsn.Build(dsn.Report{
		ReportingMTA: m.d.hostname, To: m.from, QueueID: m.ID, ArrivalDate: time.Now(),
		Recipients: rs, Headers: header,
	})
	if err := m.enqueueBytes(ctx, "", m.from, notice, false); err != nil {
		return fmt.Errorf("delivery: mailbox full notice: %w", err)
	}
	return nil
}
