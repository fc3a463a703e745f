package tlsrpt

import (
	"context"
	"io"
	"log/slog"
	"time"

	"pail/internal/reporting"
)

// Receiver takes reports out of mail that arrives for a local domain and
// stores them (delivery's report tap).
type Receiver = reporting.Tap[Extracted]

// NewReceiver returns the Receiver that stores reports in db. It looks at
// mail for postmaster (where `pail dns-records` points reports, and where
// most senders send them) and tlsrpt.
func NewReceiver(db *DB, log *slog.Logger) *Receiver {
	return &Receiver{Name: "tlsrpt", LocalParts: []string{"postmaster", "tlsrpt"}, Log: log, Extract: ExtractReports,
		Store: func(ctx context.Context, r Extracted, at time.Time) error {
			return db.AddReceived(ctx, r.Report, r.JSON, at)
		},
		Describe: func(r Extracted) []any {
			return []any{"organization", r.Report.OrganizationName, "report_id", r.Report.ReportID}
		},
	}
}

// Extracted is one report found in a message.
type Extracted struct {
	Report *Report
	JSON   []byte // the report's JSON as sent
}

// ExtractReports finds the reports in a message (RFC 8460 §5.3): parts of
// type application/tlsrpt+gzip or application/tlsrpt+json, at the top or
// in a multipart (multipart/report; report-type="tlsrpt" as the RFC
// sends them). The error tells of a report part that did not parse.
func ExtractReports(msg io.Reader) ([]Extracted, error) {
	var out []Extracted
	err := reporting.Attachments(msg, func(p reporting.Part) bool {
		return p.MediaType == MediaTypeGzip || p.MediaType == MediaTypeJSON
	}, func(p reporting.Part, body io.Reader) error {
		raw, err := readReport(body, p.MediaType == MediaTypeGzip)
		if err != nil {
			return err
		}
		rep, err := parseJSON(raw)
		if err != nil {
			return err
		}
		out = append(out, Extracted{Report: rep, JSON: raw})
		return nil
	})
	return out, err
}
