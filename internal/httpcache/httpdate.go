package httpcache

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// errBadDate is returned for a value that is not an HTTP-date.
var errBadDate = errors.New("httpcache: not an HTTP-date")

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7): the preferred
// IMF-fixdate or one of the two obsolete forms, rfc850-date and
// asctime-date, which recipients must also accept. The shape is checked
// strictly (fixed-width fields, single spaces, two-digit hours), since
// net/http's parser accepts values such as a one-digit hour or doubled
// spaces that are not HTTP-dates; RFC 9111 §5.3 has a cache treat such an
// Expires as a time in the past. Letters (day and month names, "GMT") are
// matched without regard to case, as RFC 9111 §4.2 asks of a cache. A leap
// second (":60", which the grammar allows) is read as the second after
// ":59".
func ParseHTTPDate(s string) (time.Time, error) {
	s = strings.Trim(s, " \t")
	var clockAt int
	switch {
	case imfFixdate(s):
		s, clockAt = s[:len(s)-3]+"GMT", 17 // net/http wants "GMT" in upper case
	case rfc850Date(s):
		s, clockAt = s[:len(s)-3]+"GMT", len(s)-12
	case asctimeDate(s):
		clockAt = 11
	default:
		return time.Time{}, errBadDate
	}
	if s[clockAt+6:clockAt+8] != "60" {
		return http.ParseTime(s)
	}
	t, err := http.ParseTime(s[:clockAt+6] + "59" + s[clockAt+8:])
	return t.Add(time.Second), err
}

// imfFixdate checks "Sun, 06 Nov 1994 08:49:37 GMT".
func imfFixdate(s string) bool {
	return len(s) == 29 && alpha(s[0:3]) && s[3:5] == ", " && digits(s[5:7]) && s[7] == ' ' &&
		alpha(s[8:11]) && s[11] == ' ' && digits(s[12:16]) && s[16] == ' ' &&
		clock(s[17:25]) && strings.EqualFold(s[25:], " GMT")
}

// rfc850Date checks "Sunday, 06-Nov-94 08:49:37 GMT".
func rfc850Date(s string) bool {
	day, rest, ok := strings.Cut(s, ", ")
	return ok && len(day) >= 6 && alpha(day) && len(rest) == 22 && digits(rest[0:2]) && rest[2] == '-' &&
		alpha(rest[3:6]) && rest[6] == '-' && digits(rest[7:9]) && rest[9] == ' ' &&
		clock(rest[10:18]) && strings.EqualFold(rest[18:], " GMT")
}

// asctimeDate checks "Sun Nov  6 08:49:37 1994".
func asctimeDate(s string) bool {
	return len(s) == 24 && alpha(s[0:3]) && s[3] == ' ' && alpha(s[4:7]) && s[7] == ' ' &&
		(s[8] == ' ' || digits(s[8:9])) && digits(s[9:10]) && s[10] == ' ' &&
		clock(s[11:19]) && s[19] == ' ' && digits(s[20:24])
}

// clock checks "08:49:37".
func clock(s string) bool {
	return len(s) == 8 && digits(s[0:2]) && s[2] == ':' && digits(s[3:5]) && s[5] == ':' && digits(s[6:8])
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func alpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}
