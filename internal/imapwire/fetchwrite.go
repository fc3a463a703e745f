package imapwire

import (
	"bytes"
	"io"
	"strconv"
	"time"
)

// BeginFetch starts "* seq FETCH (". Items follow with the Fetch*
// methods; EndFetch closes it.
func (w *Writer) BeginFetch(seq uint32) {
	b := append(w.buf[:0], "* "...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	b = append(b, " FETCH ("...)
	w.buf = b
	w.write(b)
	w.first = true
}

// EndFetch ends the FETCH response.
func (w *Writer) EndFetch() { w.writeString(")\r\n") }

// item writes the separator and an item name.
func (w *Writer) item(name string) {
	if !w.first {
		w.writeString(" ")
	}
	w.first = false
	w.writeString(name)
	w.writeString(" ")
}

// itemName is item with the name of a fetch item (section and origin).
func (w *Writer) itemName(it *FetchItem) {
	if !w.first {
		w.writeString(" ")
	}
	w.first = false
	w.buf = it.ResponseName(w.buf[:0])
	w.buf = append(w.buf, ' ')
	w.write(w.buf)
}

// FetchNumber writes a numeric item: UID, RFC822.SIZE, MODSEQ (as
// "MODSEQ (n)", RFC 7162 §3.1.4.1), BINARY.SIZE[...] via FetchBinarySize.
func (w *Writer) FetchNumber(name string, n uint64) {
	w.item(name)
	if name == "MODSEQ" {
		w.writeString("(")
		w.Number(n)
		w.writeString(")")
		return
	}
	w.Number(n)
}

// FetchFlags writes FLAGS (...).
func (w *Writer) FetchFlags(flags []string) {
	w.item("FLAGS")
	w.Flags(flags)
}

// FetchDate writes INTERNALDATE or SAVEDATE as a quoted date-time.
func (w *Writer) FetchDate(name string, t time.Time) {
	w.item(name)
	b := append(w.buf[:0], '"')
	b = t.AppendFormat(b, DateTimeLayout)
	w.buf = append(b, '"')
	w.write(w.buf)
}

// FetchRaw writes an item whose value is already encoded: BODYSTRUCTURE
// or ENVELOPE kept from delivery, EMAILID's "(id)".
func (w *Writer) FetchRaw(name string, encoded []byte) {
	w.item(name)
	w.write(encoded)
}

// FetchRawString is FetchRaw with the encoded value as a string (a wire
// form kept at delivery), copied to the output as it is.
func (w *Writer) FetchRawString(name, encoded string) {
	w.item(name)
	w.writeString(encoded)
}

// FetchValue writes an item whose value is a Value tree.
func (w *Writer) FetchValue(name string, v Value) {
	w.item(name)
	w.buf = v.AppendTo(w.buf[:0], w.utf8)
	w.write(w.buf)
}

// FetchEnvelope writes ENVELOPE.
func (w *Writer) FetchEnvelope(e *Envelope) {
	w.item("ENVELOPE")
	w.buf = e.AppendTo(w.buf[:0], w.utf8)
	w.write(w.buf)
}

// FetchSection writes BODY[...]<origin> or RFC822* with data as a string
// (NIL when data is nil). It returns ErrNUL, writing nothing, when data
// holds a NUL: a BODY section cannot carry one.
func (w *Writer) FetchSection(it *FetchItem, data []byte) error {
	if bytes.IndexByte(data, 0) >= 0 {
		return ErrNUL
	}
	w.itemName(it)
	if data == nil {
		w.writeString("NIL")
		return nil
	}
	w.Literal(data, false)
	return nil
}

// FetchBinary writes BINARY[...]<origin> with data: a literal8 when it
// holds a NUL, else a literal (RFC 3516 §4.2). The origin comes from
// the item's partial: "BINARY[1]<0> ~{7}".
func (w *Writer) FetchBinary(it *FetchItem, data []byte) {
	w.itemName(it)
	w.Literal(data, bytes.IndexByte(data, 0) >= 0)
}

// FetchBinarySize writes BINARY.SIZE[...] n (RFC 3516 §4.3).
func (w *Writer) FetchBinarySize(it *FetchItem, n uint64) {
	w.itemName(it)
	w.Number(n)
}

// FetchLiteralFrom writes a fetch item with size bytes from r as its
// literal (literal8 when binary): a BODY[] streamed from the message
// file. The caller vouches for the content.
func (w *Writer) FetchLiteralFrom(it *FetchItem, size int64, r io.Reader, binary bool) error {
	w.itemName(it)
	return w.LiteralFrom(size, r, binary)
}

// Value is a small tree of IMAP data for responses the package has no
// type for (BODYSTRUCTURE built at delivery, extension data).
type Value struct {
	Kind ValueKind
	Str  string
	Num  uint64
	List []Value
}

// ValueKind says what a Value is.
type ValueKind uint8

// Value kinds.
const (
	VNil    ValueKind = iota // NIL
	VAtom                    // Str as it is
	VString                  // Str as a string (quoted or literal)
	VNumber                  // Num
	VList                    // "(" List ")"
)

// AppendTo appends the value's wire form.
func (v Value) AppendTo(b []byte, utf8OK bool) []byte {
	switch v.Kind {
	case VAtom:
		return append(b, v.Str...)
	case VString:
		return appendString(b, v.Str, utf8OK)
	case VNumber:
		return strconv.AppendUint(b, v.Num, 10)
	case VList:
		b = append(b, '(')
		for i, c := range v.List {
			if i > 0 {
				b = append(b, ' ')
			}
			b = c.AppendTo(b, utf8OK)
		}
		return append(b, ')')
	}
	return append(b, "NIL"...)
}

// Envelope is a message's ENVELOPE (RFC 9051 §7.5.2): "" fields are NIL.
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string
}

