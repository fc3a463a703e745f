package imapwire

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// Character classes of RFC 9051 §9.

// isAtomChar: ATOM-CHAR = <any CHAR except atom-specials>; atom-specials
// = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
// resp-specials.
func isAtomChar(c byte) bool {
	if c <= 0x20 || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// isAStringChar: ASTRING-CHAR = ATOM-CHAR / resp-specials.
func isAStringChar(c byte) bool { return isAtomChar(c) || c == ']' }

// isTagChar: tag = 1*<any ASTRING-CHAR except "+">.
func isTagChar(c byte) bool { return isAStringChar(c) && c != '+' }

// isListChar: list-char = ATOM-CHAR / list-wildcards / resp-specials.
func isListChar(c byte) bool { return isAStringChar(c) || c == '%' || c == '*' }

func (r *Reader) atEnd() bool { return r.pos >= len(r.line) }

func (r *Reader) peek() byte {
	if r.pos < len(r.line) {
		return r.line[r.pos]
	}
	return 0
}

// sp reads the one SP between arguments.
func (r *Reader) sp() error {
	if r.peek() != ' ' {
		if r.atEnd() {
			return syntaxErr("missing argument")
		}
		return syntaxErr("expected a space at %q", r.near())
	}
	r.pos++
	return nil
}

// maybeSP reads a SP when there is one.
func (r *Reader) maybeSP() bool {
	if r.peek() == ' ' {
		r.pos++
		return true
	}
	return false
}

func (r *Reader) expect(c byte) error {
	if r.peek() != c {
		return syntaxErr("expected %q at %q", c, r.near())
	}
	r.pos++
	return nil
}

// near quotes a little of the input at the error, for the reply text.
func (r *Reader) near() string {
	end := r.pos + 16
	if end > len(r.line) {
		end = len(r.line)
	}
	s := r.line[r.pos:end]
	for _, c := range s {
		if c < 0x20 || c >= 0x7f {
			return "(unprintable)"
		}
	}
	return string(s)
}

// span returns the bytes from pos while ok holds.
func (r *Reader) span(ok func(byte) bool) []byte {
	i := r.pos
	for r.pos < len(r.line) && ok(r.line[r.pos]) {
		r.pos++
	}
	return r.line[i:r.pos]
}

// atom reads 1*ATOM-CHAR. The bytes are valid until the next read.
func (r *Reader) atom() ([]byte, error) {
	b := r.span(isAtomChar)
	if len(b) == 0 {
		if r.atEnd() {
			return nil, syntaxErr("missing argument")
		}
		return nil, syntaxErr("expected an atom at %q", r.near())
	}
	return b, nil
}

// upperAtom reads an atom and upper-cases it into buf (no allocation
// when it fits).
func (r *Reader) upperAtom(buf []byte) ([]byte, error) {
	b, err := r.atom()
	if err != nil {
		return nil, err
	}
	out := buf[:0]
	for _, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	return out, nil
}

// kind of string the grammar allows at a position.
type strKind int

const (
	kAString strKind = iota // astring: atom chars (with "]") or string
	kString                 // string: quoted or literal
	kList                   // list-mailbox: list-chars or string
)

// str reads an astring, string or list-mailbox. The bytes are valid until
// the next read; a literal's bytes may contain 8-bit data (CHAR8).
func (r *Reader) str(k strKind) ([]byte, error) {
	switch r.peek() {
	case '"':
		return r.quoted()
	case '{':
		b, _, err := r.literal(false)
		return b, err
	}
	if k == kString {
		return nil, syntaxErr("expected a string at %q", r.near())
	}
	ok := isAStringChar
	if k == kList {
		ok = isListChar
	}
	b := r.span(ok)
	if len(b) == 0 {
		if r.atEnd() {
			return nil, syntaxErr("missing argument")
		}
		return nil, syntaxErr("expected a string at %q", r.near())
	}
	return b, nil
}

// astring reads an astring into a new string.
func (r *Reader) astring() (string, error) {
	b, err := r.str(kAString)
	return string(b), err
}

// nstring reads nstring = string / nil.
func (r *Reader) nstring() (s string, isNil bool, err error) {
	if r.isNIL() {
		return "", true, nil
	}
	b, err := r.str(kString)
	return string(b), false, err
}

// isNIL reads NIL (case-insensitive) when it is next as a whole word.
func (r *Reader) isNIL() bool {
	if len(r.line)-r.pos >= 3 && bytes.EqualFold(r.line[r.pos:r.pos+3], []byte("NIL")) &&
		(r.pos+3 == len(r.line) || !isAStringChar(r.line[r.pos+3])) {
		r.pos += 3
		return true
	}
	return false
}

// quoted reads quoted = DQUOTE *QUOTED-CHAR DQUOTE. QUOTED-CHAR is any
// TEXT-CHAR but quoted-specials, or "\" quoted-specials, or UTF-8
// (RFC 9051 §9, utf8-2..4). The unescaped bytes are returned; when there
// are no escapes they alias the line.
func (r *Reader) quoted() ([]byte, error) {
	r.pos++ // DQUOTE
	start := r.pos
	esc := false
	for r.pos < len(r.line) {
		c := r.line[r.pos]
		switch {
		case c == '"':
			b := r.line[start:r.pos]
			r.pos++
			if esc {
				b = unescape(b)
			}
			if !utf8.Valid(b) {
				return nil, syntaxErr("quoted string is not UTF-8")
			}
			return b, nil
		case c == '\\':
			if r.pos+1 >= len(r.line) || (r.line[r.pos+1] != '"' && r.line[r.pos+1] != '\\') {
				return nil, syntaxErr("bad escape in quoted string")
			}
			esc = true
			r.pos += 2
		case c == 0 || c == '\r' || c == '\n':
			return nil, syntaxErr("control character in quoted string")
		default:
			r.pos++
		}
	}
	return nil, syntaxErr("unterminated quoted string")
}

// unescape removes the backslashes of a quoted string, in a new slice.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' {
			i++
		}
		out = append(out, b[i])
	}
	return out
}

