package tlsrpt

import (
	"context"
	"io"
	"log/slog"
	"time"

	"pail/internal/reporting"
)

// ReportLocalParts are the local parts whose mail at a local domain is
// looked at for reports: postmaster (where `pail dns-records` points
// reports, and where most senders send them) and tlsrpt.
var reportLocalParts = []string{"postmaster", "tlsrpt"}

// Receiver takes reports out of mail that arrives for a local domain and
// stores them. It implements delivery's report tap.
type Receiver struct {
	DB  *DB
	Log *slog.Logger
	Now func() time.Time
}

// Wants reports whether mail for rcpt (a local recipient as given in
// RCPT TO) may carry a report: its local part is postmaster or tlsrpt.
// It is called for every local delivery, so it only looks at the string.
func (rc *Receiver) Wants(rcpt string) bool {
	return reporting.WantsLocalPart(rcpt, reportLocalParts...)
}

// Take reads a message and stores every report in it (reporting.Taker);
// it returns the number of reports stored.
func (rc *Receiver) Take(ctx context.Context, msg io.Reader) int {
	return reporting.Taker[Extracted]{Name: "tlsrpt", Log: rc.Log, Now: rc.Now, Extract: ExtractReports,
		Store: func(ctx context.Context, r Extracted, at time.Time) error {
			return rc.DB.AddReceived(ctx, r.Report, r.JSON, at)
		},
		Describe: func(r Extracted) []any {
			return []any{"organization", r.Report.OrganizationName, "report_id", r.Report.ReportID}
		},
	}.Take(ctx, msg)
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
