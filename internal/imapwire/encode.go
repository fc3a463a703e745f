package imapwire

import (
	"strconv"
	"unicode/utf8"
)

// maxQuoted is the longest string written quoted; longer ones are
// literals, which clients read without scanning for escapes.
const maxQuoted = 1024

// strForm is how a string can be written.
type strForm int

const (
	formAtom strForm = iota
	formQuoted
	formLiteral
)

// classify decides between atom, quoted and literal for s: RFC 9051 §4.3:
// a quoted string holds no CR, LF or NUL; 8-bit only as UTF-8, and only
// when the client takes UTF-8 (IMAP4rev2 or UTF8=ACCEPT, RFC 6855 §3).
func classify(s string, utf8OK bool) strForm {
	if len(s) > maxQuoted {
		return formLiteral
	}
	form := formAtom
	if s == "" || (len(s) == 3 && (s[0]|0x20) == 'n' && (s[1]|0x20) == 'i' && (s[2]|0x20) == 'l') {
		form = formQuoted
	}
	eight := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n' || c == 0:
			return formLiteral
		case c >= 0x80:
			if !utf8OK {
				return formLiteral
			}
			eight = true
			form = formQuoted
		case !isAStringChar(c):
			form = formQuoted
		}
	}
	if eight && !utf8.ValidString(s) {
		return formLiteral
	}
	return form
}

// appendAString appends s as an astring: atom, quoted or literal.
func appendAString(b []byte, s string, utf8OK bool) []byte {
	switch classify(s, utf8OK) {
	case formAtom:
		return append(b, s...)
	case formQuoted:
		return appendQuoted(b, s)
	}
	return appendLiteral(b, s)
}

// appendString appends s as a string (quoted or literal, never an atom).
func appendString(b []byte, s string, utf8OK bool) []byte {
	if classify(s, utf8OK) == formLiteral {
		return appendLiteral(b, s)
	}
	return appendQuoted(b, s)
}

// appendQuoted appends s quoted, escaping quoted-specials.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendLiteral appends s as a literal. NUL, which only literal8 may
// carry (RFC 3516 §4.1), is dropped from a string value.
func appendLiteral(b []byte, s string) []byte {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			n--
		}
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "}\r\n"...)
	if n == len(s) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != 0 {
			b = append(b, s[i])
		}
	}
	return b
}

// AppendAString appends s as an astring (atom, quoted or literal, as RFC
// 9051 §4.3 allows); utf8OK lets 8-bit UTF-8 be quoted.
func AppendAString(b []byte, s string, utf8OK bool) []byte { return appendAString(b, s, utf8OK) }
