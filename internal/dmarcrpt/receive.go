package dmarcrpt

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"pail/internal/reporting"
)

// Receiver takes aggregate reports out of mail that arrives for a local
// domain and stores them (delivery's report tap).
type Receiver = reporting.Tap[Extracted]

// NewReceiver returns the Receiver that stores reports in db. It looks at
// mail for postmaster, where the DMARC record that `pail dns-records`
// prints sends them (rua=mailto:postmaster@DOMAIN), and dmarc.
func NewReceiver(db *DB, log *slog.Logger) *Receiver {
	return &Receiver{Name: name, LocalParts: []string{"postmaster", "dmarc"}, Log: log, Extract: ExtractReports,
		Store: func(ctx context.Context, r Extracted, at time.Time) error {
			return db.AddReceived(ctx, r.Report, r.XML, at)
		},
		Describe: func(r Extracted) []any {
			m := r.Report.Metadata
			return []any{"organization", m.OrgName, "report_id", m.ReportID, "domain", r.Report.Policy.Domain}
		},
	}
}

// Extracted is one report found in a message.
type Extracted struct {
	Report *Feedback
	XML    []byte // the report's XML as sent, decompressed
}

// reportTypes are the media types an aggregate report comes in (§7.2.1.1
// names application/gzip and text/xml; receivers in the field send zip,
// and the types' x- and generic forms).
var reportTypes = []string{"application/gzip", "application/x-gzip", "application/zip", "application/x-zip-compressed",
	"application/x-zip", "text/xml", "application/xml", "application/octet-stream"}

// ExtractReports finds the aggregate reports in a message: parts of a
// report's media type (an application/octet-stream one only when its
// name ends in .xml, .xml.gz, .gz or .zip), gzip, zip or plain XML,
// each at most MaxReportBytes decompressed. The error tells of a report
// part that did not parse.
func ExtractReports(msg io.Reader) ([]Extracted, error) {
	var out []Extracted
	err := reporting.Attachments(msg, wantPart, func(_ reporting.Part, body io.Reader) error {
		data, err := Decode(body)
		if err != nil {
			return err
		}
		rep, err := ParseReport(data)
		if err != nil {
			return err
		}
		out = append(out, Extracted{Report: rep, XML: data})
		return nil
	})
	return out, err
}

func wantPart(p reporting.Part) bool {
	for _, t := range reportTypes {
		if p.MediaType != t {
			continue
		}
		if t != "application/octet-stream" {
			return true
		}
		n := strings.ToLower(p.Filename)
		return strings.HasSuffix(n, ".xml") || strings.HasSuffix(n, ".gz") || strings.HasSuffix(n, ".zip")
	}
	return false
}
