package tlsrpt

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"time"
)

// Media types of RFC 8460 §6.4 and §6.5.
const (
	MediaTypeGzip = "application/tlsrpt+gzip"
	MediaTypeJSON = "application/tlsrpt+json"
)

// base64Line is the encoded line length (RFC 2045 §6.8: at most 76).
const base64Line = 76

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
	boundary := "tlsrpt-" + randomHex(12)
	var b strings.Builder
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	h("From", "<"+from+">")
	h("To", "<"+to+">")
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", "<"+randomHex(16)+"@"+sub.Host+">")
	h("Subject", mime.QEncoding.Encode("utf-8", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, sub.Host, rep.ReportID)))
	h("TLS-Report-Domain", domain)
	h("TLS-Report-Submitter", sub.Host)
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/report; report-type="tlsrpt"; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("This is a multipart message in MIME format.\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	fmt.Fprintf(&b, "This is an aggregate TLS report (RFC 8460) from %s\r\nabout %s for %s to %s.\r\n\r\n",
		sub.Host, domain, rep.DateRange.Start.Format(time.RFC3339), rep.DateRange.End.Format(time.RFC3339))
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: " + MediaTypeGzip + "\r\nContent-Transfer-Encoding: base64\r\n")
	b.WriteString(`Content-Disposition: attachment; filename="` + Filename(sub, rep) + `"` + "\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > base64Line {
		b.WriteString(enc[:base64Line] + "\r\n")
		enc = enc[base64Line:]
	}
	b.WriteString(enc + "\r\n")
	b.WriteString("--" + boundary + "--\r\n")
	return []byte(b.String())
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
