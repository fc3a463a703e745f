package message

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// previewChars is how many characters a preview holds. RFC 8970 §3.1: the
// preview MUST NOT be longer than 256 characters and SHOULD be no longer
// than 200.
const previewChars = 200

// makePreview builds the RFC 8970 §3.1 preview of a message from its first
// text/plain body, or else its first text/html body as text: UTF-8 with no
// transfer encoding and no markup, quoted lines (">") and the signature
// (after a "-- " line, RFC 3676 §4.3) left out, white space squeezed to
// single spaces, cut at previewChars characters. A message with no such
// text has an empty preview (RFC 8970 §3.1: then the preview is empty).
func makePreview(plain, html []byte) string {
	var text string
	switch {
	case len(strings.TrimSpace(string(plain))) > 0:
		text = string(plain)
	case html != nil:
		text = HTMLToText(string(html))
	default:
		return ""
	}
	var b strings.Builder
	n := 0         // characters written
	space := false // a space is due before the next character
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "-- " {
			break
		}
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), ">") {
			continue
		}
		space = space || b.Len() > 0
		for _, r := range line {
			if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) {
				// Invalid UTF-8 is dropped, like white space squeezed.
				space = space || r != utf8.RuneError
				continue
			}
			if space && b.Len() > 0 {
				if n == previewChars-1 {
					return b.String()
				}
				b.WriteByte(' ')
				n++
			}
			space = false
			b.WriteRune(r)
			if n++; n == previewChars {
				return b.String()
			}
		}
	}
	return b.String()
}
