// Package dsn builds delivery status notifications, the bounce messages
// that tell a sender their mail could not be delivered: a
// multipart/report (RFC 6522) of report-type delivery-status (RFC 3464)
// with a human-readable explanation, the machine-readable status of each
// failed recipient, and the headers of the original message
// (text/rfc822-headers). A DSN is marked Auto-Submitted: auto-replied
// (RFC 3834) and is sent with the null envelope sender so that it can
// never cause another bounce.
package dsn

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Subject is the subject of every DSN (Postfix's wording, which users
// and filters know).
const Subject = "Undelivered Mail Returned to Sender"

// maxHeaderBytes bounds the original header section returned in a DSN.
const maxHeaderBytes = 64 << 10

// Recipient is one recipient whose delivery failed for good.
type Recipient struct {
	// Address is the recipient address (Final-Recipient).
	Address string
	// Status is the RFC 3463 status code, "5.1.1".
	Status string
	// RemoteMTA is the host that gave Reply; "" when none did.
	RemoteMTA string
	// Reply is the remote server's SMTP reply, "550 5.1.1 No such user";
	// "" when the failure happened here (no such domain, expiry).
	Reply string
	// Reason is our own explanation ("domain does not exist", "delivery
	// time expired"); shown before Reply when both are set.
	Reason string
	// LastAttempt is when delivery was last tried; zero leaves it out.
	LastAttempt time.Time
}

// Report describes one DSN.
type Report struct {
	// ReportingMTA is our host name (Reporting-MTA, From: MAILER-DAEMON@).
	ReportingMTA string
	// To is the original envelope sender, who receives the DSN.
	To string
	// QueueID is the original message's queue id, for the postmaster.
	QueueID string
	// ArrivalDate is when the original message was received.
	ArrivalDate time.Time
	// Date is when the DSN is made; zero means now.
	Date time.Time
	// MessageID is the DSN's Message-ID without angle brackets; empty
	// means a random one at ReportingMTA.
	MessageID string
	// Boundary separates the MIME parts; empty means a random one.
	Boundary string
	// Recipients are the failed recipients.
	Recipients []Recipient
	// Headers is the original message's header section.
	Headers []byte
}

// Build returns the DSN message, with CRLF line endings.
func Build(r Report) []byte {
	if r.Date.IsZero() {
		r.Date = time.Now()
	}
	if r.MessageID == "" {
		r.MessageID = randomToken() + "@" + r.ReportingMTA
	}
	if r.Boundary == "" {
		r.Boundary = "=_pail-dsn-" + randomToken()
	}
	host := clean(r.ReportingMTA)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }

	w("From: Mail Delivery System <MAILER-DAEMON@%s>", host)
	w("To: <%s>", clean(r.To))
	w("Subject: %s", Subject)
	w("Date: %s", r.Date.Format(time.RFC1123Z))
	w("Message-ID: <%s>", clean(r.MessageID))
	// RFC 3834 §5: an automatic response, so responders stay quiet.
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	// RFC 6522 §3, RFC 3464 §2.
	w("Content-Type: multipart/report; report-type=delivery-status;")
	w("\tboundary=\"%s\"", r.Boundary)
	w("")
	w("This is a MIME-encapsulated message.")
	w("")

	// Part 1: for people.
	var text strings.Builder
	t := func(format string, args ...any) { fmt.Fprintf(&text, format+"\r\n", args...) }
	t("This is the mail system at host %s.", host)
	t("")
	t("Your message could not be delivered to one or more recipients.")
	t("The reasons are given below; the headers of your message are")
	t("attached.")
	t("")
	t("For further assistance, please contact <postmaster@%s>.", host)
	for _, rc := range r.Recipients {
		t("")
		t("<%s>:", clean(rc.Address))
		if rc.Reason != "" {
			writeWrapped(&text, "    ", clean(rc.Reason))
		}
		if rc.Reply != "" {
			who := "the remote server"
			if rc.RemoteMTA != "" {
				who = "host " + clean(rc.RemoteMTA)
			}
			writeWrapped(&text, "    ", who+" said: "+clean(rc.Reply))
		}
	}
	w("--%s", r.Boundary)
	w("Content-Description: Notification")
	writePart(&b, "text/plain; charset=us-ascii", "text/plain; charset=utf-8", text.String())

	// Part 2: for programs (RFC 3464 §2.2, §2.3).
	var st strings.Builder
	s := func(format string, args ...any) { fmt.Fprintf(&st, format+"\r\n", args...) }
	s("Reporting-MTA: dns; %s", host)
	if r.QueueID != "" {
		s("X-Pail-Queue-ID: %s", clean(r.QueueID))
	}
	if !r.ArrivalDate.IsZero() {
		s("Arrival-Date: %s", r.ArrivalDate.Format(time.RFC1123Z))
	}
	for _, rc := range r.Recipients {
		s("")
		addrType := "rfc822"
		if !isASCII(rc.Address) {
			addrType = "utf-8" // RFC 6533 §3
		}
		s("Final-Recipient: %s; %s", addrType, clean(rc.Address))
		s("Action: failed")
		s("Status: %s", clean(rc.Status))
		if rc.RemoteMTA != "" {
			s("Remote-MTA: dns; %s", clean(rc.RemoteMTA))
		}
		if rc.Reply != "" {
			writeFolded(&st, "Diagnostic-Code: smtp; "+clean(rc.Reply))
		}
		if !rc.LastAttempt.IsZero() {
			s("Last-Attempt-Date: %s", rc.LastAttempt.Format(time.RFC1123Z))
		}
	}
	w("--%s", r.Boundary)
	w("Content-Description: Delivery report")
	// RFC 6533 §6: message/global-delivery-status when addresses are
	// UTF-8.
	writePart(&b, "message/delivery-status", "message/global-delivery-status", st.String())

	// Part 3: the original headers (RFC 6522 §4).
	w("--%s", r.Boundary)
	w("Content-Description: Undelivered Message Headers")
	writePart(&b, "text/rfc822-headers", "text/rfc822-headers", headerSection(r.Headers))
	w("--%s--", r.Boundary)
	return []byte(b.String())
}

