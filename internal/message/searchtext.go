package message

import (
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	"golang.org/x/text/unicode/norm"
)

// MaxSearchText bounds the text ReadSearchText keeps of one message (all
// its field values together, folded; field names and line breaks aside):
// 1 MiB holds the text of any letter; what is cut beyond is marked
// Partial, never silently lost.
const MaxSearchText = 1 << 20

// SearchText is what a full-text index holds of a message, every field
// folded (FoldSearch): a needle found by the IMAP SEARCH rules (RFC 9051
// §6.4.4: a substring of the decoded header field or of the decoded text,
// by i;unicode-casemap, RFC 5255 §4) is a substring of the folded text of its field, so an
// index of these never misses a match.
type SearchText struct {
	// Header holds every header field, one a line: "name: value", the
	// value decoded from RFC 2047 encoded words (the raw value when they
	// do not decode).
	Header string
	// Subject, From, To, Cc and Bcc are the decoded values of those
	// fields (several fields of one name one a line).
	Subject, From, To, Cc, Bcc string
	// Body is the decoded text of every text/* and message/* leaf
	// (transfer encoding undone, converted to UTF-8 from its charset),
	// with an HTML part also as its readable text; a message whose MIME
	// structure does not parse contributes its raw body instead.
	Body string
	// Partial is set when the text was cut at MaxSearchText or the
	// message did not parse to its end: a searcher must then look at the
	// message itself.
	Partial bool
}

// FoldSearch is the folding that SearchText applies and that a needle
// needs before it is looked for in one: Casemap, then every run of white
// space squeezed to one space. The SEARCH rules match a needle n in a text
// t when Casemap(n) is a substring of Casemap(t) (RFC 5255 §4); then
// FoldSearch(n) is a substring of FoldSearch(t), which is what lets an
// index of folded text never miss a match. Casemap maps character by
// character, so a substring n of t also has FoldSearch(n) in
// FoldSearch(t).
func FoldSearch(s string) string {
	f := Casemap(s)
	var b strings.Builder
	b.Grow(len(f))
	space := false
	for _, r := range f {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// Casemap canonicalizes s for the i;unicode-casemap comparator (RFC 5051
// §2), which IMAP SEARCH and SORT use for strings at I18NLEVEL=1 (RFC
// 5255 §4): each character is mapped to its titlecase (the simple mapping
// of UnicodeData.txt, as unicode.ToTitle) and decomposed (canonical and
// compatibility decompositions, fully, and Hangul syllables), and every
// character of the decomposition the same way again, until nothing
// changes; invalid UTF-8 becomes U+FFFD, a byte each. Two strings are
// equal when their folds are, one a substring of the other when its fold
// is a substring of the other's, and they order as their folds' octets.
// So "café" matches "CAFE" (é decomposes to e and U+0301), "ﬁ" matches
// "FI", full-width "ｆｉｌｅ" matches "file", and "ß" matches only ß (it
// has no simple titlecase: "STRASSE" does not match "Straße"). The fold
// is made character by character, with no canonical reordering of
// combining marks across characters, so that the fold of a string is the
// folds of its characters in a row.
func Casemap(s string) string {
	ascii, lower := true, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		lower = lower || 'a' <= c && c <= 'z'
	}
	if ascii {
		// ASCII's titlecase is its upper case, and it does not decompose.
		if lower {
			return strings.ToUpper(s)
		}
		return s
	}
	b := make([]byte, 0, len(s)+len(s)/4)
	for _, r := range s {
		b = appendCasemap(b, r, 0)
	}
	return string(b)
}

// maxCasemapDepth bounds how many times appendCasemap titlecases and
// decomposes again what a decomposition gave: Unicode's decompositions
// are full already, and no titlecase of a decomposition's character
// decomposes again (TestCasemapAllRunes checks both), so one round is
// all that is ever taken.
const maxCasemapDepth = 4

// appendCasemap appends Casemap of the character r to b.
func appendCasemap(b []byte, r rune, depth int) []byte {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return append(b, byte(r))
	}
	t := unicode.ToTitle(r)
	if t < utf8.RuneSelf {
		return append(b, byte(t))
	}
	var enc [utf8.UTFMax]byte
	e := enc[:utf8.EncodeRune(enc[:], t)]
	if hangulFirst <= t && t <= hangulLast {
		// Hangul syllables decompose by rule, not by table (jamo
		// have no case).
		return norm.NFKD.Append(b, e...)
	}
	d := norm.NFKD.Properties(e).Decomposition()
	if d == nil || depth >= maxCasemapDepth {
		return append(b, e...)
	}
	for _, c := range string(d) {
		b = appendCasemap(b, c, depth+1)
	}
	return b
}

