package verify

import (
	"bytes"
	"io"
	"iter"
	"mime"
	"net/mail"
	"slices"
	"strings"
)

// field is one header field of a header section.
type field struct {
	name  []byte // as written, without WSP before the colon
	value []byte // after the colon, unfolded (continuation lines joined without their CRLF)
	// start and end are the field's bytes in the header section, its
	// continuation lines and final CRLF included.
	start, end int
}

// is reports whether the field is named name (case-insensitive, RFC 5322
// §1.2.2).
func (f field) is(name string) bool { return bytes.EqualFold(f.name, []byte(name)) }

// fields yields the fields of a header section. A field starts at a line
// that is a field name (printable ASCII but colon, RFC 5322 §3.6.8),
// optional WSP (the obsolete syntax of §4.5) and a colon; a line that
// starts with WSP continues it (§2.2.3). Any other line is no field and
// ends the one before it.
func fields(header []byte) iter.Seq[field] {
	return func(yield func(field) bool) {
		var cur field
		have := false
		pos := 0
		for pos < len(header) {
			lineStart := pos
			line := header[pos:]
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line = line[:i]
				pos += i + 1
			} else {
				pos = len(header)
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
				if have {
					cur.value = append(cur.value, line...)
					cur.end = pos
				}
				continue
			}
			if have && !yield(cur) {
				return
			}
			cur, have = parseFieldLine(line)
			cur.start, cur.end = lineStart, pos
		}
		if have {
			yield(cur)
		}
	}
}

// parseFieldLine splits the first line of a field into name and value.
func parseFieldLine(line []byte) (field, bool) {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if i == 0 || j == len(line) || line[j] != ':' {
		return field{}, false
	}
	return field{name: line[:i], value: append([]byte(nil), line[j+1:]...)}, true
}

// From is the author of a message, as DMARC reads it (RFC 7489 §6.6.1).
type From struct {
	Address string // the address of the From field
	Domain  string // its domain, lower case; "" when there is none to check
	// Problem says why Domain is empty though the message has a From
	// (several From fields, several authors of different domains, no
	// readable address): DMARC is then a permerror.
	Problem string
}

// lenientWords decodes RFC 2047 words of any charset well enough to read
// the addresses next to them.
var lenientWords = &mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// parseFrom finds the RFC5322.From domain. RFC 7489 §6.6.1: a message
// with several From fields, or one with several addresses of different
// domains, has no one domain to apply a policy to.
func parseFrom(header []byte, complete bool) From {
	if !complete {
		return From{Problem: "header section too large"}
	}
	var values [][]byte
	for f := range fields(header) {
		if f.is("From") {
			values = append(values, f.value)
		}
	}
	switch len(values) {
	case 0:
		return From{Problem: "no From field"}
	case 1:
	default:
		return From{Problem: "several From fields"}
	}
	list, err := lenientWords.ParseList(string(values[0]))
	if err != nil || len(list) == 0 {
		return From{Problem: "From has no readable address"}
	}
	var out From
	for _, a := range list {
		at := strings.LastIndexByte(a.Address, '@')
		if at < 0 {
			return From{Problem: "From has no domain"}
		}
		d := strings.ToLower(strings.TrimSuffix(a.Address[at+1:], "."))
		if out.Domain != "" && d != out.Domain {
			return From{Problem: "From has authors of different domains"}
		}
		out.Address, out.Domain = a.Address, d
	}
	return out
}

// FieldSpans returns where the fields named name (case-insensitive, RFC
// 5322 §1.2.2) are in a header section, from the top, each with its
// continuation lines and final CRLF: what a judge removes a field by
// (Verdict.Remove). header must be the whole section (Message.Header with
// HeaderComplete): a field cut off at its end would be removed only in
// part.
func FieldSpans(header []byte, name string) []Span {
	var out []Span
	for f := range fields(header) {
		if f.is(name) {
			out = append(out, Span{int64(f.start), int64(f.end)})
		}
	}
	return out
}

// mergeSpans sorts spans and joins those that overlap or touch, so that
// each byte is left out once and in order (delivery.Message.Omit wants
// them so).
func mergeSpans(spans []Span) []Span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b Span) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.Start <= last.End {
			last.End = max(last.End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}
