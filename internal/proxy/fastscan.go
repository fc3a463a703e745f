package proxy

import "bytes"

// headScan finds where a request head ends while it arrives in pieces,
// and checks each of its lines as soon as that line is complete, so that
// a head the fast parser will refuse goes to net/http at its first bad
// line (net/http answers 400 at once to a malformed one) rather than
// after the whole head or the head timeout. Each byte is examined a
// bounded number of times whatever the pieces: a head trickled a few
// bytes at a time costs linear work, not quadratic.
//
// Offsets are from the head's first byte; the caller passes the bytes
// buffered from there, which only ever grow, and resets the scan (to the
// zero value) for the next head.
type headScan struct {
	line     int // where the incomplete line starts
	searched int // bytes from line known to hold no LF
	checked  int // the complete lines before this offset are checked
	// work counts the bytes examined, so that tests can bound it.
	work int
}

// end returns the length of the head at the start of b, through the
// empty line that ends it, or -1 while b holds no complete head. Like
// net/http it ends a line at LF, with or without CR before it (RFC 9112
// §2.2), so a head with bare LFs ends where net/http ends it (and
// parseFastRequest then refuses it). The first line, the request line,
// never ends the head even when empty.
func (h *headScan) end(b []byte) int {
	for {
		from := h.line + h.searched
		j := bytes.IndexByte(b[from:], '\n')
		if j < 0 {
			h.work += len(b) - from
			h.searched = len(b) - h.line
			return -1
		}
		h.work += j + 1
		next := from + j + 1
		if n := next - h.line; h.line > 0 && (n == 1 || n == 2 && b[h.line] == '\r') {
			return next
		}
		h.line, h.searched = next, 0
	}
}

// refuses checks the lines of b that end has found complete and not yet
// checked, and reports whether one of them is a line parseFastRequest
// refuses: then the head is not simple, whatever follows.
func (h *headScan) refuses(b []byte) bool {
	for h.checked < h.line {
		n := bytes.IndexByte(b[h.checked:h.line], '\n') + 1
		line := b[h.checked : h.checked+n]
		h.work += n
		first := h.checked == 0
		h.checked += n
		if !fastLine(line, first) {
			return true
		}
	}
	return false
}

// headEnd returns the length of the complete head at the start of b, or
// -1 (headScan.end on a fresh scan).
func headEnd(b []byte) int {
	var h headScan
	return h.end(b)
}

// fastLine reports whether line, ending in LF, is one parseFastRequest
// may accept: the request line when first, else a field line. A bare LF
// or CR, a control byte, a bad field name, a method other than GET and
// HEAD: all refused here as there.
func fastLine(line []byte, first bool) bool {
	s, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok {
		return false // a bare LF ends the line
	}
	if first {
		var r fastRequest
		return parseRequestLine(string(s), &r)
	}
	_, _, ok = fieldLine(string(s))
	return ok
}