// The precomposed Hangul syllables (Unicode §3.12).
const (
	hangulFirst = 0xAC00
	hangulLast  = 0xD7A3
)

// textBudget counts what a SearchText may still take.
type textBudget struct {
	left    int
	partial bool
}

// take folds s and returns what fits of it, marking the text partial when
// s did not fit.
func (tb *textBudget) take(s string) string {
	f := FoldSearch(s)
	if len(f) <= tb.left {
		tb.left -= len(f)
		return f
	}
	tb.partial = true
	cut := tb.left
	for cut > 0 && !utf8.RuneStart(f[cut]) {
		cut-- // cut between characters
	}
	tb.left = 0
	return f[:cut]
}

// ReadSearchText reads a message and returns its text for a full-text
// index, bounded by MaxSearchText. It never fails: what cannot be read is
// marked Partial.
func ReadSearchText(r io.Reader) SearchText {
	tb := &textBudget{left: MaxSearchText}
	var st SearchText
	e, err := gomessage.ReadWithOptions(r, &gomessage.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if e == nil {
		st.Partial = true
		return st
	}
	if err != nil && !isSoftError(err) {
		st.Partial = true
	}
	var hdr, subject, from, to, cc, bcc strings.Builder
	line := func(b *strings.Builder, s string) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	fields := e.Header.Fields()
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		v = tb.take(v)
		line(&hdr, FoldSearch(fields.Key())+": "+v)
		switch strings.ToLower(fields.Key()) {
		case "subject":
			line(&subject, v)
		case "from":
			line(&from, v)
		case "to":
			line(&to, v)
		case "cc":
			line(&cc, v)
		case "bcc":
			line(&bcc, v)
		}
	}
	st.Header, st.Subject, st.From, st.To, st.Cc, st.Bcc = hdr.String(), subject.String(), from.String(), to.String(), cc.String(), bcc.String()
	var body strings.Builder
	if !searchBody(e, tb, &body, 0) {
		st.Partial = true
	}
	st.Body = body.String()
	st.Partial = st.Partial || tb.partial
	return st
}

// searchBody appends the text of e's text leaves to b; it returns false
// when the structure stopped parsing before its end.
func searchBody(e *gomessage.Entity, tb *textBudget, b *strings.Builder, depth int) bool {
	if depth > maxDepth {
		return false
	}
	if mr := e.MultipartReader(); mr != nil {
		for tb.left > 0 {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return true
			}
			if p == nil || err != nil && !isSoftError(err) {
				return false
			}
			if !searchBody(p, tb, b, depth+1) {
				return false
			}
		}
		return true
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return true
	}
	// Decoded text can grow from its transfer encoding but not past the
	// budget's bytes by more than folding shrinks it: read one more than
	// fits, and let take cut.
	limit := int64(tb.left) + 1
	data, err := io.ReadAll(io.LimitReader(e.Body, limit))
	if int64(len(data)) == limit {
		// More may follow what was read, and folding may have shrunk
		// what was (white space squeezed), so that take finds it fits:
		// the text is cut all the same.
		tb.partial = true
	}
	if len(data) > 0 {
		b.WriteString(tb.take(string(data)))
		b.WriteByte('\n')
		if t == "text/html" && tb.left > 0 {
			b.WriteString(tb.take(HTMLToText(string(data))))
			b.WriteByte('\n')
		}
	}
	return err == nil || isSoftError(err)
}
