package imapmsg

import (
	"bytes"
	"mime"
	"slices"
	"strings"

	"pail/internal/imapwire"
)

// envelope is a message's ENVELOPE (RFC 9051 §7.5.2): the header fields
// as written (encoded words are the client's to decode), the address
// lists with RFC 5322 groups kept; Sender and Reply-To default to From.
func Envelope(header []byte) *imapwire.Envelope {
	e := &imapwire.Envelope{
		Date:      HeaderValue(header, "Date"),
		Subject:   HeaderValue(header, "Subject"),
		From:      parseAddresses(HeaderValue(header, "From")),
		Sender:    parseAddresses(HeaderValue(header, "Sender")),
		ReplyTo:   parseAddresses(HeaderValue(header, "Reply-To")),
		To:        parseAddresses(HeaderValue(header, "To")),
		Cc:        parseAddresses(HeaderValue(header, "Cc")),
		Bcc:       parseAddresses(HeaderValue(header, "Bcc")),
		InReplyTo: HeaderValue(header, "In-Reply-To"),
		MessageID: HeaderValue(header, "Message-ID"),
	}
	if len(e.Sender) == 0 {
		e.Sender = e.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = e.From
	}
	return e
}

// addrScanner reads an RFC 5322 §3.4 address-list leniently.
type addrScanner struct {
	s   string
	pos int
}

// maxAddresses bounds the addresses read from one field.
const maxAddresses = 1000

// parseAddresses reads an address list: mailboxes ("Name <a@b>", "a@b"),
// and groups ("Team: a@b, c@d;"), which become a group start (Mailbox
// the group's name) and a group end (RFC 9051 §9 address).
func parseAddresses(s string) []imapwire.Address {
	sc := &addrScanner{s: s}
	var out []imapwire.Address
	for len(out) < maxAddresses {
		sc.skipCFWS()
		if sc.pos >= len(sc.s) {
			break
		}
		if c := sc.s[sc.pos]; c == ',' || c == ';' {
			sc.pos++
			continue
		}
		start := sc.pos
		phrase := sc.phrase()
		sc.skipCFWS()
		if sc.pos < len(sc.s) && sc.s[sc.pos] == ':' && phrase != "" {
			sc.pos++
			out = append(out, imapwire.Address{Mailbox: phrase})
			for len(out) < maxAddresses {
				sc.skipCFWS()
				if sc.pos >= len(sc.s) || sc.s[sc.pos] == ';' {
					sc.pos++
					break
				}
				if sc.s[sc.pos] == ',' {
					sc.pos++
					continue
				}
				before := sc.pos
				if a, ok := sc.mailbox(); ok {
					out = append(out, a)
				} else if sc.pos == before {
					sc.pos++
				}
			}
			out = append(out, imapwire.Address{GroupEnd: true})
			continue
		}
		sc.pos = start
		if a, ok := sc.mailbox(); ok {
			out = append(out, a)
		} else if sc.pos == start {
			sc.pos++
		}
	}
	return out
}

// mailbox reads name-addr or addr-spec.
func (sc *addrScanner) mailbox() (imapwire.Address, bool) {
	start := sc.pos
	name := sc.phrase()
	sc.skipCFWS()
	if sc.pos < len(sc.s) && sc.s[sc.pos] == '<' {
		sc.pos++
		end := strings.IndexByte(sc.s[sc.pos:], '>')
		if end < 0 {
			end = len(sc.s) - sc.pos
		}
		spec := sc.s[sc.pos : sc.pos+end]
		sc.pos = min(len(sc.s), sc.pos+end+1)
		adl := ""
		if strings.HasPrefix(spec, "@") {
			// An obsolete route (RFC 5322 §4.4): "@a,@b:box@host".
			if i := strings.IndexByte(spec, ':'); i >= 0 {
				adl, spec = spec[:i], spec[i+1:]
			}
		}
		a := splitAddr(spec)
		a.Name, a.ADL = name, adl
		return a, true
	}
	// addr-spec: up to the next separator.
	sc.pos = start
	sc.skipCFWS()
	b := strings.Builder{}
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		if c == ',' || c == ';' || c == '(' || c == ' ' || c == '\t' {
			break
		}
		if c == '"' {
			b.WriteString(sc.quoted())
			continue
		}
		b.WriteByte(c)
		sc.pos++
	}
	if b.Len() == 0 {
		return imapwire.Address{}, false
	}
	a := splitAddr(b.String())
	// "box@host (Name)": the comment is the name, as clients show it.
	save := sc.pos
	for sc.pos < len(sc.s) && (sc.s[sc.pos] == ' ' || sc.s[sc.pos] == '\t') {
		sc.pos++
	}
	if sc.pos < len(sc.s) && sc.s[sc.pos] == '(' {
		a.Name = strings.TrimSpace(sc.comment())
	} else {
		sc.pos = save
	}
	return a, true
}

// splitAddr cuts an addr-spec at its last "@".
func splitAddr(spec string) imapwire.Address {
	spec = strings.TrimSpace(spec)
	if i := strings.LastIndexByte(spec, '@'); i >= 0 {
		return imapwire.Address{Mailbox: spec[:i], Host: spec[i+1:]}
	}
	return imapwire.Address{Mailbox: spec}
}

