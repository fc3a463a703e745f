package proxy

import (
	"bufio"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// fastParseSeeds are heads the fast path must accept (first) or refuse.
var fastParseSeeds = []struct {
	head string
	ok   bool
}{
	{"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", true},
	{"HEAD /x/y.txt?q=1&r=%20 HTTP/1.0\r\nHost: a.test:8080\r\nConnection: keep-alive\r\n\r\n", true},
	{"GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\nUser-Agent:  wrk \r\nAccept: */*\r\nAccept: text/*\r\n\r\n", true},
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nX-Tab:\tv\t\r\n\r\n", true},
	{"GET http://a.test HTTP/1.1\r\nHost: b.test\r\n\r\n", true},
	{"GET /x HTTP/1.1\r\nhost: a.test\r\n\r\n", true},
	{"GET /x HTTP/1.1\r\n\r\n", false},                                             // no Host
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n", false},             // two
	{"GET /x HTTP/1.1\r\nHost: [::1]\r\n\r\n", false},                              // IPv6 literal
	{"GET /x HTTP/1.1\r\nHost: a.test:\r\n\r\n", false},                            // empty port
	{"GET /%41 HTTP/1.1\r\nHost: a.test\r\n\r\n", false},                           // escape in the path
	{"GET /x#f HTTP/1.1\r\nHost: a.test\r\n\r\n", false},                           // fragment
	{"GET * HTTP/1.1\r\nHost: a.test\r\n\r\n", false},                              // asterisk-form
	{"GET https://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", false},                // not http
	{"GET http://u@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", false},               // user info
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-1\r\n\r\n", false},         // a Range
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: *\r\n\r\n", false},         // a precondition
	{"GET /x HTTP/1.1\r\nHost: a.test\r\ncache-control: max-age=0\r\n\r\n", false}, // directives
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close, TE\r\n\r\n", false},    // an odd Connection
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nX: 1\r\n 2\r\n\r\n", false},               // obs-fold
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nX : 1\r\n\r\n", false},                    // space before colon
	{"GET /x HTTP/1.1\r\nHost: a.test\r\nX: \x01\r\n\r\n", false},                  // control byte
	{"GET /x HTTP/1.1\nHost: a.test\n\n", false},                                   // bare LF
	{"GET  /x HTTP/1.1\r\nHost: a.test\r\n\r\n", false},                            // two spaces
	{"GET /x HTTP/1.1 \r\nHost: a.test\r\n\r\n", false},                            // trailing space
	{"get /x HTTP/1.1\r\nHost: a.test\r\n\r\n", false},                             // method case
	{"POST /x HTTP/1.1\r\nHost: a.test\r\n\r\n", false},
	{"GET /x HTTP/1.2\r\nHost: a.test\r\n\r\n", false},
}

// TestParseFastRequest checks the seeds, and that an accepted head reads
// as net/http reads it (checkLikeNetHTTP).
func TestParseFastRequest(t *testing.T) {
	for _, tc := range fastParseSeeds {
		n := headEnd([]byte(tc.head))
		if n != len(tc.head) {
			t.Errorf("headEnd(%q) = %d, want %d", tc.head, n, len(tc.head))
			continue
		}
		r := fastRequest{header: http.Header{}}
		if got := parseFastRequest(tc.head, &r, make([]string, 0, fastMaxFields)); got != tc.ok {
			t.Errorf("parseFastRequest(%q) = %v, want %v", tc.head, got, tc.ok)
		}
		if tc.ok {
			checkLikeNetHTTP(t, tc.head, &r)
		}
	}
}

// FuzzFastParse checks that whatever the fast path accepts, net/http
// parses into the same request: the fast path is never more liberal.
func FuzzFastParse(f *testing.F) {
	for _, tc := range fastParseSeeds {
		f.Add(tc.head)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := headEnd([]byte(s))
		if n < 0 {
			return
		}
		r := fastRequest{header: http.Header{}}
		ok := parseFastRequest(s[:n], &r, make([]string, 0, fastMaxFields))
		if ok {
			checkLikeNetHTTP(t, s[:n], &r)
		}
		// Fed in pieces, the scan ends the head at the same place,
		// and refuses a line only of a head the parser refuses.
		for _, step := range []int{1, 7} {
			end, refusedAt, _ := feed(s, step)
			switch {
			case refusedAt >= 0 && ok:
				t.Fatalf("%q (step %d): refused at %d, but parsed", s, step, refusedAt)
			case refusedAt < 0 && end != n:
				t.Fatalf("%q (step %d): ends at %d, headEnd %d", s, step, end, n)
			}
		}
	})
}

// checkLikeNetHTTP compares r, parsed from head, with net/http's reading.
func checkLikeNetHTTP(t *testing.T, head string, r *fastRequest) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		t.Fatalf("fast path accepted %q, net/http refuses it: %v", head, err)
	}
	method := map[bool]string{false: "GET", true: "HEAD"}[r.head]
	minor := map[bool]int{false: 1, true: 0}[r.http10]
	u := req.URL
	wantHost := r.host
	if r.abs {
		wantHost = r.authority
	}
	if req.Method != method || req.ProtoMajor != 1 || req.ProtoMinor != minor || req.Host != wantHost ||
		u.IsAbs() != r.abs || (r.abs && (u.Scheme != "http" || u.Host != r.authority)) ||
		u.Path != r.path || u.RawPath != "" || u.RawQuery != r.rawQuery || u.EscapedPath() != r.path {
		t.Fatalf("%q: fast path read %+v, net/http %s %+v Host %q", head, *r, req.Method, *u, req.Host)
	}
	if !maps.EqualFunc(req.Header, r.header, slices.Equal) {
		t.Fatalf("%q: fast path header %q, net/http %q", head, r.header, req.Header)
	}
	if req.Close != r.closeAfter() {
		t.Fatalf("%q: net/http Close %v, fast path %v", head, req.Close, r.closeAfter())
	}
	if req.ContentLength != 0 || len(req.TransferEncoding) > 0 {
		t.Fatalf("%q: a body", head)
	}
}
