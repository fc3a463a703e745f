package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// Precondition is the outcome of evaluating a request's preconditions
// against a stored response (RFC 9110 §13.2.2).
type Precondition int

// Outcomes of Evaluate.
const (
	// Proceed means the full (or ranged) response is sent.
	Proceed Precondition = iota
	// NotModified means a 304 is sent (If-None-Match / If-Modified-Since).
	NotModified
	// Failed means a 412 is sent (If-Match / If-Unmodified-Since).
	Failed
)

// HasConditions reports whether req carries any of the RFC 9110 §13.1
// preconditions that decide between 200 and 304/412.
func HasConditions(req http.Header) bool {
	// The fields are looked up under their canonical names directly, as
	// Get would after canonicalising: this runs on every hit.
	return first(req["If-Match"]) != "" || first(req["If-None-Match"]) != "" ||
		first(req["If-Modified-Since"]) != "" || first(req["If-Unmodified-Since"]) != ""
}

// first is Header.Get for a field's lines.
func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// Evaluate applies RFC 9110 §13.2.2's order of evaluation for a GET or
// HEAD against the response header h.
func Evaluate(req, h http.Header) Precondition {
	if !HasConditions(req) {
		return Proceed // the usual request: nothing of h need be parsed
	}
	etag := h.Get("ETag")
	lm, lmErr := ParseHTTPDate(h.Get("Last-Modified"))
	// Step 1: If-Match, strong comparison (§13.1.1).
	if im := req.Get("If-Match"); im != "" {
		if !matchList(req.Values("If-Match"), etag, true) {
			return Failed
		}
	} else if ius := req.Get("If-Unmodified-Since"); ius != "" {
		// Step 2 (§13.1.4): ignored when the date is invalid.
		if t, err := ParseHTTPDate(ius); err == nil && (lmErr != nil || lm.After(t)) {
			return Failed
		}
	}
	// Step 3: If-None-Match, weak comparison (§13.1.2).
	if inm := req.Get("If-None-Match"); inm != "" {
		if matchList(req.Values("If-None-Match"), etag, false) {
			return NotModified
		}
		return Proceed
	}
	// Step 4: If-Modified-Since (§13.1.3), only without If-None-Match.
	if ims := req.Get("If-Modified-Since"); ims != "" {
		if _, ok := h["Last-Modified"]; !ok {
			// RFC 9111 §4.3.2: without Last-Modified, a cache uses the
			// stored response's Date instead.
			lm, lmErr = ParseHTTPDate(h.Get("Date"))
		}
		if t, err := ParseHTTPDate(ims); err == nil && lmErr == nil && !lm.After(t) {
			return NotModified
		}
	}
	return Proceed
}

// matchList compares etag against an If-Match / If-None-Match list ("*" or
// entity-tags), strongly or weakly (RFC 9110 §8.8.3.2).
func matchList(lines []string, etag string, strong bool) bool {
	for _, line := range lines {
		for _, t := range splitList(line) {
			if t == "*" {
				return etag != "" || !strong
			}
			if etag == "" {
				continue
			}
			if strong {
				if !isWeak(t) && !isWeak(etag) && t == etag {
					return true
				}
			} else if opaque(t) == opaque(etag) {
				return true
			}
		}
	}
	return false
}

func isWeak(t string) bool { return strings.HasPrefix(t, "W/") }

func opaque(t string) string { return strings.TrimPrefix(t, "W/") }

// StrongETag reports whether h has a strong entity tag.
func StrongETag(h http.Header) bool {
	t := h.Get("ETag")
	return t != "" && !isWeak(t)
}

// RangeAllowed evaluates If-Range (RFC 9110 §13.1.5): true when the Range
// may be honoured. An entity-tag must match strongly; a date must equal a
// strong Last-Modified (one at least a second older than Date).
func RangeAllowed(req, h http.Header) bool {
	ir := req.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		etag := h.Get("ETag")
		return etag != "" && !isWeak(ir) && !isWeak(etag) && ir == etag
	}
	t, err := ParseHTTPDate(ir)
	if err != nil {
		return false
	}
	lm, err := ParseHTTPDate(h.Get("Last-Modified"))
	if err != nil || !lm.Equal(t) {
		return false
	}
	date, err := ParseHTTPDate(h.Get("Date"))
	return err == nil && date.Sub(lm) >= time.Second
}
