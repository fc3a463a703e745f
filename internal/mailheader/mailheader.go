// Package mailheader reads the fields of a raw header section (RFC 5322
// §2.2) the one lenient way pail's checks share: the submission author
// check and Date/Message-ID fixer (package delivery), the inbound checks
// (package verify) and the removal of forged fields a filter answers for
// (package rspamd, through verify). It reads bytes as received; it never
// rewrites them.
package mailheader

import (
	"bytes"
	"io"
	"iter"
	"mime"
	"net/mail"
)

// Field is one header field of a header section.
type Field struct {
	// Name is the field name as written, without WSP before the colon.
	Name []byte
	// Value is what follows the colon, unfolded: continuation lines
	// joined without their CRLF. It is a copy, not part of the section.
	Value []byte
	// Start and End are the field's bytes in the header section, its
	// continuation lines and final line ending included.
	Start, End int
}

// Is reports whether the field is named name; field names are
// case-insensitive (RFC 5322 §1.2.2).
func (f Field) Is(name string) bool { return bytes.EqualFold(f.Name, []byte(name)) }

// Fields yields the fields of a header section. A field starts at a line
// that is a field name (printable ASCII but colon, RFC 5322 §3.6.8),
// optional WSP, and a colon: the WSP is the obsolete syntax of §4.5
// (obs-from = "From" *WSP ":" ..., §4.5.2; obs-optional, §4.5.8), which
// relaxed DKIM canonicalization and mail readers accept, so a "From : x"
// must be seen as a From. A line that starts with WSP continues the field
// before it (unfolding, §2.2.3); lines end in LF with an optional CR
// before it. Any other line (no colon, a space inside the name) is no
// field and ends the one before it.
func Fields(header []byte) iter.Seq[Field] {
	return func(yield func(Field) bool) {
		var cur Field
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
					cur.Value = append(cur.Value, line...)
					cur.End = pos
				}
				continue
			}
			if have && !yield(cur) {
				return
			}
			cur, have = parseFieldLine(line)
			cur.Start, cur.End = lineStart, pos
		}
		if have {
			yield(cur)
		}
	}
}

// Values returns the unfolded values of every field named name
// (case-insensitive) in a header section, from the top.
func Values(header []byte, name string) [][]byte {
	var out [][]byte
	for f := range Fields(header) {
		if f.Is(name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// parseFieldLine splits the first line of a field into its name and value.
func parseFieldLine(line []byte) (Field, bool) {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if i == 0 || j == len(line) || line[j] != ':' {
		return Field{}, false
	}
	// The value is copied: continuation lines are appended to it.
	return Field{Name: line[:i], Value: append([]byte(nil), line[j+1:]...)}, true
}

// ParseAddressList reads the addresses of an address-list field value
// (From, Sender, To; RFC 5322 §3.4), decoding RFC 2047 words of any
// charset well enough to find the addresses next to them (display names
// are not what pail's checks use).
func ParseAddressList(value string) ([]*mail.Address, error) {
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	return p.ParseList(value)
}
