package dmarcrpt

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"pail/internal/reporting"
)

// Received is a stored report that another receiver sent.
type Received struct {
	ID       int64
	Received time.Time
	Report   *Feedback
}

// maxListed bounds the reports ReceivedReports returns.
const maxListed = 1000

// AddReceived stores a report; one already stored (the same org_name and
// report_id: a resent report) is kept once.
func (d *DB) AddReceived(ctx context.Context, rep *Feedback, raw []byte, now time.Time) error {
	m := rep.Metadata
	return reporting.Tx(ctx, name, d.db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO received (received, organization, report_id, policy_domain, begin, end, xml)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (organization, report_id) DO NOTHING`,
			now.UnixMilli(), m.OrgName, m.ReportID, rep.Policy.Domain, m.DateRange.Begin, m.DateRange.End, string(raw))
		if err != nil {
			return fmt.Errorf("dmarcrpt: store received report: %w", err)
		}
		return nil
	})
}

// ReceivedReports returns the stored reports whose date range begins on
// or after since (zero: all), oldest first, at most maxListed of the
// newest.
func (d *DB) ReceivedReports(ctx context.Context, since time.Time) ([]Received, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, received, xml FROM (
		SELECT id, received, xml, begin FROM received WHERE begin >= ? ORDER BY begin DESC, id DESC LIMIT ?)
		ORDER BY begin, id`, since.Unix(), maxListed)
	if err != nil {
		return nil, fmt.Errorf("dmarcrpt: received reports: %w", err)
	}
	defer rows.Close()
	var out []Received
	for rows.Next() {
		var r Received
		var at int64
		var raw string
		if err := rows.Scan(&r.ID, &at, &raw); err != nil {
			return nil, fmt.Errorf("dmarcrpt: received reports: %w", err)
		}
		r.Received = time.UnixMilli(at)
		if r.Report, err = ParseReport([]byte(raw)); err != nil {
			return nil, fmt.Errorf("dmarcrpt: received report %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
