package tlsrpt

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SendState is where one report to one rua stands.
type SendState string

// The send states.
const (
	// StateSent: the report was queued (mailto) or accepted (https).
	StateSent SendState = "sent"
	// StateFailed: the last try failed; another will follow.
	StateFailed SendState = "failed"
	// StateGaveUp: every try failed; the report is not sent.
	StateGaveUp SendState = "gave-up"
	// StateNoPolicy: the domain publishes no reporting policy (the rua
	// is ""); nothing is sent.
	StateNoPolicy SendState = "no-policy"
)

// Sent is the record of one report sent, or tried, to one rua.
type Sent struct {
	Day          string
	PolicyDomain string
	RUA          string
	ReportID     string
	State        SendState
	Attempts     int
	LastError    string
	Updated      time.Time
}

// SentFor returns what was done about domain's report for day.
func (d *DB) SentFor(ctx context.Context, day, domain string) ([]Sent, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT day, policy_domain, rua, report_id, state, attempts, last_error, updated
		FROM sent WHERE day = ? AND policy_domain = ? ORDER BY rua`, day, domain)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: sent: %w", err)
	}
	defer rows.Close()
	var out []Sent
	for rows.Next() {
		var s Sent
		var updated int64
		if err := rows.Scan(&s.Day, &s.PolicyDomain, &s.RUA, &s.ReportID, &s.State, &s.Attempts, &s.LastError, &updated); err != nil {
			return nil, fmt.Errorf("tlsrpt: sent: %w", err)
		}
		s.Updated = time.UnixMilli(updated)
		out = append(out, s)
	}
	return out, rows.Err()
}

// MarkSent records the outcome of one try; attempts counts the tries
// made so far.
func (d *DB) MarkSent(ctx context.Context, s Sent) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sent (day, policy_domain, rua, report_id, state, attempts, last_error, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (day, policy_domain, rua) DO UPDATE SET report_id = excluded.report_id, state = excluded.state,
				attempts = excluded.attempts, last_error = excluded.last_error, updated = excluded.updated`,
			s.Day, s.PolicyDomain, s.RUA, s.ReportID, string(s.State), s.Attempts, s.LastError, s.Updated.UnixMilli())
		if err != nil {
			return fmt.Errorf("tlsrpt: mark sent: %w", err)
		}
		return nil
	})
}

// Prune drops the counts and send records of days before day (kept for
// `pail tlsrpt show` for a while, not for ever).
func (d *DB) Prune(ctx context.Context, before string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{"DELETE FROM counts WHERE day < ?", "DELETE FROM sent WHERE day < ?"} {
			if _, err := tx.ExecContext(ctx, q, before); err != nil {
				return fmt.Errorf("tlsrpt: prune: %w", err)
			}
		}
		return nil
	})
}