// writePart writes the Content-Type of a body part (asciiType, or
// utf8Type with 8bit encoding when the body is not ASCII), the blank line
// and the body, followed by a blank line before the next boundary.
func writePart(b *strings.Builder, asciiType, utf8Type, body string) {
	if isASCII(body) {
		b.WriteString("Content-Type: " + asciiType + "\r\n\r\n")
	} else {
		b.WriteString("Content-Type: " + utf8Type + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	}
	b.WriteString(body)
	b.WriteString("\r\n")
}

// HeaderSection returns the header section at the start of msg: up to and
// including the line break before the first empty line, or all of msg when
// there is no body.
func HeaderSection(msg []byte) []byte {
	s := string(msg)
	if strings.HasPrefix(s, "\r\n") || strings.HasPrefix(s, "\n") {
		return nil
	}
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return msg[:i+2]
	}
	if i := strings.Index(s, "\n\n"); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

// headerSection normalises the original headers for the third part: CRLF
// line endings, bounded size, cut at a line boundary, ending in CRLF.
func headerSection(h []byte) string {
	s := strings.ReplaceAll(string(h), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "")
	if len(s) > maxHeaderBytes {
		s = s[:maxHeaderBytes]
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[:i+1]
		}
	}
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		// RFC 5322 §2.1.1: lines of at most 998 characters.
		for len(line) > 998 {
			b.WriteString(line[:998] + "\r\n")
			line = " " + line[998:]
		}
		b.WriteString(line + "\r\n")
	}
	return b.String()
}

// writeWrapped writes text as lines of about 76 characters, each starting
// with indent.
func writeWrapped(b *strings.Builder, indent, text string) {
	const width = 76
	line := indent
	for _, word := range words(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\r\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\r\n")
}

// writeFolded writes a header field, folded at spaces (RFC 5322 §2.2.3)
// to keep lines near 78 characters.
func writeFolded(b *strings.Builder, field string) {
	const width = 78
	line := ""
	for _, word := range words(field) {
		if line != "" && len(line)+1+len(word) > width {
			b.WriteString(line + "\r\n")
			line = "\t" + word
			continue
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\r\n")
}

// maxWord bounds a word in wrapped text; longer ones are cut, so that no
// line passes RFC 5322's 998 characters.
const maxWord = 500

// words splits text at white space, cutting words longer than maxWord.
func words(text string) []string {
	var out []string
	for _, w := range strings.Fields(text) {
		for len(w) > maxWord {
			out = append(out, w[:maxWord])
			w = w[maxWord:]
		}
		out = append(out, w)
	}
	return out
}

// clean makes a value safe inside a header or text line: no control
// characters, so nothing can start a new line or field.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func randomToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
