package httpcache

import "strings"

// sfMember is one member of a Structured Field Dictionary (RFC 8941
// §3.2) as far as cache directives need it: its key, and its value when
// that is an Integer or a Boolean. Any other type (String, Token, Decimal,
// Byte Sequence, Inner List) is reported as wrongType.
type sfMember struct {
	key       string
	integer   string // decimal digits of an Integer value, "" otherwise
	boolean   bool   // the Boolean value (true for a bare key)
	isInteger bool
	wrongType bool
}

// parseSFDictionary parses a Dictionary field value (RFC 8941 §4.2.2),
// the several field lines joined with commas. ok is false when the value
// is not a valid Dictionary, in which case RFC 8941 §4.2 has the whole
// field ignored. A key given twice keeps its last value (§4.2.2).
func parseSFDictionary(lines []string) (members []sfMember, ok bool) {
	p := sfParser{s: strings.Join(lines, ",")}
	p.skip(" ")
	for p.i < len(p.s) {
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		m := sfMember{key: key, boolean: true}
		if p.peek() == '=' {
			p.i++
			if !p.item(&m) {
				return nil, false
			}
		} else if !p.params() {
			return nil, false
		}
		members = replaceMember(members, m)
		p.skip(" \t")
		if p.i == len(p.s) {
			return members, true
		}
		if p.peek() != ',' {
			return nil, false
		}
		p.i++
		p.skip(" \t")
		if p.i == len(p.s) {
			return nil, false // a trailing comma
		}
	}
	return members, true
}

func replaceMember(ms []sfMember, m sfMember) []sfMember {
	for i := range ms {
		if ms[i].key == m.key {
			ms[i] = m
			return ms
		}
	}
	return append(ms, m)
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) skip(set string) {
	for p.i < len(p.s) && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

// key parses a key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", false
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_-.*", c) >= 0) {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

// item parses an Item or Inner List and its parameters (RFC 8941 §4.2.3, §4.2.1.2).
func (p *sfParser) item(m *sfMember) bool {
	m.boolean = false
	switch c := p.peek(); {
	case c == '(':
		m.wrongType = true
		p.i++
		for {
			p.skip(" ")
			if p.peek() == ')' {
				p.i++
				break
			}
			var inner sfMember
			if !p.bare(&inner) || !p.params() {
				return false
			}
			if c := p.peek(); c != ' ' && c != ')' {
				return false
			}
		}
	default:
		if !p.bare(m) {
			return false
		}
	}
	return p.params()
}

// bare parses a Bare Item (RFC 8941 §4.2.3.1).
func (p *sfParser) bare(m *sfMember) bool {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		if c == '-' {
			p.i++
		}
		d := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n := p.i - d
		if n == 0 || n > 15 {
			return false
		}
		if p.peek() == '.' { // a Decimal
			p.i++
			f := p.i
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			if n > 12 || p.i == f || p.i-f > 3 {
				return false
			}
			m.wrongType = true
			return true
		}
		m.integer, m.isInteger = p.s[start:p.i], true
		return true
	case c == '"':
		p.i++
		for p.i < len(p.s) {
			switch ch := p.s[p.i]; {
			case ch == '\\':
				if p.i+1 >= len(p.s) || (p.s[p.i+1] != '"' && p.s[p.i+1] != '\\') {
					return false
				}
				p.i += 2
			case ch == '"':
				p.i++
				m.wrongType = true
				return true
			case ch < 0x20 || ch >= 0x7f:
				return false
			default:
				p.i++
			}
		}
		return false
	case c == '?':
		if p.i+1 >= len(p.s) || (p.s[p.i+1] != '0' && p.s[p.i+1] != '1') {
			return false
		}
		m.boolean = p.s[p.i+1] == '1'
		p.i += 2
		return true
	case c == ':':
		// A Byte Sequence (RFC 8941 §4.2.7): base64 between colons.
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 || !base64Chars(p.s[p.i+1:p.i+1+end]) {
			return false
		}
		p.i += end + 2
		m.wrongType = true
		return true
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for p.i < len(p.s) && (isTokenChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		m.wrongType = true
		return true
	}
	return false
}

// params parses *( ";" *SP key [ "=" bare-item ] ) (RFC 8941 §4.2.3.2);
// parameters have no meaning for cache directives and are dropped.
func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		p.skip(" ")
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			var v sfMember
			if !p.bare(&v) {
				return false
			}
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
}

// base64Chars reports whether s holds only characters of base64 (RFC 4648
// §4), as a Byte Sequence must (RFC 8941 §4.2.7).
func base64Chars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
