// Package mbox reads and writes Unix mbox files in the "mboxrd" variant,
// the format of `pail export` and `pail import`.
//
// An mbox file (RFC 4155, the application/mbox media type) is a sequence of
// messages, each introduced by a separator line
//
//	From <envelope sender> <asctime date in UTC>
//
// and followed by one empty line. Lines end in LF on disk, while pail stores
// messages exactly as received, with CRLF line endings; Writer and Reader
// convert between the two.
//
// Lines of a message that would look like a separator are quoted following
// the mboxrd convention (Rahul Dhesi's reversible "From " quoting, also
// described in qmail's mbox(5)): on writing, every line matching `^>*From `
// gets one more '>'; on reading, one '>' is removed from every line matching
// `^>+From `. Unlike the older mboxo variant this is exactly reversible, so
// a stored message (CRLF lines, ending in CRLF) written and read back is
// unchanged byte for byte.
//
// Both directions stream: a message is never held whole in memory by Writer,
// and lines of any length are handled with bounded buffers.
package mbox

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// separatorPrefix starts every separator line (RFC 4155 Appendix A) and
	// is what mboxrd quoting protects body lines from.
	separatorPrefix = "From "

	// dateLayout is the separator timestamp: ctime(3)/asctime(3) output in
	// UTC without a zone (RFC 4155 Appendix A), e.g. "Mon Jan  2 15:04:05 2006".
	dateLayout = time.ANSIC

	// nullSender stands for the empty (null) reverse-path of bounces in a
	// separator line, by long-standing convention.
	nullSender = "MAILER-DAEMON"

	// bufSize bounds the line buffers of Reader and Writer; longer lines are
	// handled in pieces of this size.
	bufSize = 32 << 10

	// maxSeparatorBytes bounds how much of a separator line is kept for
	// parsing; RFC 5321 §4.5.3.1.3 limits a path to 256 octets, so this is
	// ample for a sender and a date. The rest of a longer line is skipped.
	maxSeparatorBytes = 1024

	// maxSenderBytes bounds the sender Writer puts on a separator line, so
	// that the date after it always fits within maxSeparatorBytes; it is
	// twice the longest path RFC 5321 allows.
	maxSenderBytes = 512
)

// dateLayouts are the separator timestamps Reader understands, tried in
// order. The first is what Writer produces; the others are seen in files
// written by other programs (with a zone, or without seconds).
var dateLayouts = [...]string{
	dateLayout,
	"Mon Jan _2 15:04:05 2006 -0700",
	"Mon Jan _2 15:04:05 MST 2006",
	"Mon Jan _2 15:04:05 -0700 2006",
	"Mon Jan _2 15:04 2006",
}

// Message is one message read from an mbox file.
type Message struct {
	// From is the envelope sender named by the separator line.
	// "MAILER-DAEMON" conventionally stands for the null sender.
	From string

	// Date is the time on the separator line, in UTC, or the zero Time
	// when it is missing or cannot be parsed.
	Date time.Time

	// Body is the message with mboxrd quoting undone and every line ending
	// in CRLF, as pail stores messages.
	Body []byte
}

// separatorSender returns from made safe for a separator line: the null
// sender becomes MAILER-DAEMON, and spaces and ASCII control characters,
// which would end the field or the line, become '_'. Other bytes, including
// UTF-8 (RFC 6531), are kept. A sender longer than maxSenderBytes, which no
// valid path is, is cut there (at a UTF-8 boundary) so that the line still
// carries its date.
func separatorSender(from string) string {
	if from == "" {
		return nullSender
	}
	if len(from) > maxSenderBytes {
		n := maxSenderBytes
		for n > 0 && !utf8.RuneStart(from[n]) {
			n--
		}
		from = from[:n]
	}
	b := []byte(from)
	for i, c := range b {
		if c <= ' ' || c == 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}

// parseSeparator parses the part of a separator line after "From ": the
// envelope sender, then a date, then possibly more that is ignored (some
// programs append "remote from host"). An unparsable date gives zero.
func parseSeparator(line []byte) (from string, date time.Time) {
	line = bytes.TrimRight(line, "\r\n")
	sender, rest, _ := bytes.Cut(line, []byte(" "))
	if i := bytes.IndexByte(sender, '\t'); i >= 0 {
		sender, rest = sender[:i], line[i+1:]
	}
	fields := strings.Fields(string(rest))
	// A date has four or five fields; try the longest prefix first so that
	// a zone is not mistaken for trailing junk.
	for n := min(len(fields), 6); n >= 4; n-- {
		s := strings.Join(fields[:n], " ")
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return string(sender), t.UTC()
			}
		}
	}
	return string(sender), time.Time{}
}
