package rspamd

import (
	"fmt"
	"mime"
	"slices"
	"strings"
	"unicode/utf8"

	"pail/internal/verify"
)

// Disposition is what pail does with a message once rspamd has judged it.
type Disposition int

// The dispositions, from the mildest.
const (
	// Deliver files the message as usual (the INBOX, or where Sieve
	// says).
	Deliver Disposition = iota
	// Junk delivers the message to the recipient's Junk mailbox, marked
	// as spam (X-Spam-Flag: YES).
	Junk
	// Defer refuses the message for now: the client keeps it and tries
	// again later (DeferCode).
	Defer
	// Refuse refuses the message for good: nothing is stored, the client
	// bounces it to its sender (RefuseCode).
	Refuse
)

func (d Disposition) String() string {
	switch d {
	case Deliver:
		return "deliver"
	case Junk:
		return "junk"
	case Defer:
		return "defer"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("Disposition(%d)", int(d))
}

// SMTP replies of the refusing dispositions.
const (
	// RefuseCode, RefuseEnhanced: RFC 5321 §4.2.3 554 "Transaction
	// failed", RFC 3463 §3.8 X.7.1 "delivery not authorized, message
	// refused".
	RefuseCode     = 554
	RefuseEnhanced = "5.7.1"
	// DeferCode, DeferEnhanced: RFC 5321 §4.2.3 451 "Requested action
	// aborted: local error in processing" (a transient failure, RFC 5321
	// §4.2.1: the client retries), with the same X.7.1 detail.
	DeferCode     = 451
	DeferEnhanced = "4.7.1"
)

// maxReplyText bounds the text rspamd may put in an SMTP reply, well
// within RFC 5321 §4.5.3.1.5's 512 octets per reply line.
const maxReplyText = 200

// maxStatusTests bounds how many symbols X-Spam-Status names.
const maxStatusTests = 50

// Verdict is what a Result means for one message: its disposition, the
// SMTP reply when it is refused, and the changes to its header when it is
// delivered.
type Verdict struct {
	Disposition Disposition
	// Code, Enhanced and Text are the SMTP reply for Defer and Refuse.
	Code     int
	Enhanced string
	Text     string
	// Headers are the fields to prepend when the message is delivered:
	// pail's X-Spam-* fields, then those rspamd asked for.
	Headers []Header
	// Remove are the fields rspamd asked to remove (Result.RemoveHeaders).
	Remove map[string]int
	// Subject, when set, replaces the message's Subject (RewriteSubject).
	Subject string
}

// Verdict maps rspamd's action onto what pail does (issue 15, item 5):
//
//   - Reject: Refuse, 554 5.7.1.
//   - SoftReject: Defer, 451 4.7.1.
//   - Greylist: Defer, 451 4.7.1. rspamd only answers greylist when its
//     own greylist module is on, and that module remembers the triple and
//     lets the retry through; treating it as "no action" would make the
//     module pointless. (pail's own greylisting is a separate switch.)
//   - AddHeader, RewriteSubject: Junk, with X-Spam-Flag: YES and, for
//     RewriteSubject, the Subject rspamd made.
//   - NoAction, and any action this package does not know (a custom one
//     in rspamd's configuration): Deliver.
//
// Every delivered message that rspamd judged gets X-Spam-Status,
// X-Spam-Score and X-Spam-Action, plus the fields rspamd's milter_headers
// asked for. The zero Result (what Check returns with an error: rspamd
// did not answer) is Deliver with nothing added.
func (r Result) Verdict() Verdict {
	if r.Action == "" {
		return Verdict{Disposition: Deliver}
	}
	v := Verdict{Disposition: Deliver, Remove: r.RemoveHeaders}
	spam := false
	switch r.Action {
	case Reject:
		v.Disposition, v.Code, v.Enhanced = Refuse, RefuseCode, RefuseEnhanced
		v.Text = replyText(r.SMTPMessage, "Message refused as spam")
		spam = true
	case SoftReject:
		v.Disposition, v.Code, v.Enhanced = Defer, DeferCode, DeferEnhanced
		v.Text = replyText(r.SMTPMessage, "Message deferred, try again later")
	case Greylist:
		v.Disposition, v.Code, v.Enhanced = Defer, DeferCode, DeferEnhanced
		v.Text = replyText(r.SMTPMessage, "Greylisted, try again later")
	case AddHeader, RewriteSubject:
		v.Disposition = Junk
		spam = true
		if r.Action == RewriteSubject && r.Subject != "" {
			v.Subject = r.Subject
		}
	}
	status := "No"
	if spam {
		status = "Yes"
		if v.Disposition == Junk {
			v.Headers = append(v.Headers, Header{"X-Spam-Flag", "YES"})
		}
	}
	var tests []string
	for name, s := range r.Symbols {
		if s.Score != 0 && validFieldName(name) {
			tests = append(tests, name)
		}
	}
	slices.Sort(tests)
	if len(tests) > maxStatusTests {
		tests = tests[:maxStatusTests]
	}
	st := fmt.Sprintf("%s, score=%.2f required=%.2f", status, r.Score, r.RequiredScore)
	if len(tests) > 0 {
		st += " tests=" + strings.Join(tests, ", ")
	}
	v.Headers = append(v.Headers,
		Header{"X-Spam-Status", st},
		Header{"X-Spam-Score", fmt.Sprintf("%.2f", r.Score)},
		Header{"X-Spam-Action", printable(string(r.Action), 40)},
	)
	v.Headers = append(v.Headers, r.AddHeaders...)
	return v
}

// replyText is rspamd's suggested reply text, made safe for an SMTP
// reply line, or def.
func replyText(s, def string) string {
	if t := printable(s, maxReplyText); t != "" {
		return t
	}
	return def
}

// ownHeaders are the fields pail adds; copies already in a message were
// not added by pail and are removed before its own go in, so that no
// sender can mark its own mail as checked and clean.
var ownHeaders = []string{"X-Spam-Flag", "X-Spam-Status", "X-Spam-Score", "X-Spam-Action"}

// Edit is what the verdict changes in a message whose header section is
// header (the whole section, as verify.Message.Header holds it): fields
// are the fields to prepend, Headers in their order and then the new
// Subject, each ending in CRLF; remove are the fields to leave out, as
// spans of header: any X-Spam-* fields of pail's names, the fields rspamd
// named (RemoveHeaders), and the old Subject when it is replaced. A nil
// header (one too large to have been read whole) removes nothing and
// keeps the Subject; the fields are prepended all the same.
func (v Verdict) Edit(header []byte) (fields string, remove []verify.Span) {
	var b strings.Builder
	for _, f := range v.Headers {
		b.WriteString(formatField(f.Name, f.Value))
	}
	if header == nil {
		return b.String(), nil
	}
	for _, k := range ownHeaders {
		remove = append(remove, verify.FieldSpans(header, k)...)
	}
	for name, n := range v.Remove {
		remove = append(remove, nthField(header, name, n)...)
	}
	if v.Subject != "" {
		remove = append(remove, verify.FieldSpans(header, "Subject")...)
		b.WriteString(formatField("Subject", encodeWord(v.Subject)))
	}
	return b.String(), remove
}

// nthField returns the span of the nth name field of header (0: every
// one; n > 0 the nth from the top; n < 0 the -nth from the bottom), as
// rspamd's milter remove_headers means it.
func nthField(header []byte, name string, n int) []verify.Span {
	all := verify.FieldSpans(header, name)
	if n == 0 {
		return all
	}
	i := n - 1 // from the top
	if n < 0 {
		i = len(all) + n
	}
	if i < 0 || i >= len(all) {
		return nil
	}
	return all[i : i+1]
}

// formatField is one header field, folded after commas and spaces so
// that lines stay near RFC 5322 §2.1.1's 78 characters, with any line
// break in the value (which would end the field) turned into a space.
func formatField(name, value string) string {
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(":")
	lineLen := len(name) + 1
	for i, word := range strings.Split(value, " ") {
		if i > 0 && lineLen+1+len(word) > 78 {
			b.WriteString("\r\n\t")
			lineLen = 1
		} else {
			b.WriteString(" ")
			lineLen++
		}
		b.WriteString(word)
		lineLen += len(word)
	}
	b.WriteString("\r\n")
	return b.String()
}

// encodeWord returns s as it may stand in a header: as it is when it is
// ASCII, else an RFC 2047 encoded-word of its UTF-8.
func encodeWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			if !utf8.ValidString(s) {
				s = strings.ToValidUTF8(s, "\uFFFD")
			}
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}
