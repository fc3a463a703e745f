package sieve

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// datePartNames are RFC 5260 §4.2's date parts.
var datePartNames = []string{"year", "month", "day", "date", "julian", "hour",
	"minute", "second", "time", "iso8601", "std11", "zone", "weekday"}

func validDatePart(s string) bool {
	s = strings.ToLower(s)
	for _, p := range datePartNames {
		if p == s {
			return true
		}
	}
	return false
}

// parseZone reads a :zone argument, "+hhmm" or "-hhmm" (RFC 5260 §4.1).
func parseZone(s string) (*time.Location, bool) {
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') {
		return nil, false
	}
	for i := 1; i < 5; i++ {
		if !isDigit(s[i]) {
			return nil, false
		}
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return nil, false
	}
	off := (h*60 + m) * 60
	if s[0] == '-' {
		off = -off
	}
	return time.FixedZone(s, off), true
}

// datePart renders one part of a date (RFC 5260 §4.2).
func datePart(t time.Time, part string) string {
	switch strings.ToLower(part) {
	case "year":
		return fmt.Sprintf("%04d", t.Year())
	case "month":
		return fmt.Sprintf("%02d", int(t.Month()))
	case "day":
		return fmt.Sprintf("%02d", t.Day())
	case "date":
		return t.Format("2006-01-02")
	case "julian":
		// The Modified Julian Day: days of the date in its own zone
		// since 1858-11-17 (RFC 5260 §4.2).
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		epoch := time.Date(1858, time.November, 17, 0, 0, 0, 0, time.UTC)
		return fmt.Sprintf("%d", int64(d.Sub(epoch)/(24*time.Hour)))
	case "hour":
		return fmt.Sprintf("%02d", t.Hour())
	case "minute":
		return fmt.Sprintf("%02d", t.Minute())
	case "second":
		return fmt.Sprintf("%02d", t.Second())
	case "time":
		return t.Format("15:04:05")
	case "iso8601":
		return t.Format("2006-01-02T15:04:05-07:00")
	case "std11":
		return t.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	case "zone":
		return t.Format("-0700")
	case "weekday":
		return fmt.Sprintf("%d", int(t.Weekday()))
	}
	return ""
}

// headerDate reads the date of a header field's value (RFC 5260 §5: in
// Received, the date after the last ";"). ok is false when there is none.
func headerDate(name, value string) (time.Time, bool) {
	if strings.EqualFold(name, "received") {
		i := strings.LastIndexByte(value, ';')
		if i < 0 {
			return time.Time{}, false
		}
		value = value[i+1:]
	}
	t, err := mail.ParseDate(strings.TrimSpace(value))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
