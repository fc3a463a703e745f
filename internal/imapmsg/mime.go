package imapmsg

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
)

// The message structure FETCH reports (RFC 9051 §6.4.5, §7.5.2): a
// message's MIME tree as byte ranges of the file as stored, the body
// sections that name its parts, ENVELOPE and BODYSTRUCTURE. Parsing is
// lenient, as mail is: a part without a valid Content-Type is text/plain
// (RFC 2045 §5.2), a multipart without its closing boundary ends at the
// end of its parent.

// maxMIMEDepth bounds the nesting of multiparts and message/rfc822 parts
// that are followed; deeper ones are leaves.
const maxMIMEDepth = 20

// Part is one MIME entity: its header and body as slices of the message.
type Part struct {
	Header   []byte // the header, its blank line included; empty if none
	Body     []byte
	typ, sub string // lower case
	params   map[string]string
	children []*Part // of a multipart
	msg      *Part   // the message of a message/rfc822 part
}

// Parse parses a whole message.
func Parse(raw []byte) *Part { return parsePart(raw, "text", "plain", 0) }

func parsePart(raw []byte, defTyp, defSub string, depth int) *Part {
	p := &Part{}
	p.Header, p.Body = splitHeader(raw)
	p.typ, p.sub = defTyp, defSub
	if ct := HeaderValue(p.Header, "Content-Type"); ct != "" {
		if mt, params, err := mime.ParseMediaType(ct); err == nil {
			if t, s, ok := strings.Cut(mt, "/"); ok && t != "" && s != "" {
				p.typ, p.sub, p.params = t, s, params
			}
		}
	}
	if p.params == nil && p.typ == "text" && p.sub == "plain" {
		p.params = map[string]string{"charset": "us-ascii"} // RFC 2045 §5.2
	}
	if depth >= maxMIMEDepth {
		return p
	}
	switch {
	case p.typ == "multipart" && p.params["boundary"] != "":
		childTyp, childSub := "text", "plain"
		if p.sub == "digest" {
			childTyp, childSub = "message", "rfc822" // RFC 2046 §5.1.5
		}
		for _, b := range splitMultipart(p.Body, p.params["boundary"]) {
			p.children = append(p.children, parsePart(b, childTyp, childSub, depth+1))
		}
		if len(p.children) == 0 {
			// RFC 9051 §9 body-type-mpart needs a part: an empty one.
			p.children = []*Part{parsePart(nil, childTyp, childSub, depth+1)}
		}
	case p.typ == "message" && (p.sub == "rfc822" || p.sub == "global"):
		p.msg = parsePart(p.Body, "text", "plain", depth+1)
	}
	return p
}

// splitHeader cuts an entity at the blank line after its header.
func splitHeader(raw []byte) (header, body []byte) {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return raw[:2], raw[2:]
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return raw[:1], raw[1:]
	}
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[:i+4], raw[i+4:]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[:i+2], raw[i+2:]
	}
	return raw, nil
}

// splitMultipart returns the body parts of a multipart body (RFC 2046
// §5.1.1): the CRLF before a boundary line belongs to it; the preamble
// and the epilogue are dropped.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var out [][]byte
	start := -1 // where the current part's bytes begin
	for pos := 0; pos <= len(body); {
		end := bytes.IndexByte(body[pos:], '\n')
		lineEnd := len(body)
		if end >= 0 {
			lineEnd = pos + end + 1
		}
		line := bytes.TrimRight(body[pos:lineEnd], " \t\r\n")
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			closing := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || closing {
				if start >= 0 {
					stop := pos
					if stop > start && body[stop-1] == '\n' {
						stop--
						if stop > start && body[stop-1] == '\r' {
							stop--
						}
					}
					out = append(out, body[start:stop])
				}
				if closing {
					return out
				}
				start = lineEnd
			}
		}
		if end < 0 {
			break
		}
		pos = lineEnd
	}
	if start >= 0 && start <= len(body) {
		out = append(out, body[start:])
	}
	return out
}

