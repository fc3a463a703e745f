package httpcache

import (
	"net/http"
	"strings"
)

// varyFields returns the canonical field names listed by the response's
// Vary field lines (RFC 9110 §12.5.5), "*" kept as is.
func varyFields(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Vary") {
		for _, f := range splitList(line) {
			if f == "*" {
				out = append(out, f)
				continue
			}
			out = append(out, http.CanonicalHeaderKey(f))
		}
	}
	return out
}

// normalizeField combines a request field's lines into one value and
// normalises whitespace around list separators, as RFC 9111 §4.1 allows
// ("combining multiple header field lines", "normalizing both header field
// values"). ok is false when the field is absent.
func normalizeField(req http.Header, name string) (string, bool) {
	vs, ok := req[http.CanonicalHeaderKey(name)]
	if !ok {
		return "", false
	}
	var parts []string
	for _, v := range vs {
		for _, el := range strings.Split(v, ",") {
			parts = append(parts, strings.Join(strings.Fields(el), " "))
		}
	}
	return strings.Join(parts, ","), true
}

// VaryRequest captures the request fields nominated by the response's
// Vary, for storing with the entry.
func VaryRequest(resp, req http.Header) map[string]string {
	fields := varyFields(resp)
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		if v, ok := normalizeField(req, f); ok {
			out[f] = v
		}
	}
	return out
}

// VaryMatches reports whether a stored entry can be used for a request
// with header req (RFC 9111 §4.1): every field nominated by the stored
// Vary must match, absent matching absent; "Vary: *" never matches.
func VaryMatches(e *Entry, req http.Header) bool {
	for _, f := range e.meta().vary {
		if f == "*" {
			return false
		}
		got, ok := normalizeField(req, f)
		want, stored := e.VaryRequest[f]
		if ok != stored || got != want {
			return false
		}
	}
	return true
}
