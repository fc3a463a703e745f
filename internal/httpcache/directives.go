package httpcache

import (
	"net/http"
	"strconv"
	"strings"
)

// maxDeltaSeconds is the value used for a delta-seconds too large to
// represent: RFC 9111 §1.2.2 says to use 2^31 ("infinity") then.
const maxDeltaSeconds = 1 << 31

// Directives is a parsed Cache-Control field (RFC 9111 §5.2). Names are
// lower case; when a directive appears more than once the first occurrence
// wins (RFC 9111 §4.2.1 allows either the first or "stale").
type Directives map[string]Directive

// Directive is one cache directive with its optional argument.
type Directive struct {
	// Value is the argument with any quoted-string unquoted.
	Value string
	// HasValue is true when the directive had "=" and an argument.
	HasValue bool
	// Valid is false when the argument was syntactically broken (for
	// instance an unterminated quoted string).
	Valid bool
}

// ParseCacheControl parses every Cache-Control field line of h. It follows
// RFC 9111 §5.2: directive names are case-insensitive tokens, arguments are
// tokens or quoted-strings, and elements are a comma-separated list (RFC
// 9110 §5.6.1) that may span several field lines. Commas inside a
// quoted-string do not separate elements.
func ParseCacheControl(h http.Header) Directives {
	return parseDirectives(h.Values("Cache-Control"))
}

func parseDirectives(lines []string) Directives {
	d := Directives{}
	for _, line := range lines {
		for _, el := range splitList(line) {
			name, dir, ok := parseElement(el)
			if !ok {
				continue
			}
			if _, seen := d[name]; !seen {
				d[name] = dir
			}
		}
	}
	return d
}

// splitList splits a field value at the commas that are outside
// quoted-strings, trimming optional whitespace (RFC 9110 §5.6.1); empty
// elements are dropped.
func splitList(s string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			if el := strings.Trim(s[start:i], " \t"); el != "" {
				out = append(out, el)
			}
			start = i + 1
		}
	}
	if el := strings.Trim(s[start:], " \t"); el != "" {
		out = append(out, el)
	}
	return out
}

// parseElement parses `token [ "=" ( token / quoted-string ) ]`. A name
// that is not a token (for instance "max-age " with a space before "=") is
// not a directive at all.
func parseElement(el string) (string, Directive, bool) {
	name, arg, hasArg := strings.Cut(el, "=")
	if !isToken(name) {
		return "", Directive{}, false
	}
	name = strings.ToLower(name)
	if !hasArg {
		return name, Directive{Valid: true}, true
	}
	if strings.HasPrefix(arg, `"`) {
		v, ok := unquote(arg)
		return name, Directive{Value: v, HasValue: true, Valid: ok}, true
	}
	return name, Directive{Value: arg, HasValue: true, Valid: isToken(arg)}, true
}

// unquote decodes a quoted-string (RFC 9110 §5.6.4).
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if c == '\\' {
			if i+1 >= len(s)-1 {
				return "", false
			}
			i++
			c = s[i]
		} else if c == '"' {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// isToken reports whether s is a token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Has reports whether the directive name (lower case) is present.
func (d Directives) Has(name string) bool {
	_, ok := d[name]
	return ok
}

// Seconds returns a delta-seconds argument (RFC 9111 §1.2.2). present says
// whether the directive appears; valid is false when it appears without a
// usable non-negative integer argument, which callers treat as "stale"
// (RFC 9111 §4.2.1, §5.2.2.1). Quoted arguments are accepted, as RFC 9111
// §5.2 asks of recipients.
func (d Directives) Seconds(name string) (secs int64, present, valid bool) {
	dir, ok := d[name]
	if !ok {
		return 0, false, false
	}
	if !dir.HasValue || !dir.Valid {
		return 0, true, false
	}
	n, ok := parseDeltaSeconds(dir.Value)
	return n, true, ok
}

// parseDeltaSeconds parses 1*DIGIT, saturating at 2^31 (RFC 9111 §1.2.2).
func parseDeltaSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxDeltaSeconds {
		return maxDeltaSeconds, true
	}
	return n, true
}

// FieldNames returns the field names listed in a qualified no-cache or
// private directive (RFC 9111 §5.2.2.4, §5.2.2.7), in canonical form. nil
// means the directive is absent or unqualified.
func (d Directives) FieldNames(name string) []string {
	dir, ok := d[name]
	if !ok || !dir.HasValue {
		return nil
	}
	var out []string
	for _, f := range splitList(dir.Value) {
		out = append(out, http.CanonicalHeaderKey(f))
	}
	return out
}

// Qualified reports whether directive name is present with a field-name
// list rather than bare.
func (d Directives) Qualified(name string) bool {
	dir, ok := d[name]
	return ok && dir.HasValue
}
