package store

import (
	"context"
	"fmt"
	"time"
)

// EventChanged says that a mailbox changed in some way the store could not
// name, typically through another process (an admin command such as
// `pail import`) writing the same database.
const EventChanged EventKind = 100

// DefaultWatchInterval is how often WatchChanges looks for commits by other
// processes: short enough that an IDLE client hears of imported mail within
// a second, long enough to cost nothing measurable.
const DefaultWatchInterval = 500 * time.Millisecond

// WatchChanges publishes events for changes that other processes commit to
// the database, until ctx ends. It polls SQLite's PRAGMA data_version on
// one dedicated connection (the value changes when any other connection
// commits) and, when it changed, compares every mailbox's modification
// sequence with the last look, publishing EventChanged for each mailbox that
// moved and EventMailboxes for accounts whose set of mailboxes changed.
// Changes made by this process are announced again; events are hints, so
// that is harmless.
func (s *Store) WatchChanges(ctx context.Context, interval time.Duration) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: watch: %w", err)
	}
	defer conn.Close()
	type mbox struct {
		account int64
		modseq  uint64
	}
	snapshot := func() (map[int64]mbox, error) {
		rows, err := conn.QueryContext(ctx, "SELECT id, account_id, modseq FROM mailboxes")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[int64]mbox{}
		for rows.Next() {
			var id int64
			var m mbox
			if err := rows.Scan(&id, &m.account, &m.modseq); err != nil {
				return nil, err
			}
			out[id] = m
		}
		return out, rows.Err()
	}
	var version int64
	if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&version); err != nil {
		return fmt.Errorf("store: watch: %w", err)
	}
	last, err := snapshot()
	if err != nil {
		return fmt.Errorf("store: watch: %w", err)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("store: watch: %w", err)
		}
		if v == version {
			continue
		}
		version = v
		cur, err := snapshot()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("store: watch: %w", err)
		}
		for id, m := range cur {
			old, ok := last[id]
			switch {
			case !ok:
				s.hub.publish(Event{AccountID: m.account, MailboxID: id, Kind: EventMailboxes})
			case old.modseq != m.modseq:
				s.hub.publish(Event{AccountID: m.account, MailboxID: id, Kind: EventChanged})
			}
		}
		for id, m := range last {
			if _, ok := cur[id]; !ok {
				s.hub.publish(Event{AccountID: m.account, MailboxID: id, Kind: EventMailboxes})
			}
		}
		last = cur
	}
}
