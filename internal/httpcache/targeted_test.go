package httpcache

import (
	"net/http"
	"strconv"
	"testing"
)

func TestResponseDirectives(t *testing.T) {
	for _, tc := range []struct {
		cdn      []string // CDN-Cache-Control lines
		targeted bool
		maxAge   string // max-age's value, "" when absent, "!" when present but invalid
		has      []string
	}{
		{nil, false, "60", nil},
		{[]string{"max-age=3600"}, true, "3600", nil},
		{[]string{"foobar, max-age=3600"}, true, "3600", []string{"foobar"}},
		{[]string{"no-store", "max-age=5"}, true, "5", []string{"no-store"}},
		{[]string{"private;x=1"}, true, "", []string{"private"}},
		{[]string{`max-age="3600"`}, true, "!", nil},
		{[]string{"max-age=1.5"}, true, "!", nil},
		{[]string{"max-age=(1 2)"}, true, "!", nil},
		{[]string{"max-age=-1"}, true, "!", nil},
		{[]string{"no-store=?0, max-age=9"}, true, "9", nil},
		{[]string{"max-age=10000, &&&&&"}, false, "60", nil}, // invalid: Cache-Control applies
		{[]string{"MaX-aGe=3600"}, false, "60", nil},         // keys are lower case
		{[]string{"max-age =100"}, false, "60", nil},
		{[]string{"max-age= 100"}, false, "60", nil},
		{[]string{"max-age=1,"}, false, "60", nil},
		{[]string{""}, false, "60", nil}, // empty: Cache-Control applies
		{[]string{"max-age=30, k=:aGVsbG8=:"}, true, "30", []string{"k"}},
		{[]string{"max-age=30, k=:!!not base64!!:"}, false, "60", nil}, // RFC 8941 §4.2.7
	} {
		h := http.Header{"Cache-Control": {"max-age=60"}}
		for _, v := range tc.cdn {
			h.Add(TargetedField, v)
		}
		d, targeted := ResponseDirectives(h)
		if targeted != tc.targeted {
			t.Errorf("%q: targeted = %v", tc.cdn, targeted)
		}
		n, present, valid := d.Seconds("max-age")
		got := ""
		switch {
		case present && !valid:
			got = "!"
		case present:
			got = strconv.FormatInt(n, 10)
		}
		if got != tc.maxAge {
			t.Errorf("%q: max-age = %q, want %q", tc.cdn, got, tc.maxAge)
		}
		for _, name := range tc.has {
			if !d.Has(name) {
				t.Errorf("%q: %s missing", tc.cdn, name)
			}
		}
	}
}

func FuzzParseSFDictionary(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		ms, ok := parseSFDictionary([]string{s})
		if !ok {
			return
		}
		for _, m := range ms {
			if m.key == "" || m.isInteger && (m.integer == "" || m.wrongType) {
				t.Errorf("%q: bad member %+v", s, m)
			}
		}
	})
}
