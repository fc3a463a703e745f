package proxy

import (
	"strings"
	"testing"
)

// feed gives head to a headScan the way fastLoop does, step bytes per
// read, and returns the head's length (-1 if it never ends), the length
// read when a line was refused (-1 if none) and the work done.
func feed(head string, step int) (end, refusedAt, work int) {
	var h headScan
	b := []byte(head)
	for n := min(step, len(b)); ; n = min(n+step, len(b)) {
		if end := h.end(b[:n]); end >= 0 {
			return end, -1, h.work
		}
		if h.refuses(b[:n]) {
			return -1, n, h.work
		}
		if n == len(b) {
			return -1, -1, h.work
		}
	}
}

// TestHeadScanLinear checks that a long head trickled a few bytes per
// read is scanned in linear time (each byte examined at most a few
// times), where rescanning it from the start at every read would cost
// about len²/(2·step).
func TestHeadScanLinear(t *testing.T) {
	long := "GET /a HTTP/1.1\r\nHost: a.test\r\nCookie: " + strings.Repeat("c", 60<<10) + "\r\n" +
		strings.Repeat("X-Field: some value\r\n", 400) + "\r\n"
	for _, step := range []int{1, 3, 1000} {
		end, refusedAt, work := feed(long, step)
		if end != len(long) || refusedAt != -1 {
			t.Errorf("step %d: end %d, refused at %d; want %d, none", step, end, refusedAt, len(long))
		}
		if work > 2*len(long) {
			t.Errorf("step %d: %d bytes examined for a %d-byte head", step, work, len(long))
		}
	}
}

// TestHeadScanRefusesEarly checks that a trickled head is handed over at
// its first line the fast parser refuses, not at its end.
func TestHeadScanRefusesEarly(t *testing.T) {
	const rest = "X-More: " + "mmmmmmmmmmmmmmmm" + "\r\n\r\n"
	for _, bad := range []string{
		"POST /a HTTP/1.1\r\n",
		"GET /a\rb HTTP/1.1\r\n",
		"\x01\x02garbage\r\n",
		"GET /a HTTP/1.1\n",
		"GET /a HTTP/1.1\r\nHost: a.test\r\nAccept*/*\r\r\n",
		"GET /a HTTP/1.1\r\nHost: a.test\r\nX\x01A: 1\r\n",
		"GET /a HTTP/1.1\r\nHost: a.test\r\nX-A: 1\rY: 2\r\n",
		"GET /a HTTP/1.1\r\nHost: a.test\r\nX-A: 1\nY: 2\r\n",
		"GET /a HTTP/1.1\r\nHost: a.test\r\n obs-fold\r\n",
		"GET /a HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-1\r\n",
		"GET /a HTTP/1.1\r\nHost: [::1]\r\n",
		"GET /a HTTP/1.1\r\nConnection: upgrade\r\n",
	} {
		end, refusedAt, _ := feed(bad+rest, 2)
		if end != -1 || refusedAt < 0 || refusedAt > len(bad)+1 {
			t.Errorf("%q: end %d, refused at %d; want refused by %d", bad, end, refusedAt, len(bad))
		}
	}
	// A good head is never refused, and ends where headEnd says.
	for _, tc := range fastParseSeeds {
		if !tc.ok {
			continue
		}
		if end, refusedAt, _ := feed(tc.head, 1); end != len(tc.head) || refusedAt != -1 {
			t.Errorf("%q: end %d, refused at %d", tc.head, end, refusedAt)
		}
	}
}
