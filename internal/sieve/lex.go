package sieve

import (
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token (RFC 5228 §8.1).
type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokTag
	tokNumber
	tokString
	tokPunct // one of [ ] ( ) { } , ;
)

// token is one lexical token with where it starts.
type token struct {
	kind tokKind
	pos  Pos
	text string // identifier or tag name (without ':'), string value, punctuation
	num  uint64
}

// describe names a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of script"
	case tokIdent:
		return "identifier " + t.text
	case tokTag:
		return "tag :" + t.text
	case tokNumber:
		return "number"
	case tokString:
		return "string"
	}
	return "'" + t.text + "'"
}

// lexer turns a script into tokens. It keeps line and column; columns
// count characters, not bytes (a UTF-8 continuation byte adds nothing).
type lexer struct {
	src       string
	off       int
	line, col int
	maxString int
}

func newLexer(src string, maxString int) *lexer {
	return &lexer{src: src, line: 1, col: 1, maxString: maxString}
}

func (l *lexer) pos() Pos { return Pos{Line: l.line, Col: l.col} }

// advance moves past n bytes, keeping line and column.
func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		c := l.src[l.off]
		l.off++
		switch {
		case c == '\n':
			l.line++
			l.col = 1
		case c&0xC0 != 0x80:
			l.col++
		}
	}
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipSpace skips white space and both kinds of comment (§8.1:
// hash-comment to the end of the line, bracket-comment /* ... */ not
// nested).
func (l *lexer) skipSpace() *Error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.advance(1)
		case c == '#':
			i := strings.IndexByte(l.src[l.off:], '\n')
			if i < 0 {
				l.advance(len(l.src) - l.off)
			} else {
				l.advance(i + 1)
			}
		case c == '/' && strings.HasPrefix(l.src[l.off:], "/*"):
			p := l.pos()
			i := strings.Index(l.src[l.off+2:], "*/")
			if i < 0 {
				return errAt(p, "unterminated bracket comment")
			}
			l.advance(2 + i + 2)
		default:
			return nil
		}
	}
	return nil
}

// next returns the next token.
func (l *lexer) next() (token, *Error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tokEOF, pos: p}, nil
	}
	c := l.src[l.off]
	switch {
	case strings.IndexByte("[](){},;", c) >= 0:
		l.advance(1)
		return token{kind: tokPunct, pos: p, text: string(c)}, nil
	case c == '"':
		return l.quoted(p)
	case c == ':':
		l.advance(1)
		if l.off >= len(l.src) || !(isAlpha(l.src[l.off]) || l.src[l.off] == '_') {
			return token{}, errAt(p, "a tag needs a name after ':'")
		}
		name := l.ident()
		return token{kind: tokTag, pos: p, text: strings.ToLower(name)}, nil
	case isDigit(c):
		return l.number(p)
	case isAlpha(c) || c == '_':
		name := l.ident()
		if strings.EqualFold(name, "text") && l.off < len(l.src) && l.src[l.off] == ':' {
			l.advance(1)
			return l.multiline(p)
		}
		return token{kind: tokIdent, pos: p, text: strings.ToLower(name)}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	return token{}, errAt(p, "unexpected character %q", r)
}

// ident reads identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_").
func (l *lexer) ident() string {
	start := l.off
	for l.off < len(l.src) {
		c := l.src[l.off]
		if !(isAlpha(c) || isDigit(c) || c == '_') {
			break
		}
		l.advance(1)
	}
	return l.src[start:l.off]
}

// number reads number = 1*DIGIT [ QUANTIFIER ], QUANTIFIER = "K" / "M"
// / "G" (§2.4.1: powers of 2^10, case-insensitive). A number that does
// not fit in 63 bits is an error, as is a letter glued to it.
func (l *lexer) number(p Pos) (token, *Error) {
	const maxNum = 1<<63 - 1
	var n uint64
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		d := uint64(l.src[l.off] - '0')
		if n > (maxNum-d)/10 {
			return token{}, errAt(p, "number too large")
		}
		n = n*10 + d
		l.advance(1)
	}
	if l.off < len(l.src) {
		shift := 0
		switch l.src[l.off] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		}
		if shift > 0 {
			if n > maxNum>>shift {
				return token{}, errAt(p, "number too large")
			}
			n <<= shift
			l.advance(1)
		}
	}
	if l.off < len(l.src) && (isAlpha(l.src[l.off]) || l.src[l.off] == '_' || isDigit(l.src[l.off])) {
		return token{}, errAt(p, "bad number: unexpected %q after the digits", l.src[l.off])
	}
	return token{kind: tokNumber, pos: p, num: n}, nil
}

// quoted reads a quoted string (§2.4.2): "\" escapes the next character,
// whichever it is, so "\\" is a backslash, "\"" a quote and "\a" an "a";
// line breaks are allowed inside.
func (l *lexer) quoted(p Pos) (token, *Error) {
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, errAt(p, "unterminated string")
		}
		c := l.src[l.off]
		switch c {
		case '"':
			l.advance(1)
			return token{kind: tokString, pos: p, text: b.String()}, nil
		case '\\':
			if l.off+1 >= len(l.src) {
				return token{}, errAt(p, "unterminated string")
			}
			b.WriteByte(l.src[l.off+1])
			l.advance(2)
		default:
			b.WriteByte(c)
			l.advance(1)
		}
		if b.Len() > l.maxString {
			return token{}, errAt(p, "string longer than %d bytes", l.maxString)
		}
	}
}

// multiline reads a multi-line string after "text:" (§2.4.2, §8.1):
// optional white space and a hash comment, the line break, then lines up
// to one that is a single ".". A line starting with ".." loses its first
// dot (dot-stuffing). Line breaks may be CRLF or LF; the value keeps
// CRLF, as the grammar writes it.
func (l *lexer) multiline(p Pos) (token, *Error) {
	for l.off < len(l.src) && (l.src[l.off] == ' ' || l.src[l.off] == '\t') {
		l.advance(1)
	}
	if l.off < len(l.src) && l.src[l.off] == '#' {
		for l.off < len(l.src) && l.src[l.off] != '\n' {
			l.advance(1)
		}
	}
	if strings.HasPrefix(l.src[l.off:], "\r\n") {
		l.advance(2)
	} else if strings.HasPrefix(l.src[l.off:], "\n") {
		l.advance(1)
	} else {
		return token{}, errAt(p, "text: must be followed by a line break")
	}
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, errAt(p, "unterminated multi-line string (no line with a single '.')")
		}
		rest := l.src[l.off:]
		line := rest
		n := len(rest)
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i]
			n = i + 1
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "." {
			l.advance(n)
			return token{kind: tokString, pos: p, text: b.String()}, nil
		}
		if strings.HasPrefix(line, "..") {
			line = line[1:]
		}
		b.WriteString(line)
		if n < len(rest) || strings.HasSuffix(rest, "\n") {
			b.WriteString("\r\n")
		}
		l.advance(n)
		if b.Len() > l.maxString {
			return token{}, errAt(p, "string longer than %d bytes", l.maxString)
		}
	}
}
