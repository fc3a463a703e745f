// Package reporting is the machinery that pail's daily aggregate reports
// share: SMTP TLS reports (RFC 8460, package tlsrpt) and DMARC aggregate
// reports (RFC 7489 §7.2, package dmarcrpt). It owns their small SQLite
// database files (OpenDB), the counts they aggregate in memory and write
// every few seconds (Tally), the run once a day after 00:00 UTC (Daily),
// the daily send to each policy domain's destinations (DaySend), the mail
// that carries a report (Mail), and the reports in mail received for the
// local domains (Tap, Attachments, ReadLimited, ReceivedTable,
// WriteReceived).
package reporting

import (
	"strings"
	"time"
)

// dayFormat is how a UTC day is written in the databases and on the
// command line.
const dayFormat = time.DateOnly

// Day returns the UTC day of t as "YYYY-MM-DD".
func Day(t time.Time) string { return t.UTC().Format(dayFormat) }

// DayRange returns the first and last second of a UTC day "YYYY-MM-DD":
// the period of a daily report.
func DayRange(day string) (time.Time, time.Time, error) {
	start, err := time.Parse(dayFormat, day)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return start, start.Add(24*time.Hour - time.Second), nil
}

// Printable keeps a sender's text from moving the cursor of the terminal
// it is shown on: control characters become '?'.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
