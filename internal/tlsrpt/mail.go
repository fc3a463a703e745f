package tlsrpt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"pail/internal/reporting"
)

// Media types of RFC 8460 §6.4 and §6.5.
const (
	MediaTypeGzip = "application/tlsrpt+gzip"
	MediaTypeJSON = "application/tlsrpt+json"
)

// Filename is the report's file name (RFC 8460 §5.1):
//
//	filename = sender "!" policy-domain "!" begin-timestamp
//	           "!" end-timestamp [ "!" unique-id ] "." extension
//
// with the timestamps in seconds since the epoch and extension
// "json.gz" for a compressed report.
func Filename(sub Submitter, rep *Report) string {
	sum := sha256.Sum256([]byte(rep.ReportID))
	return fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", sub.Host, policyDomain(rep),
		rep.DateRange.Start.Unix(), rep.DateRange.End.Unix(), hex.EncodeToString(sum[:6]))
}

// policyDomain is the domain a report is about.
func policyDomain(rep *Report) string {
	if len(rep.Policies) == 0 {
		return ""
	}
	return rep.Policies[0].Policy.Domain
}

// ComposeMail makes the message that carries a gzipped report to a
// mailto: rua (RFC 8460 §5.3): multipart/report with report-type
// "tlsrpt", a text part for people, and the report as an
// application/tlsrpt+gzip attachment named by Filename; the
// TLS-Report-Domain and TLS-Report-Submitter fields, and the Subject the
// section gives. The message is to be DKIM-signed on the way out
// (§5.3: reports sent by mail MUST be signed), so from should be an
// address at a local domain.
func ComposeMail(sub Submitter, from, to string, rep *Report, gz []byte, date time.Time) []byte {
	domain := policyDomain(rep)
	return reporting.Mail{
		From: from, To: to, Host: sub.Host, Date: date,
		Subject:     fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, sub.Host, rep.ReportID),
		Header:      [][2]string{{"TLS-Report-Domain", domain}, {"TLS-Report-Submitter", sub.Host}},
		ContentType: `multipart/report; report-type="tlsrpt"`,
		Text: fmt.Sprintf("This is an aggregate TLS report (RFC 8460) from %s\r\nabout %s for %s to %s.\r\n\r\n",
			sub.Host, domain, rep.DateRange.Start.Format(time.RFC3339), rep.DateRange.End.Format(time.RFC3339)),
		AttachmentType: MediaTypeGzip, Filename: Filename(sub, rep), Attachment: gz,
	}.Bytes()
}
