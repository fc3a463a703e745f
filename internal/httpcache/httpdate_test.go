package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},     // IMF-fixdate
		{"Sunday, 06-Nov-94 08:49:37 GMT", true},    // rfc850-date
		{"Sun Nov  6 08:49:37 1994", true},          // asctime-date
		{"SUN, 06 NOV 1994 08:49:37 gmt", true},     // names in another case
		{"Sun, 06 Nov 1994 8:49:37 GMT", false},     // one-digit hour
		{"Sun, 06  Nov 1994 08:49:37 GMT", false},   // doubled space
		{"Sun 06 Nov 1994 08:49:37 GMT", false},     // no comma
		{"Sun, 06-Nov-1994 08:49:37 GMT", false},    // dashes in an IMF-fixdate
		{"Sun, 06 Nov 94 08:49:37 GMT", false},      // two-digit year
		{"Sun, 06 Nov 1994 08.49.37 GMT", false},    // periods
		{"Sun, 06 Nov 1994 08:49:37 UTC", false},    // not GMT
		{"Sun, 06 Nov 1994 08:49:37 GMT, x", false}, // two values
		{"0", false},
		{"", false},
	} {
		got, err := ParseHTTPDate(tc.in)
		if (err == nil) != tc.ok || tc.ok && !got.Equal(want) {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want ok=%v", tc.in, got, err, tc.ok)
		}
	}
	// A leap second, in each form, is the second after :59.
	leap := time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, in := range []string{"Sat, 31 Dec 1994 23:59:60 GMT", "Saturday, 31-Dec-94 23:59:60 GMT", "Sat Dec 31 23:59:60 1994"} {
		if got, err := ParseHTTPDate(in); err != nil || !got.Equal(leap) {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v", in, got, err, leap)
		}
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseHTTPDate(s)
		if err != nil {
			return
		}
		// Whatever form it came in, the date survives a round trip
		// through the preferred form.
		back := d.UTC().Format(http.TimeFormat)
		if d2, err := ParseHTTPDate(back); err != nil || !d2.Equal(d) {
			t.Errorf("%q parsed as %v; %q parses as %v, %v", s, d, back, d2, err)
		}
	})
}
