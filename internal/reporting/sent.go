package reporting

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// SentTable is the schema of the table that records what was sent, the
// same in every report database: one row per report day, policy domain
// and rua.
const SentTable = `
CREATE TABLE sent (
	day           TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	rua           TEXT NOT NULL,
	report_id     TEXT NOT NULL,
	state         TEXT NOT NULL, -- 'sent', 'failed' (may retry), 'gave-up', 'no-policy', ...
	attempts      INTEGER NOT NULL,
	last_error    TEXT NOT NULL,
	updated       INTEGER NOT NULL,
	PRIMARY KEY (day, policy_domain, rua)
);
`

// SendState is where one report to one rua stands.
type SendState string

// The send states.
const (
	// StateSent: the report was queued (mailto) or accepted (https).
	StateSent SendState = "sent"
	// StateFailed: the last try failed; another will follow.
	StateFailed SendState = "failed"
	// StateGaveUp: every try failed, or the report may not be sent
	// there; it is not sent.
	StateGaveUp SendState = "gave-up"
	// StateNoPolicy: the domain publishes no reporting policy (the rua
	// is ""); nothing is sent.
	StateNoPolicy SendState = "no-policy"
)

// MaxAttempts is how often one report is tried per rua before pail gives
// up on it.
const MaxAttempts = 4

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

// DayResult sums up what a day's sending did.
type DayResult struct {
	Sent    int // reports sent now
	Failed  int // tries that failed and will be tried again
	GaveUp  int // reports given up now
	Skipped int // reports sent before, or domains without a policy
}

// Book is the sent table of one database; Name prefixes errors and log
// lines.
type Book struct {
	Name string
	DB   *sql.DB
}

// SentFor returns what was done about domain's report for day.
func (b Book) SentFor(ctx context.Context, day, domain string) ([]Sent, error) {
	rows, err := b.DB.QueryContext(ctx, `SELECT day, policy_domain, rua, report_id, state, attempts, last_error, updated
		FROM sent WHERE day = ? AND policy_domain = ? ORDER BY rua`, day, domain)
	if err != nil {
		return nil, fmt.Errorf("%s: sent: %w", b.Name, err)
	}
	defer rows.Close()
	var out []Sent
	for rows.Next() {
		var s Sent
		var updated int64
		if err := rows.Scan(&s.Day, &s.PolicyDomain, &s.RUA, &s.ReportID, &s.State, &s.Attempts, &s.LastError, &updated); err != nil {
			return nil, fmt.Errorf("%s: sent: %w", b.Name, err)
		}
		s.Updated = time.UnixMilli(updated)
		out = append(out, s)
	}
	return out, rows.Err()
}

// MarkSent records the outcome of one try; Attempts counts the tries
// made so far.
func (b Book) MarkSent(ctx context.Context, s Sent) error {
	return Tx(ctx, b.Name, b.DB, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sent (day, policy_domain, rua, report_id, state, attempts, last_error, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (day, policy_domain, rua) DO UPDATE SET report_id = excluded.report_id, state = excluded.state,
				attempts = excluded.attempts, last_error = excluded.last_error, updated = excluded.updated`,
			s.Day, s.PolicyDomain, s.RUA, s.ReportID, string(s.State), s.Attempts, s.LastError, s.Updated.UnixMilli())
		if err != nil {
			return fmt.Errorf("%s: mark sent: %w", b.Name, err)
		}
		return nil
	})
}

// Prune drops the rows of days before day from the sent table and from
// the tables named (each with a day column).
func (b Book) Prune(ctx context.Context, before string, tables ...string) error {
	return Tx(ctx, b.Name, b.DB, func(tx *sql.Tx) error {
		for _, t := range append(tables, "sent") {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE day < ?", before); err != nil {
				return fmt.Errorf("%s: prune: %w", b.Name, err)
			}
		}
		return nil
	})
}

// Try is one report to send to some ruas.
type Try struct {
	Day, Domain, ReportID string
	// Prev is what was done before, by rua (from SentFor).
	Prev map[string]Sent
	// Now is the time recorded.
	Now time.Time
	Log *slog.Logger
}

// Each sends the report to every rua that it was not sent to, nor given
// up for, before, with deliver, and records each try: a failure is tried
// again on a later run, up to MaxAttempts. A deliver error that is
// Permanent gives up at once. The error is of the database.
func (b Book) Each(ctx context.Context, t Try, ruas []string, deliver func(rua string) error, res *DayResult) error {
	for _, rua := range ruas {
		p := t.Prev[rua]
		if p.State == StateSent || p.State == StateGaveUp {
			res.Skipped++
			continue
		}
		rec := Sent{Day: t.Day, PolicyDomain: t.Domain, RUA: rua, ReportID: t.ReportID, State: StateSent, Attempts: p.Attempts + 1, Updated: t.Now}
		if err := deliver(rua); err != nil {
			rec.LastError = err.Error()
			rec.State = StateFailed
			if _, perm := err.(Permanent); perm || rec.Attempts >= MaxAttempts {
				rec.State = StateGaveUp
				res.GaveUp++
			} else {
				res.Failed++
			}
			t.Log.Warn(b.Name+": sending a report failed", "domain", t.Domain, "day", t.Day, "rua", rua, "attempt", rec.Attempts, "err", err)
		} else {
			res.Sent++
			t.Log.Info(b.Name+": report sent", "domain", t.Domain, "day", t.Day, "rua", rua, "report_id", t.ReportID)
		}
		if err := b.MarkSent(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// Permanent is a deliver error that no retry mends (a report over the
// rua's size limit, a destination that did not agree to take reports).
type Permanent struct{ Err error }

func (p Permanent) Error() string { return p.Err.Error() }

// Unwrap returns the cause.
func (p Permanent) Unwrap() error { return p.Err }