// Address is one address of an envelope. RFC 9051 §9 address: a group
// start has Mailbox the group's name and no Host; a group end neither
// (GroupEnd), as RFC 5322 group syntax is kept.
type Address struct {
	Name, ADL, Mailbox, Host string
	GroupEnd                 bool
}

// AppendTo appends the envelope's wire form.
func (e *Envelope) AppendTo(b []byte, utf8OK bool) []byte {
	b = append(b, '(')
	b = appendNString(b, e.Date, utf8OK)
	b = append(b, ' ')
	b = appendNString(b, e.Subject, utf8OK)
	for _, l := range [...][]Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		b = append(b, ' ')
		b = appendAddresses(b, l, utf8OK)
	}
	b = append(b, ' ')
	b = appendNString(b, e.InReplyTo, utf8OK)
	b = append(b, ' ')
	b = appendNString(b, e.MessageID, utf8OK)
	return append(b, ')')
}

func appendNString(b []byte, s string, utf8OK bool) []byte {
	if s == "" {
		return append(b, "NIL"...)
	}
	return appendString(b, s, utf8OK)
}

func appendAddresses(b []byte, l []Address, utf8OK bool) []byte {
	if len(l) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for _, a := range l {
		b = append(b, '(')
		b = appendNString(b, a.Name, utf8OK)
		b = append(b, ' ')
		b = appendNString(b, a.ADL, utf8OK)
		b = append(b, ' ')
		if a.GroupEnd {
			b = append(b, "NIL NIL"...)
		} else {
			b = appendNString(b, a.Mailbox, utf8OK)
			b = append(b, ' ')
			b = appendNString(b, a.Host, utf8OK)
		}
		b = append(b, ')')
	}
	return append(b, ')')
}

// FetchNString writes an item whose value is an nstring: PREVIEW (RFC
// 8970 §4), NIL when isNil. 8-bit text is quoted only when the client
// takes UTF-8, else a literal; NUL is never written (appendLiteral).
func (w *Writer) FetchNString(name, s string, isNil bool) {
	w.item(name)
	if isNil {
		w.writeString("NIL")
		return
	}
	w.String(s)
}

// FetchID writes an item whose value is "(objectid)", or NIL when id is
// "": EMAILID, THREADID (RFC 8474 §7).
func (w *Writer) FetchID(name, id string) {
	w.item(name)
	if id == "" {
		w.writeString("NIL")
		return
	}
	b := append(w.buf[:0], '(')
	b = append(b, id...)
	w.buf = append(b, ')')
	w.write(w.buf)
}
