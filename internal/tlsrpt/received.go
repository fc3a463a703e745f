package tlsrpt

import (
	"context"
	"encoding/json"
	"time"

	"pail/internal/reporting"
)

// Received is a stored report that another server sent.
type Received = reporting.Received[Report]

// receivedTable is the table of received reports, their date range in
// Unix milliseconds.
var receivedTable = reporting.ReceivedTable[Report]{
	Name: "tlsrpt", Raw: "json", Start: "start",
	StartOf: func(t time.Time) int64 { return t.UnixMilli() },
	Parse: func(raw []byte) (*Report, error) {
		r := &Report{}
		if err := json.Unmarshal(raw, r); err != nil {
			return nil, err
		}
		return r, nil
	},
}

// AddReceived stores a report; one already stored (the same organization
// and report-id: a resent report) is kept once.
func (d *DB) AddReceived(ctx context.Context, rep *Report, raw []byte, now time.Time) error {
	return receivedTable.Add(ctx, d.db, now, "organization, report_id, start, end, json",
		rep.OrganizationName, rep.ReportID, rep.DateRange.Start.UnixMilli(), rep.DateRange.End.UnixMilli(), string(raw))
}

// ReceivedReports returns the stored reports whose date range starts on
// or after since (zero: all), oldest first, at most reporting.MaxListed
// of the newest.
func (d *DB) ReceivedReports(ctx context.Context, since time.Time) ([]Received, error) {
	return receivedTable.List(ctx, d.db, since)
}
