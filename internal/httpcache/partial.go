package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Partial content (RFC 9111 §3.3-3.4). A 206 with one byte range of a
// representation whose complete length is known is stored like any other
// response, under its own status: Select never returns it (it cannot
// answer a request for the whole), SelectPartial does. Ranges inside it
// are served from it; a request for more is completed with a Range request
// for the rest, and the parts are combined into a complete 200 only when
// they share a strong validator (§3.4).

// Part is the byte range a stored 206 holds: Length bytes from Start of a
// Total-byte representation.
type Part struct {
	Start, Length, Total int64
}

// ParseContentRange parses a Content-Range of one satisfied byte range
// with a known complete length, "bytes F-L/C" (RFC 9110 §14.4); ok is
// false for anything else (an unknown length "*", an unsatisfied range, a
// range past the length).
func ParseContentRange(v string) (Part, bool) {
	unit, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return Part{}, false
	}
	rng, total, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return Part{}, false
	}
	f, l, ok := strings.Cut(rng, "-")
	if !ok {
		return Part{}, false
	}
	first, err1 := strconv.ParseInt(f, 10, 64)
	last, err2 := strconv.ParseInt(l, 10, 64)
	size, err3 := strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || last >= size {
		return Part{}, false
	}
	return Part{Start: first, Length: last - first + 1, Total: size}, true
}

// PartOf returns the range a stored 206 holds; ok is false for any other
// entry.
func PartOf(e *Entry) (Part, bool) {
	if e.Status != http.StatusPartialContent || len(e.Header["Content-Range"]) != 1 {
		return Part{}, false
	}
	return ParseContentRange(e.Header.Get("Content-Range"))
}

// partialStorable reports whether a 206 may be stored: one byte range
// (not multipart/byteranges, RFC 9110 §14.6) of a known complete length.
func partialStorable(h http.Header) bool {
	if len(h["Content-Range"]) != 1 {
		return false
	}
	_, ok := ParseContentRange(h.Get("Content-Range"))
	return ok
}

// Covers reports whether every range in rs lies inside p.
func (p Part) Covers(rs []ByteRange) bool {
	for _, r := range rs {
		if r.Start < p.Start || r.Start+r.Length > p.Start+p.Length {
			return false
		}
	}
	return len(rs) > 0
}

// Missing returns the Range value that asks for what p lacks of its
// representation, when that is one range (p starts at 0 or ends at the
// end); ok is false when it lacks both a head and a tail.
func (p Part) Missing() (string, bool) {
	switch {
	case p.Start == 0 && p.Length < p.Total:
		return "bytes=" + strconv.FormatInt(p.Length, 10) + "-" + strconv.FormatInt(p.Total-1, 10), true
	case p.Start > 0 && p.Start+p.Length == p.Total:
		return "bytes=0-" + strconv.FormatInt(p.Start-1, 10), true
	}
	return "", false
}

// SelectPartial returns the most recent stored 206 of key that matches
// req (RFC 9111 §4.1), for a range request or a completion.
func SelectPartial(s Store, key string, req http.Header) *Entry {
	var best *Entry
	for _, e := range s.Variants(key) {
		if e.Status != http.StatusPartialContent || !VaryMatches(e, req) {
			continue
		}
		if best == nil || e.meta().date.After(best.meta().date) {
			best = e
		}
	}
	return best
}

// StrongValidator returns the validator of h that If-Range may carry and
// that combining relies on (RFC 9110 §8.8.1, §13.1.5): a strong entity
// tag, else a strong Last-Modified (one at least a second before Date,
// §8.8.2.2); "" when h has neither.
func StrongValidator(h http.Header) string {
	if etag := h.Get("ETag"); etag != "" {
		if isWeak(etag) {
			return ""
		}
		return etag
	}
	lm, err := ParseHTTPDate(h.Get("Last-Modified"))
	if err != nil {
		return ""
	}
	date, err := ParseHTTPDate(h.Get("Date"))
	if err != nil || date.Sub(lm) < time.Second {
		return ""
	}
	return h.Get("Last-Modified")
}

// Combinable reports whether a new partial response newH may be combined
// with a stored one storedH (RFC 9111 §3.4, RFC 9110 §15.3.7.3): both have
// the same strong validator, and a server that sent an entity tag sent
// the same one both times.
func Combinable(storedH, newH http.Header) bool {
	v := StrongValidator(storedH)
	return v != "" && v == StrongValidator(newH) && storedH.Get("ETag") == newH.Get("ETag")
}