// phrase reads words (atoms and quoted strings) and returns them joined
// by single spaces; it stops before "<", ":", ",", ";", "@" and the end.
func (sc *addrScanner) phrase() string {
	var words []string
	for {
		sc.skipCFWS()
		if sc.pos >= len(sc.s) {
			break
		}
		c := sc.s[sc.pos]
		if c == '"' {
			words = append(words, sc.quoted())
			continue
		}
		if strings.IndexByte("<>:,;@[]\\", c) >= 0 {
			break
		}
		start := sc.pos
		for sc.pos < len(sc.s) && strings.IndexByte(" \t\"()<>:,;@[]\\", sc.s[sc.pos]) < 0 {
			sc.pos++
		}
		words = append(words, sc.s[start:sc.pos])
	}
	return strings.Join(words, " ")
}

// quoted reads a quoted string and returns its content.
func (sc *addrScanner) quoted() string {
	sc.pos++ // the opening quote
	var b strings.Builder
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		sc.pos++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if sc.pos < len(sc.s) {
				b.WriteByte(sc.s[sc.pos])
				sc.pos++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// comment reads a comment, nested ones included, and returns its text.
func (sc *addrScanner) comment() string {
	depth := 0
	var b strings.Builder
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		sc.pos++
		switch c {
		case '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				return b.String()
			}
			b.WriteByte(c)
		case '\\':
			if sc.pos < len(sc.s) {
				b.WriteByte(sc.s[sc.pos])
				sc.pos++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// skipCFWS skips white space and comments.
func (sc *addrScanner) skipCFWS() {
	for sc.pos < len(sc.s) {
		switch sc.s[sc.pos] {
		case ' ', '\t', '\r', '\n':
			sc.pos++
		case '(':
			sc.comment()
		default:
			return
		}
	}
}

// Value shorthands.
func vStr(s string) imapwire.Value { return imapwire.Value{Kind: imapwire.VString, Str: s} }
func vNum(n int) imapwire.Value {
	return imapwire.Value{Kind: imapwire.VNumber, Num: uint64(max(n, 0))}
}
func vList(l ...imapwire.Value) imapwire.Value {
	return imapwire.Value{Kind: imapwire.VList, List: l}
}

var vNil = imapwire.Value{Kind: imapwire.VNil}

func vNString(s string) imapwire.Value {
	if s == "" {
		return vNil
	}
	return vStr(s)
}

// AppendBodyStructure appends BODYSTRUCTURE (extended) or BODY (RFC 9051
// §7.5.2, §9 body).
func AppendBodyStructure(b []byte, p *Part, extended, utf8OK bool) []byte {
	b = append(b, '(')
	if p.typ == "multipart" && p.children != nil {
		for _, c := range p.children {
			// body-type-mpart: no SP between the parts.
			b = AppendBodyStructure(b, c, extended, utf8OK)
		}
		b = append(b, ' ')
		b = vStr(p.sub).AppendTo(b, utf8OK)
		if extended {
			for _, v := range []imapwire.Value{params(p.params), disposition(p.Header), language(p.Header), vNString(HeaderValue(p.Header, "Content-Location"))} {
				b = append(b, ' ')
				b = v.AppendTo(b, utf8OK)
			}
		}
		return append(b, ')')
	}
	enc := strings.ToLower(HeaderValue(p.Header, "Content-Transfer-Encoding")) // Outlook for iOS wants lower case
	if enc == "" {
		enc = "7bit"
	}
	fields := []imapwire.Value{vStr(p.typ), vStr(p.sub), params(p.params), vNString(HeaderValue(p.Header, "Content-ID")),
		vNString(HeaderValue(p.Header, "Content-Description")), vStr(enc), vNum(len(p.Body))}
	for i, v := range fields {
		if i > 0 {
			b = append(b, ' ')
		}
		b = v.AppendTo(b, utf8OK)
	}
	switch {
	case p.msg != nil:
		b = append(b, ' ')
		b = Envelope(p.msg.Header).AppendTo(b, utf8OK)
		b = append(b, ' ')
		b = AppendBodyStructure(b, p.msg, extended, utf8OK)
		b = append(b, ' ')
		b = vNum(lines(p.Body)).AppendTo(b, utf8OK)
	case p.typ == "text":
		b = append(b, ' ')
		b = vNum(lines(p.Body)).AppendTo(b, utf8OK)
	}
	if extended {
		for _, v := range []imapwire.Value{vNString(HeaderValue(p.Header, "Content-MD5")), disposition(p.Header), language(p.Header), vNString(HeaderValue(p.Header, "Content-Location"))} {
			b = append(b, ' ')
			b = v.AppendTo(b, utf8OK)
		}
	}
	return append(b, ')')
}

// lines counts the lines of a body (RFC 9051 §7.5.2 body-fld-lines).
func lines(b []byte) int {
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

func params(m map[string]string) imapwire.Value {
	if len(m) == 0 {
		return vNil
	}
	var l []imapwire.Value
	for _, k := range sortedKeys(m) {
		l = append(l, vStr(k), vStr(m[k]))
	}
	return vList(l...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func disposition(header []byte) imapwire.Value {
	v := HeaderValue(header, "Content-Disposition")
	if v == "" {
		return vNil
	}
	d, ps, err := mime.ParseMediaType(v)
	if err != nil {
		d, _, _ = strings.Cut(v, ";")
		d, ps = strings.ToLower(strings.TrimSpace(d)), nil
	}
	return vList(vStr(d), params(ps))
}

func language(header []byte) imapwire.Value {
	v := HeaderValue(header, "Content-Language")
	if v == "" {
		return vNil
	}
	var out []imapwire.Value
	for _, l := range strings.Split(v, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, vStr(l))
		}
	}
	if len(out) == 0 {
		return vNil
	}
	return vList(out...)
}
