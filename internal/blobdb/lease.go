package blobdb

import (
	"context"
	"fmt"
	"time"
)

// Lease is one node's handle on a named lease: a row of the leases table
// naming its holder and the time (Unix milliseconds) until which the
// holder has it. The holder keeps it by calling Acquire again well
// before that time (every third of the TTL, say); a holder that dies
// stops renewing, and once its time has passed any other node's Acquire
// takes the lease over. Times are the nodes' own clocks: keep them
// synchronized to well within the TTL, or two nodes may both believe
// they hold it for the difference.
type Lease struct {
	db     *DB
	name   string
	holder string
	ttl    time.Duration
	// Now is the clock (time.Now when nil); a test hook.
	Now func() time.Time
}

// Lease returns holder's handle on the lease name, which Acquire takes
// for ttl at a time. holder must be unique among the nodes (a host name,
// process id and random part, say).
func (d *DB) Lease(name, holder string, ttl time.Duration) *Lease {
	return &Lease{db: d, name: name, holder: holder, ttl: ttl}
}

// TTL is how long one Acquire holds the lease.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Holder is this handle's holder name.
func (l *Lease) Holder() string { return l.holder }

func (l *Lease) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Acquire takes the lease when nobody holds it or its holder's time has
// passed, or extends it when this holder has it, in one statement. It
// reports whether this holder has the lease now, and until when.
func (l *Lease) Acquire(ctx context.Context) (until time.Time, held bool, err error) {
	now := l.now()
	until = now.Add(l.ttl)
	res, err := l.db.db.ExecContext(ctx, "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) "+
		"ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until "+
		"WHERE leases.holder = excluded.holder OR leases.until <= ?",
		l.name, l.holder, until.UnixMilli(), now.UnixMilli())
	if err != nil {
		return time.Time{}, false, fmt.Errorf("blobdb: lease %s: %w", l.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("blobdb: lease %s: %w", l.name, err)
	}
	if n != 1 {
		return time.Time{}, false, nil
	}
	return until, true, nil
}

// Release gives the lease up, if this holder has it, so that another
// node may take it at once.
func (l *Lease) Release(ctx context.Context) error {
	if _, err := l.db.db.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", l.name, l.holder); err != nil {
		return fmt.Errorf("blobdb: release lease %s: %w", l.name, err)
	}
	return nil
}

// HeldBy returns who holds the lease and until when; "" when nobody does
// (never taken, released, or run out).
func (l *Lease) HeldBy(ctx context.Context) (holder string, until time.Time, err error) {
	var ms int64
	err = l.db.db.QueryRowContext(ctx, "SELECT holder, until FROM leases WHERE name = ? AND until > ?", l.name, l.now().UnixMilli()).Scan(&holder, &ms)
	if err != nil {
		if isNoRows(err) {
			return "", time.Time{}, nil
		}
		return "", time.Time{}, fmt.Errorf("blobdb: lease %s: %w", l.name, err)
	}
	return holder, time.UnixMilli(ms), nil
}
