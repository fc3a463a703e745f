package sieve

import (
	"strconv"
	"strings"
)

// decodeEncoded replaces the encoded characters of a string (RFC 5228
// §2.4.2.4, extension "encoded-character"): "${hex: 41 42}" is the
// octets 0x41 0x42 and "${unicode: 1F600}" the UTF-8 of U+1F600. A
// sequence that does not follow the grammar stays as written; a Unicode
// value outside 0-D7FF and E000-10FFFF is an error (the returned string
// says which).
func decodeEncoded(s string) (string, string) {
	if !strings.Contains(s, "${") {
		return s, ""
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), ""
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		// Scan only what the grammar allows, so a string full of "${"
		// costs linear time: letters, ":", then hex digits and blanks.
		colon := 0
		for colon < len(rest) && isAlpha(rest[colon]) {
			colon++
		}
		end := colon + 1
		for end < len(rest) && (isHex(rest[end:end+1]) || strings.IndexByte(" \t\r\n", rest[end]) >= 0) {
			end++
		}
		if colon >= len(rest) || rest[colon] != ':' || end >= len(rest) || rest[end] != '}' {
			b.WriteString("${")
			s = rest
			continue
		}
		kind := strings.ToLower(rest[:colon])
		body := rest[colon+1 : end]
		var out string
		ok := false
		switch kind {
		case "hex":
			out, ok = decodeHexSeq(body)
		case "unicode":
			var bad string
			out, ok, bad = decodeUnicodeSeq(body)
			if bad != "" {
				return "", bad
			}
		}
		if !ok {
			b.WriteString("${")
			s = rest
			continue
		}
		b.WriteString(out)
		s = rest[end+1:]
	}
}

// fieldsBlank splits a hex sequence at blanks (WSP / CRLF); ok is false
// when it holds nothing.
func fieldsBlank(body string) ([]string, bool) {
	f := strings.FieldsFunc(body, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' })
	return f, len(f) > 0
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// decodeHexSeq decodes hex-pair-seq: hex-pair = 1*2HEXDIG.
func decodeHexSeq(body string) (string, bool) {
	f, ok := fieldsBlank(body)
	if !ok {
		return "", false
	}
	var b []byte
	for _, h := range f {
		if len(h) > 2 || !isHex(h) {
			return "", false
		}
		n, _ := strconv.ParseUint(h, 16, 8)
		b = append(b, byte(n))
	}
	return string(b), true
}

// decodeUnicodeSeq decodes unicode-hex-seq: unicode-hex = 1*HEXDIG.
func decodeUnicodeSeq(body string) (string, bool, string) {
	f, ok := fieldsBlank(body)
	if !ok {
		return "", false, ""
	}
	var b strings.Builder
	for _, h := range f {
		if !isHex(h) {
			return "", false, ""
		}
		t := strings.TrimLeft(h, "0")
		n, err := strconv.ParseUint(t, 16, 32)
		if t == "" {
			n, err = 0, nil
		}
		if err != nil || n > 0x10FFFF || n >= 0xD800 && n <= 0xDFFF {
			return "", false, "encoded character ${unicode:" + h + "} is not a Unicode scalar value"
		}
		b.WriteRune(rune(n))
	}
	return b.String(), true, ""
}
