package message

import (
	"mime"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// envelopeAddresses reads an address list for an ENVELOPE. The addresses
// are those go-message parses (an address without "@" has no ENVELOPE form
// and is left out, as is a field that does not parse); RFC 5322 §3.4 groups
// are kept as RFC 9051 §7.5.2 group markers around their members.
func envelopeAddresses(h mail.Header, key string) []EnvelopeAddress {
	v := h.Get(key)
	if v == "" {
		return nil
	}
	flat, err := mail.ParseAddressList(v)
	return envelopeOf(v, flat, err)
}

// envelopeOf is envelopeAddresses of the field value v, which parsed as
// flat (or failed with err).
func envelopeOf(v string, flat []*mail.Address, err error) []EnvelopeAddress {
	if err != nil {
		// A comment where net/mail takes none ("zoe(at work)@x.org",
		// RFC 5322 §3.4.1 allows CFWS around the local part's atoms):
		// read the list without its comments.
		if bare := stripComments(v); bare != v {
			if flat, err := mail.ParseAddressList(bare); err == nil {
				return envelopeOf(bare, flat, nil)
			}
		}
		return nil
	}
	segs := splitGroups(v)
	if segs == nil {
		return envelopeList(flat)
	}
	var out []EnvelopeAddress
	for _, s := range segs {
		list, err := mail.ParseAddressList(s.list)
		if strings.TrimSpace(s.list) == "" {
			list, err = nil, nil
		}
		if err != nil {
			// A part that does not parse alone: no groups, as before.
			return envelopeList(flat)
		}
		if !s.group {
			out = append(out, envelopeList(list)...)
			continue
		}
		out = append(out, EnvelopeAddress{Mailbox: s.name})
		out = append(out, envelopeList(list)...)
		out = append(out, EnvelopeAddress{})
	}
	return out
}

func envelopeList(list []*mail.Address) []EnvelopeAddress {
	var out []EnvelopeAddress
	for _, a := range list {
		mailbox, host, ok := strings.Cut(a.Address, "@")
		if !ok {
			continue
		}
		out = append(out, EnvelopeAddress{Name: a.Name, Mailbox: mailbox, Host: host})
	}
	return out
}

// segment is a run of an address list: plain addresses, or one group with
// its decoded display name and its members.
type segment struct {
	group bool
	name  string
	list  string
}

// splitGroups cuts an address-list field at its groups (RFC 5322 §3.4:
// group = display-name ":" [group-list] ";"), skipping quoted strings,
// comments, angle-bracketed addresses and domain literals. It returns nil
// when the field has no group.
func splitGroups(v string) []segment {
	var segs []segment
	plainStart, itemStart, groupStart := 0, 0, -1
	var name string
	depth := 0 // comment nesting
	inQuote, inAngle, inLiteral := false, false, false
	flushPlain := func(end int) {
		if s := strings.Trim(v[plainStart:end], " \t\r\n,"); s != "" {
			segs = append(segs, segment{list: s})
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && (inQuote || depth > 0):
			i++
		case inQuote:
			inQuote = c != '"'
		case depth > 0:
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			}
		case inAngle:
			inAngle = c != '>'
		case inLiteral:
			inLiteral = c != ']'
		case c == '"':
			inQuote = true
		case c == '(':
			depth = 1
		case c == '<':
			inAngle = true
		case c == '[':
			inLiteral = true
		case c == ',' && groupStart < 0:
			itemStart = i + 1
		case c == ':' && groupStart < 0:
			flushPlain(itemStart)
			name = decodePhrase(v[itemStart:i])
			groupStart = i + 1
		case c == ';' && groupStart >= 0:
			segs = append(segs, segment{group: true, name: name, list: v[groupStart:i]})
			groupStart = -1
			plainStart, itemStart = i+1, i+1
		}
	}
	if groupStart >= 0 {
		// An unterminated group: its members run to the end.
		segs = append(segs, segment{group: true, name: name, list: v[groupStart:]})
	} else if len(segs) > 0 {
		flushPlain(len(v))
	}
	if len(segs) == 0 {
		return nil
	}
	return segs
}

// decodePhrase decodes a group's display name: RFC 2047 words, quotes and
// comments removed, white space squeezed.
func decodePhrase(s string) string {
	var b strings.Builder
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (inQuote || depth > 0) && i+1 < len(s):
			i++
			if depth == 0 {
				b.WriteByte(s[i])
			}
		case inQuote && c == '"':
			inQuote = false
		case inQuote:
			b.WriteByte(c)
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '"':
			inQuote = true
		default:
			b.WriteByte(c)
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	if strings.Contains(out, "=?") {
		dec := mime.WordDecoder{CharsetReader: gomessage.CharsetReader}
		if d, err := dec.DecodeHeader(out); err == nil {
			out = d
		}
	}
	return out
}

// stripComments removes the RFC 5322 §3.2.2 comments of a field value,
// nested ones included, leaving quoted strings as they are.
func stripComments(v string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && (quoted || depth > 0):
			if depth == 0 {
				b.WriteByte(c)
				if i+1 < len(v) {
					b.WriteByte(v[i+1])
				}
			}
			i++
			continue
		case quoted:
			quoted = c != '"'
		case c == '"' && depth == 0:
			quoted = true
		case c == '(':
			depth++
			continue
		case c == ')' && depth > 0:
			depth--
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}
