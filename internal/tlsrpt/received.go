package tlsrpt

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Received is a stored report that another server sent.
type Received struct {
	ID       int64
	Received time.Time
	Report   *Report
}

// maxListed bounds the reports ReceivedReports returns.
const maxListed = 1000

// AddReceived stores a report; one already stored (the same organization
// and report-id: a resent report) is kept once.
func (d *DB) AddReceived(ctx context.Context, rep *Report, raw []byte, now time.Time) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO received (received, organization, report_id, start, end, json)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization, report_id) DO NOTHING`,
			now.UnixMilli(), rep.OrganizationName, rep.ReportID, rep.DateRange.Start.UnixMilli(), rep.DateRange.End.UnixMilli(), string(raw))
		if err != nil {
			return fmt.Errorf("tlsrpt: store received report: %w", err)
		}
		return nil
	})
}

// ReceivedReports returns the stored reports whose date range starts on
// or after since (zero: all), oldest first, at most maxListed of the
// newest.
func (d *DB) ReceivedReports(ctx context.Context, since time.Time) ([]Received, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, received, json FROM (
		SELECT id, received, json, start FROM received WHERE start >= ? ORDER BY start DESC, id DESC LIMIT ?)
		ORDER BY start, id`, since.UnixMilli(), maxListed)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: received reports: %w", err)
	}
	defer rows.Close()
	var out []Received
	for rows.Next() {
		var r Received
		var at int64
		var raw string
		if err := rows.Scan(&r.ID, &at, &raw); err != nil {
			return nil, fmt.Errorf("tlsrpt: received reports: %w", err)
		}
		r.Received = time.UnixMilli(at)
		r.Report = &Report{}
		if err := json.Unmarshal([]byte(raw), r.Report); err != nil {
			return nil, fmt.Errorf("tlsrpt: received report %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