// announcement parses "{" number64 ["+"] "}" (after an optional "~")
// which must end the segment.
func (r *Reader) announcement() (size int64, sync bool, err error) {
	r.pos++ // "{"
	start := r.pos
	var n int64
	for r.pos < len(r.line) && r.line[r.pos] >= '0' && r.line[r.pos] <= '9' {
		n = n*10 + int64(r.line[r.pos]-'0')
		if r.pos-start >= 19 || n < 0 {
			return 0, false, syntaxErr("literal size out of range")
		}
		r.pos++
	}
	if r.pos == start {
		return 0, false, syntaxErr("bad literal size")
	}
	sync = true
	if r.peek() == '+' {
		sync = false
		r.pos++
	}
	if r.peek() != '}' || r.pos+1 != len(r.line) {
		return 0, false, syntaxErr("a literal must end its line")
	}
	r.pos++
	return n, sync, nil
}

// literalHead parses a literal's announcement ("{N}", "{N+}"; "~{N}" when
// binary is allowed) and applies the bounds every literal has.
func (r *Reader) literalHead(binaryOK, message bool) (LiteralInfo, error) {
	binary := false
	if r.peek() == '~' {
		if !binaryOK {
			return LiteralInfo{}, syntaxErr("literal8 not allowed here")
		}
		binary = true
		r.pos++
		if r.peek() != '{' {
			return LiteralInfo{}, syntaxErr("expected a literal")
		}
	}
	if r.peek() != '{' {
		return LiteralInfo{}, syntaxErr("expected a literal at %q", r.near())
	}
	size, sync, err := r.announcement()
	if err != nil {
		return LiteralInfo{}, err
	}
	info := LiteralInfo{Tag: r.tag, Command: r.name, Size: size, Sync: sync, Binary: binary, Message: message}
	// RFC 7888 §5: under LITERAL- a non-synchronizing literal over 4096
	// octets is refused with BAD [TOOBIG].
	if !sync && !r.opt.LiteralPlus && size > literalMinusMax {
		return info, tooBigErr("non-synchronizing literal over %d bytes (LITERAL-)", literalMinusMax)
	}
	if message {
		if size > r.lim.MaxMessage {
			e := tooBigErr("message of %d bytes over the limit of %d", size, r.lim.MaxMessage)
			e.Status = "NO" // RFC 9051 §7.1 TOOBIG; RFC 7889 §4: APPEND answers NO
			return info, e
		}
		return info, nil
	}
	if size > r.lim.MaxLiteral || r.total+size > r.lim.MaxCommand {
		return info, tooBigErr("literal of %d bytes over the bound", size)
	}
	return info, nil
}

