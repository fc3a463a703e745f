package store

import (
	"context"
	"fmt"
	"time"

	"pail/internal/sqldb"
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
// On PostgreSQL, which has no data_version, every tick compares (a
// stopgap until LISTEN/NOTIFY). When the database goes away (a PostgreSQL
// restart) the connection is made again at a later tick and compared with
// the last look from before, so nothing committed meanwhile goes
// unannounced; other errors end it. Changes made by this process are announced again; events are hints, so
// that is harmless.
func (s *Store) WatchChanges(ctx context.Context, interval time.Duration) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: watch: %w", err)
	}
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
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
	// version says whether another process committed since the last
	// look: SQLite's data_version. PostgreSQL has no such counter to
	// read; there every tick reads the mailboxes' MODSEQs (LISTEN/NOTIFY
	// is to replace this polling).
	dataVersion := func() (int64, error) {
		if s.db.pg() {
			return 0, nil
		}
		var v int64
		err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
		return v, err
	}
	version, err := dataVersion()
	if err != nil {
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
		// A database that went away (a PostgreSQL restart) breaks the
		// connection: it is made again at a later tick and the look
		// compares with the snapshot from before, so that what was
		// committed meanwhile is announced too.
		if conn == nil {
			if conn, err = s.db.Conn(ctx); err != nil {
				conn = nil
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			version = -1
		}
		v, err := dataVersion()
		if err == nil && v == version && !s.db.pg() {
			continue
		}
		var cur map[int64]mbox
		if err == nil {
			cur, err = snapshot()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !sqldb.IsUnavailable(err) {
				return fmt.Errorf("store: watch: %w", err)
			}
			conn.Close()
			conn = nil
			continue
		}
		version = v
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
