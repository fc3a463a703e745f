package dmarcrpt

import (
	"context"
	"time"

	"pail/internal/reporting"
)

// Received is a stored report that another receiver sent.
type Received = reporting.Received[Feedback]

// receivedTable is the table of received reports, their date range in
// Unix seconds as the XML has it.
var receivedTable = reporting.ReceivedTable[Feedback]{
	Name: name, Raw: "xml", Start: "begin", Parse: ParseReport,
	StartOf: func(t time.Time) int64 { return t.Unix() },
}

// AddReceived stores a report; one already stored (the same org_name and
// report_id: a resent report) is kept once.
func (d *DB) AddReceived(ctx context.Context, rep *Feedback, raw []byte, now time.Time) error {
	m := rep.Metadata
	return receivedTable.Add(ctx, d.db, now, "organization, report_id, policy_domain, begin, end, xml",
		m.OrgName, m.ReportID, rep.Policy.Domain, m.DateRange.Begin, m.DateRange.End, string(raw))
}

// ReceivedReports returns the stored reports whose date range begins on
// or after since (zero: all), oldest first, at most reporting.MaxListed
// of the newest.
func (d *DB) ReceivedReports(ctx context.Context, since time.Time) ([]Received, error) {
	return receivedTable.List(ctx, d.db, since)
}