// literal reads an argument literal into memory, then the segment after
// it. The bytes are valid until the next read.
func (r *Reader) literal(binaryOK bool) ([]byte, bool, error) {
	return r.literalNUL(binaryOK, false)
}

// literalNUL is literal; nulOK lets a NUL through for the caller to
// refuse with a better reply (a mailbox name: NO, RFC 9051 §5.1).
func (r *Reader) literalNUL(binaryOK, nulOK bool) ([]byte, bool, error) {
	info, err := r.literalHead(binaryOK, false)
	if err != nil {
		return nil, false, err
	}
	if err := r.accept(info); err != nil {
		return nil, false, err
	}
	r.total += info.Size
	if int64(cap(r.lit)) < info.Size {
		r.lit = make([]byte, info.Size)
	}
	r.lit = r.lit[:info.Size]
	if _, err := io.ReadFull(r.br, r.lit); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, ioErr(err)
	}
	r.segDone = true
	if err := r.readSegment(); err != nil {
		return nil, false, err
	}
	if !info.Binary && !nulOK && bytes.IndexByte(r.lit, 0) >= 0 {
		// CHAR8 = %x01-ff: NUL only in literal8 (RFC 3516 §4.1).
		return nil, false, syntaxErr("NUL in a literal")
	}
	return r.lit, info.Binary, nil
}

// accept asks the caller to send the continuation or refuse the literal.
func (r *Reader) accept(info LiteralInfo) error {
	if r.opt.Continue == nil {
		return nil
	}
	if err := r.opt.Continue(info); err != nil {
		return &Error{Status: "NO", Class: ErrRefused, Msg: "literal refused", Err: err}
	}
	return nil
}

// messageLiteral copies a message literal (APPEND, CATENATE TEXT) to the
// sink and reads the segment after it.
func (r *Reader) messageLiteral() (w io.Writer, size int64, binary bool, err error) {
	info, err := r.literalHead(true, true)
	if err != nil {
		return nil, 0, false, err
	}
	if err := r.accept(info); err != nil {
		return nil, 0, false, err
	}
	size = info.Size
	if r.opt.Sink != nil {
		w, err = r.opt.Sink(info)
		if err != nil {
			// The client sends the bytes now: skip them.
			if derr := r.discardAccepted(size); derr != nil {
				return nil, 0, false, derr
			}
			return nil, 0, false, &Error{Status: "NO", Class: ErrRefused, Msg: "message refused", Err: err}
		}
	} else {
		w = new(bytes.Buffer)
	}
	r.track = trackReader{r: io.LimitedReader{R: r.br, N: size}}
	src := &r.track
	_, err = io.Copy(w, src)
	n := src.n
	if src.err != nil {
		return nil, 0, false, ioErr(src.err)
	}
	if err != nil {
		// The sink failed: skip what is left of the message.
		if derr := r.discardAccepted(size - n); derr != nil {
			return nil, 0, false, derr
		}
		return nil, 0, false, &Error{Status: "NO", Class: ErrRefused, Msg: "message not stored", Err: err}
	}
	if n < size {
		return nil, 0, false, ioErr(io.ErrUnexpectedEOF)
	}
	r.segDone = true
	if err := r.readSegment(); err != nil {
		return nil, 0, false, err
	}
	return w, size, info.Binary, nil
}

// trackReader counts the bytes read and remembers a read error other
// than EOF, to tell it from the sink's in io.Copy.
type trackReader struct {
	r   io.LimitedReader
	n   int64 // bytes read
	err error
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// discardAccepted skips the bytes of a literal the client sends (it was
// accepted, or is non-synchronizing) and marks it consumed.
func (r *Reader) discardAccepted(n int64) error {
	if err := r.discard(n); err != nil {
		return err
	}
	r.segDone = true
	return nil
}
