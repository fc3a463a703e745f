package dmarcrpt

import (
	"fmt"
	"time"

	"pail/internal/reporting"
)

// ComposeMail makes the message that carries a gzipped report to a
// mailto: rua (RFC 7489 §7.2.1.1): a text part for people and the report
// as an application/gzip attachment named by Filename, with the Subject
// the section gives:
//
//	Report Domain: <policy domain> Submitter: <receiver> Report-ID: <id>
//
// From must be at a local domain: the message is DKIM-signed on the way
// out, so that it passes DMARC itself as the section asks.
func ComposeMail(sub Submitter, from, to string, f *Feedback, gz []byte, date time.Time) []byte {
	domain := f.Policy.Domain
	begin, end := time.Unix(f.Metadata.DateRange.Begin, 0).UTC(), time.Unix(f.Metadata.DateRange.End, 0).UTC()
	return reporting.Mail{
		From: from, To: to, Host: sub.Host, Date: date,
		Subject:     fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, sub.Host, f.Metadata.ReportID),
		ContentType: "multipart/mixed",
		Text: fmt.Sprintf("This is a DMARC aggregate report (RFC 7489) from %s\r\nabout mail from %s for %s to %s.\r\n\r\n",
			sub.Host, domain, begin.Format(time.RFC3339), end.Format(time.RFC3339)),
		AttachmentType: MediaTypeGzip, Filename: Filename(sub, f), Attachment: gz,
	}.Bytes()
}
