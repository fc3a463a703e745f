package smtpserver

import (
	"bytes"
	"strconv"
	"strings"
)

// command is one parsed command line.
type command struct {
	verb string // upper case
	arg  string // the rest after the first space, trimmed
}

// parseCommand splits a command line (without its line ending) into verb
// and argument (RFC 5321 §4.1.1: the verb, then SP and the arguments).
// The verb is any word: unknown ones are the dispatcher's business.
func parseCommand(line []byte) command {
	verb, arg, _ := bytes.Cut(line, []byte{' '})
	return command{verb: upperASCII(verb), arg: string(bytes.TrimSpace(arg))}
}

// upperASCII returns b in upper case, without allocating for the verbs
// the loop knows.
func upperASCII(b []byte) string {
	for _, v := range knownVerbs {
		if len(v) == len(b) && bytes.EqualFold(b, []byte(v)) {
			return v
		}
	}
	return strings.ToUpper(string(b))
}

// knownVerbs are the verbs dispatch handles, interned by upperASCII.
var knownVerbs = [...]string{"MAIL", "RCPT", "DATA", "BDAT", "EHLO", "HELO", "RSET", "NOOP", "QUIT", "VRFY", "HELP", "AUTH", "STARTTLS", "EXPN"}

// cutPrefixFold is strings.CutPrefix ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// parseHello returns the domain or address literal of EHLO/HELO
// (RFC 5321 §4.1.1.1), its first word; "" if there is none.
func parseHello(arg string) string {
	d, _, _ := strings.Cut(arg, " ")
	return d
}

// postmaster is the one forward-path that needs no domain (RFC 5321
// §4.1.1.3: "<Postmaster>", case-insensitive, §4.5.1).
const postmaster = "postmaster"

// parsePath parses the path at the start of s (RFC 5321 §4.1.2): "<>" when
// null is allowed, "<" [A-d-l ":"] Mailbox ">" otherwise, the angle
// brackets optional as many servers allow. It returns the mailbox (source
// routes dropped, §C: "SHOULD ignore"), and the rest of s. A quoted local
// part that needs no quoting is returned unquoted (§4.1.2: the two forms
// are the same mailbox); rcpt accepts a bare "<postmaster>".
func parsePath(s string, null, rcpt bool) (addr, rest string, ok bool) {
	bracket := strings.HasPrefix(s, "<")
	if bracket {
		s = s[1:]
		if null && strings.HasPrefix(s, ">") {
			return "", s[1:], true
		}
		if rcpt && len(s) > len(postmaster) && strings.EqualFold(s[:len(postmaster)], postmaster) && s[len(postmaster)] == '>' {
			return s[:len(postmaster)], s[len(postmaster)+1:], true
		}
		if strings.HasPrefix(s, "@") { // A-d-l: "@one,@two:"
			i := strings.IndexByte(s, ':')
			if i < 0 {
				return "", "", false
			}
			s = s[i+1:]
		}
	}
	local, s, ok := parseLocalPart(s)
	if !ok || local == "" || !strings.HasPrefix(s, "@") {
		return "", "", false
	}
	s = s[1:]
	end := strings.IndexAny(s, " \t>")
	if end < 0 {
		end = len(s)
	}
	domain := s[:end]
	s = s[end:]
	if domain == "" {
		return "", "", false
	}
	if bracket {
		if !strings.HasPrefix(s, ">") {
			return "", "", false
		}
		s = s[1:]
	} else if strings.HasPrefix(s, ">") {
		return "", "", false
	}
	return local + "@" + domain, s, true
}

// parseLocalPart reads a Dot-string or Quoted-string (RFC 5321 §4.1.2)
// up to the "@".
func parseLocalPart(s string) (local, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, "@()<>[]:;\\,\" \t")
		if end < 0 || s[end] != '@' {
			return "", "", false
		}
		return s[:end], s[end:], true
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			inner := b.String()
			if isDotString(inner) {
				return inner, s[i+1:], true
			}
			return s[:i+1], s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// isDotString reports whether s is an RFC 5321 Dot-string (atoms of
// atext, RFC 5322 §3.2.3, joined by single dots; UTF-8 allowed, RFC 6531).
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '.' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", rune(c)) {
			return false
		}
	}
	return true
}

// param is one ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2).
type param struct{ key, value string }

// maxParams bounds the parameters of one command; a command line is
// bounded anyway, this keeps the slice small.
const maxParams = 16

// parseParams splits the Mail-parameters or Rcpt-parameters after a path:
// esmtp-keyword ["=" esmtp-value] separated by spaces; keywords in upper
// case. It fails on a malformed keyword, an empty or malformed value, or a
// keyword given twice.
func parseParams(s string) ([]param, bool) {
	var ps []param
	for _, f := range strings.Fields(s) {
		k, v, hasValue := strings.Cut(f, "=")
		if !isKeyword(k) || (hasValue && !isValue(v)) || len(ps) == maxParams {
			return nil, false
		}
		k = strings.ToUpper(k)
		for _, p := range ps {
			if p.key == k {
				return nil, false
			}
		}
		ps = append(ps, param{k, v})
	}
	return ps, true
}

// isKeyword: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func isKeyword(k string) bool {
	if k == "" || k[0] == '-' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '-' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}

// isValue: esmtp-value = 1*(%d33-60 / %d62-126), and UTF-8 (RFC 6531 §3.3).
func isValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 33 || c == '=' || c == 127 {
			return false
		}
	}
	return true
}

// parseBDAT parses BDAT's arguments (RFC 3030 §2): chunk-size, an
// unsigned decimal, and the optional "LAST". Sizes are bounded to 32 bits
// (a chunk is at most MaxMessageBytes anyway).
func parseBDAT(arg string) (size int64, last, ok bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
		return 0, false, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0, false, false
	}
	return int64(n), len(f) == 2, true
}

// decodeXtext decodes an xtext value (RFC 3461 §4: "+" and two upper-case
// hex digits stand for one octet).
func decodeXtext(s string) (string, bool) {
	if !strings.Contains(s, "+") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '+' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
			return "", false
		}
		n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), true
}

func isUpperHex(c byte) bool { return ('0' <= c && c <= '9') || ('A' <= c && c <= 'F') }