// headerFields calls f with each field of a header: its name and its
// raw bytes (continuation lines and line end included).
func headerFields(header []byte, f func(name string, raw []byte) bool) {
	for len(header) > 0 {
		end := 0
		for {
			i := bytes.IndexByte(header[end:], '\n')
			if i < 0 {
				end = len(header)
				break
			}
			end += i + 1
			if end >= len(header) || (header[end] != ' ' && header[end] != '\t') {
				break
			}
		}
		raw := header[:end]
		header = header[end:]
		name, _, ok := bytes.Cut(raw, []byte(":"))
		if !ok || len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if !f(string(bytes.TrimRight(name, " \t")), raw) {
			return
		}
	}
}

// HeaderValue returns the unfolded value of the first field called name,
// or "".
func HeaderValue(header []byte, name string) string {
	var v string
	headerFields(header, func(n string, raw []byte) bool {
		if !strings.EqualFold(n, name) {
			return true
		}
		_, val, _ := bytes.Cut(raw, []byte(":"))
		val = bytes.ReplaceAll(val, []byte("\r\n"), nil)
		val = bytes.ReplaceAll(val, []byte("\n"), nil)
		v = string(bytes.TrimSpace(val))
		return false
	})
	return v
}

// find resolves a section's part numbers (RFC 9051 §6.4.5: part 1 of a
// message that is not multipart is its body; the parts of a
// message/rfc822 part are those of the message in it), or nil.
func (p *Part) find(path []uint32) *Part {
	cur := p
	for i, n := range path {
		if cur.typ == "multipart" && cur.children != nil {
			if n < 1 || int(n) > len(cur.children) {
				return nil
			}
			cur = cur.children[n-1]
		} else if n != 1 {
			return nil
		}
		if i < len(path)-1 && cur.msg != nil {
			cur = cur.msg
		}
	}
	return cur
}

// section returns the bytes of BODY[section] (RFC 9051 §6.4.5), nil for a
// part that does not exist.
func Section(raw []byte, root *Part, path []uint32, spec string, fields []string) []byte {
	cur := root
	if len(path) > 0 {
		if cur = root.find(path); cur == nil {
			return nil
		}
	}
	// HEADER and TEXT of a part are those of the message it carries.
	msg := cur
	if len(path) > 0 && (strings.HasPrefix(spec, "HEADER") || spec == "TEXT") {
		if msg = cur.msg; msg == nil {
			return []byte{}
		}
	}
	switch spec {
	case "":
		if len(path) == 0 {
			return raw
		}
		return cur.Body
	case "MIME":
		return cur.Header
	case "TEXT":
		return msg.Body
	case "HEADER":
		return msg.Header
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		not := spec == "HEADER.FIELDS.NOT"
		var out []byte
		headerFields(msg.Header, func(name string, f []byte) bool {
			listed := false
			for _, want := range fields {
				listed = listed || strings.EqualFold(want, name)
			}
			if listed != not {
				out = append(out, f...)
			}
			return true
		})
		return append(out, "\r\n"...)
	}
	return nil
}

// partial cuts <offset.count> out of a section (RFC 9051 §6.4.5).
func Partial(b []byte, offset, count uint32) []byte {
	if int64(offset) >= int64(len(b)) {
		return []byte{}
	}
	b = b[offset:]
	if int64(count) < int64(len(b)) {
		b = b[:count]
	}
	return b
}

// BinarySection returns the body of a part with its
// Content-Transfer-Encoding undone (RFC 3516 §4.2), nil for a part that
// does not exist; ok is false for an encoding pail does not know (NO
// [UNKNOWN-CTE]).
func BinarySection(raw []byte, root *Part, path []uint32) (b []byte, ok bool) {
	if len(path) == 0 {
		return raw, true
	}
	cur := root.find(path)
	if cur == nil {
		return nil, true
	}
	switch strings.ToLower(HeaderValue(cur.Header, "Content-Transfer-Encoding")) {
	case "", "7bit", "8bit", "binary":
		return cur.Body, true
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, cur.Body)
		clean = bytes.TrimRight(clean, "=")
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		// What decodes before a bad byte is kept, as clients do.
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n], true
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(cur.Body)))
		return out, true
	}
	return nil, false
}
