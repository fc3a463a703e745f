package imapwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrNUL is returned when a BODY section holds a NUL: a plain literal
// cannot carry it (RFC 9051 §4.3 CHAR8, RFC 3516 §4.1); the server should
// refuse the fetch, or the client fetch it with BINARY.
var ErrNUL = errors.New("imapwire: NUL in a body section; only BINARY can carry it")

// Writer encodes responses. It never flushes by itself (see Flush). The
// first write error sticks: later calls do nothing and Flush returns it.
type Writer struct {
	bw    *bufio.Writer
	buf   []byte // scratch for one item, reused
	utf8  bool
	err   error
	first bool // no item written yet in the open FETCH
}

// NewWriter returns a Writer over bw.
func NewWriter(bw *bufio.Writer) *Writer { return &Writer{bw: bw} }

// SetUTF8 lets strings and mailbox names go out as UTF-8 (IMAP4rev2,
// UTF8=ACCEPT); otherwise 8-bit strings are literals and mailbox names
// modified UTF-7.
func (w *Writer) SetUTF8(on bool) { w.utf8 = on }

// SetOutput makes the Writer write to bw from now on; call it after Flush
// (a connection gives its buffer back between commands). It keeps the
// first write error. With nil the Writer also drops its scratch buffer,
// so that an idle connection holds none.
func (w *Writer) SetOutput(bw *bufio.Writer) {
	w.bw = bw
	if bw == nil {
		w.buf = nil
	}
}

// Flush sends what was written.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("imapwire: writing: %w", err)
	}
	return w.err
}

// Err is the first write error.
func (w *Writer) Err() error { return w.err }

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("imapwire: writing: %w", err)
	}
}

func (w *Writer) writeString(s string) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.WriteString(s); err != nil {
		w.err = fmt.Errorf("imapwire: writing: %w", err)
	}
}

// Raw writes bytes as they are (already-encoded pieces).
func (w *Writer) Raw(b []byte) { w.write(b) }

// Atom writes s as it is; it must be an atom (or a flag, "\Seen").
func (w *Writer) Atom(s string) { w.writeString(s) }

// SP writes a space.
func (w *Writer) SP() { w.writeString(" ") }

// CRLF ends a response line.
func (w *Writer) CRLF() { w.writeString("\r\n") }

// Number writes a number.
func (w *Writer) Number(n uint64) {
	w.buf = strconv.AppendUint(w.buf[:0], n, 10)
	w.write(w.buf)
}

// AString writes s as an astring.
func (w *Writer) AString(s string) {
	w.buf = appendAString(w.buf[:0], s, w.utf8)
	w.write(w.buf)
}

// String writes s as a string (quoted or literal).
func (w *Writer) String(s string) {
	w.buf = appendString(w.buf[:0], s, w.utf8)
	w.write(w.buf)
}

// NString writes s as a string, or NIL when s is "" and nilIfEmpty.
func (w *Writer) NString(s string, nilIfEmpty bool) {
	if s == "" && nilIfEmpty {
		w.writeString("NIL")
		return
	}
	w.String(s)
}

// Mailbox writes a mailbox name: modified UTF-7 unless in UTF-8 mode
// (RFC 9051 §5.1, RFC 3501 §5.1.3), as an astring.
func (w *Writer) Mailbox(name string) {
	if !w.utf8 {
		name = EncodeUTF7(name)
	}
	w.AString(name)
}

// Flags writes a flag list, "(\Seen $Junk)".
func (w *Writer) Flags(flags []string) {
	w.buf = append(w.buf[:0], '(')
	for i, f := range flags {
		if i > 0 {
			w.buf = append(w.buf, ' ')
		}
		w.buf = append(w.buf, f...)
	}
	w.buf = append(w.buf, ')')
	w.write(w.buf)
}

// Set writes a sequence set.
func (w *Writer) Set(s SeqSet) {
	w.buf = s.AppendTo(w.buf[:0])
	w.write(w.buf)
}

// Literal writes data as a literal, or literal8 ("~{N}") when binary
// (RFC 3516 §4.2).
func (w *Writer) Literal(data []byte, binary bool) {
	w.literalHead(int64(len(data)), binary)
	w.write(data)
}

func (w *Writer) literalHead(n int64, binary bool) {
	b := w.buf[:0]
	if binary {
		b = append(b, '~')
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "}\r\n"...)
	w.buf = b
	w.write(b)
}

// LiteralFrom writes a literal of size bytes copied from r (a message
// file): literal8 when binary. The caller vouches for the content (no
// NUL unless binary).
func (w *Writer) LiteralFrom(size int64, r io.Reader, binary bool) error {
	w.literalHead(size, binary)
	if w.err != nil {
		return w.err
	}
	n, err := io.CopyN(w.bw, r, size)
	if err != nil {
		if n < size {
			// The response is broken: the connection must close.
			w.err = fmt.Errorf("imapwire: writing a literal of %d bytes after %d: %w", size, n, err)
		}
		return w.err
	}
	return nil
}

// Status response kinds (RFC 9051 §7.1).
const (
	OK      = "OK"
	NO      = "NO"
	BAD     = "BAD"
	PREAUTH = "PREAUTH"
	BYE     = "BYE"
)

// Status writes a status response: "tag OK [CODE args] text", untagged
// ("*") when tag is "". CR and LF in text become spaces.
func (w *Writer) Status(tag, status string, code *Code, text string) {
	b := w.buf[:0]
	if tag == "" {
		tag = "*"
	}
	b = append(b, tag...)
	b = append(b, ' ')
	b = append(b, status...)
	b = append(b, ' ')
	if code != nil {
		b = code.AppendTo(b)
		b = append(b, ' ')
	}
	b = appendText(b, text)
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// appendText appends resp-text's text: TEXT-CHARs (no CR, LF or NUL), at
// least one (RFC 9051 §9 text = 1*TEXT-CHAR).
func appendText(b []byte, text string) []byte {
	if text == "" {
		text = "done"
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\r' || c == '\n' || c == 0 {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// Continue writes a continuation request: "+ text" (RFC 9051 §7.5).
func (w *Writer) Continue(text string) {
	b := append(w.buf[:0], "+ "...)
	if text != "" {
		b = appendText(b, text)
	}
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// ContinueBase64 writes a SASL challenge: "+ " base64 (RFC 9051 §6.2.2).
func (w *Writer) ContinueBase64(data []byte) {
	w.writeString("+ ")
	enc := make([]byte, base64Len(len(data)))
	encodeBase64(enc, data)
	w.write(enc)
	w.CRLF()
}

// Untagged starts an untagged data response, "* ".
func (w *Writer) Untagged() { w.writeString("* ") }

// Exists writes "* N EXISTS".
func (w *Writer) Exists(n uint32) { w.numResp(n, "EXISTS") }

// Recent writes "* N RECENT" (IMAP4rev1 only).
func (w *Writer) Recent(n uint32) { w.numResp(n, "RECENT") }

// Expunge writes "* N EXPUNGE".
func (w *Writer) Expunge(n uint32) { w.numResp(n, "EXPUNGE") }

func (w *Writer) numResp(n uint32, name string) {
	b := append(w.buf[:0], "* "...)
	b = strconv.AppendUint(b, uint64(n), 10)
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// FlagsResponse writes "* FLAGS (...)".
func (w *Writer) FlagsResponse(flags []string) {
	w.writeString("* FLAGS ")
	w.Flags(flags)
	w.CRLF()
}

// Capability writes "* CAPABILITY ...".
func (w *Writer) Capability(caps []string) { w.words("CAPABILITY", caps) }

// Enabled writes "* ENABLED ..." (RFC 5161 §3.2).
func (w *Writer) Enabled(caps []string) { w.words("ENABLED", caps) }

func (w *Writer) words(name string, words []string) {
	b := append(w.buf[:0], "* "...)
	b = append(b, name...)
	for _, c := range words {
		b = append(b, ' ')
		b = append(b, c...)
	}
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// Search writes "* SEARCH n..." with "(MODSEQ m)" when modSeq is not
// zero (RFC 7162 §3.1.5). Sort writes "* SORT n..." (RFC 5256 §4).
func (w *Writer) Search(nums []uint32, modSeq uint64) { w.nums("SEARCH", nums, modSeq) }

// Sort writes "* SORT n..." (RFC 5256 §4).
func (w *Writer) Sort(nums []uint32, modSeq uint64) { w.nums("SORT", nums, modSeq) }

func (w *Writer) nums(name string, nums []uint32, modSeq uint64) {
	b := append(w.buf[:0], "* "...)
	b = append(b, name...)
	for _, n := range nums {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(n), 10)
		if len(b) > 4096 {
			w.write(b)
			b = b[:0]
		}
	}
	if modSeq != 0 {
		b = append(b, " (MODSEQ "...)
		b = strconv.AppendUint(b, modSeq, 10)
		b = append(b, ')')
	}
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// ESearchData is an ESEARCH response (RFC 4731 §3.1, RFC 9051 §7.3.4):
// the items not nil or zero are written, ModSeq when not zero (RFC 7162
// §3.1.5); the ADDTO and REMOVEFROM items of an updating search (RFC
// 5267 §4.3) come right after UID, in order.
type ESearchData struct {
	Tag     string // the command's tag, "" for none
	UID     bool
	Updates []ContextUpdate
	Min     uint32 // 0: not given
	Max     uint32
	All     *SeqSet
	Partial *ESearchPartial // RFC 5267 §4.4
	Count   *uint32
	ModSeq  uint64
}

// ESearch writes "* ESEARCH (TAG "t") UID MIN 1 MAX 9 COUNT 3 ALL 1:2,9".
func (w *Writer) ESearch(d ESearchData) {
	b := append(w.buf[:0], "* ESEARCH"...)
	if d.Tag != "" {
		b = append(b, " (TAG "...)
		b = appendQuoted(b, d.Tag)
		b = append(b, ')')
	}
	if d.UID {
		b = append(b, " UID"...)
	}
	b = appendContextUpdates(b, d.Updates)
	if d.Min != 0 {
		b = append(b, " MIN "...)
		b = strconv.AppendUint(b, uint64(d.Min), 10)
	}
	if d.Max != 0 {
		b = append(b, " MAX "...)
		b = strconv.AppendUint(b, uint64(d.Max), 10)
	}
	if d.Count != nil {
		b = append(b, " COUNT "...)
		b = strconv.AppendUint(b, uint64(*d.Count), 10)
	}
	if d.All != nil && len(d.All.Ranges) > 0 {
		b = append(b, " ALL "...)
		b = d.All.AppendTo(b)
	}
	if d.Partial != nil {
		b = appendPartial(b, d.Partial)
	}
	if d.ModSeq != 0 {
		b = append(b, " MODSEQ "...)
		b = strconv.AppendUint(b, d.ModSeq, 10)
	}
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// Vanished writes "* VANISHED [(EARLIER) ]uids" (RFC 7162 §3.2.10).
func (w *Writer) Vanished(earlier bool, uids SeqSet) {
	b := append(w.buf[:0], "* VANISHED "...)
	if earlier {
		b = append(b, "(EARLIER) "...)
	}
	b = uids.AppendTo(b)
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// ListData is one LIST or LSUB response (RFC 9051 §7.3.1, RFC 5258 §3.5).
type ListData struct {
	Lsub      bool
	Attrs     []string // "\HasNoChildren", "\Subscribed", ...
	Delimiter byte     // 0 for NIL
	Name      string   // UTF-8; encoded as the Writer's mode says
	// ChildInfo: CHILDINFO's selection options (RFC 5258 §4: "SUBSCRIBED").
	ChildInfo []string
	// OldName: OLDNAME's name (RFC 5465 §5.4, RFC 9051 §7.3.1).
	OldName string
}

// List writes a LIST (or LSUB) response.
func (w *Writer) List(d ListData) {
	if d.Lsub {
		w.writeString("* LSUB ")
	} else {
		w.writeString("* LIST ")
	}
	w.Flags(d.Attrs)
	w.SP()
	if d.Delimiter == 0 {
		w.writeString("NIL")
	} else {
		w.buf = appendQuoted(w.buf[:0], string(d.Delimiter))
		w.write(w.buf)
	}
	w.SP()
	w.Mailbox(d.Name)
	if len(d.ChildInfo) > 0 || d.OldName != "" {
		w.writeString(" (")
		if len(d.ChildInfo) > 0 {
			w.writeString(`"CHILDINFO" (`)
			for i, c := range d.ChildInfo {
				if i > 0 {
					w.SP()
				}
				w.buf = appendQuoted(w.buf[:0], c)
				w.write(w.buf)
			}
			w.writeString(")")
		}
		if d.OldName != "" {
			if len(d.ChildInfo) > 0 {
				w.SP()
			}
			w.writeString(`"OLDNAME" (`)
			w.Mailbox(d.OldName)
			w.writeString(")")
		}
		w.writeString(")")
	}
	w.CRLF()
}

// StatusItem is one STATUS attribute and its value.
type StatusItem struct {
	Name  string // upper case: MESSAGES, UIDNEXT, ..., HIGHESTMODSEQ, SIZE
	Value uint64
	// ID, when set, is the value instead, written "(ID)": MAILBOXID's
	// objectid (RFC 8474 §4.2).
	ID string
}

// StatusResponse writes "* STATUS name (MESSAGES 2 UIDNEXT 7)" (RFC 9051
// §7.3.2).
func (w *Writer) StatusResponse(mailbox string, items []StatusItem) {
	w.writeString("* STATUS ")
	w.Mailbox(mailbox)
	b := append(w.buf[:0], " ("...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, it.Name...)
		b = append(b, ' ')
		if it.ID != "" {
			b = append(b, '(')
			b = append(b, it.ID...)
			b = append(b, ')')
			continue
		}
		b = strconv.AppendUint(b, it.Value, 10)
	}
	b = append(b, ")\r\n"...)
	w.buf = b
	w.write(b)
}

// ID writes "* ID (...)" or "* ID NIL" (RFC 2971 §3.2).
func (w *Writer) ID(params []IDParam) {
	if params == nil {
		w.writeString("* ID NIL\r\n")
		return
	}
	w.writeString("* ID (")
	for i, p := range params {
		if i > 0 {
			w.SP()
		}
		w.String(p.Field)
		w.SP()
		if p.Nil {
			w.writeString("NIL")
		} else {
			w.String(p.Value)
		}
	}
	w.writeString(")\r\n")
}

// Namespace writes "* NAMESPACE" with one personal namespace and no
// others (RFC 2342 §5), delimiter 0 for NIL.
func (w *Writer) Namespace(prefix string, delim byte) {
	w.writeString("* NAMESPACE ((")
	w.String(prefix)
	w.SP()
	if delim == 0 {
		w.writeString("NIL")
	} else {
		w.buf = appendQuoted(w.buf[:0], string(delim))
		w.write(w.buf)
	}
	w.writeString(")) NIL NIL\r\n")
}

// Quota writes "* QUOTA root (STORAGE used limit ...)" (RFC 9208 §5.1);
// usage and limit in the resource's units (STORAGE in KiB).
func (w *Writer) Quota(root string, res []QuotaUsage) {
	w.writeString("* QUOTA ")
	w.AString(root)
	b := append(w.buf[:0], " ("...)
	for i, r := range res {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, r.Name...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.Usage, 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.Limit, 10)
	}
	b = append(b, ")\r\n"...)
	w.buf = b
	w.write(b)
}

// QuotaUsage is one resource of a QUOTA response.
type QuotaUsage struct {
	Name         string
	Usage, Limit uint64
}

// QuotaRoot writes "* QUOTAROOT mailbox root..." (RFC 9208 §5.2).
func (w *Writer) QuotaRoot(mailbox string, roots []string) {
	w.writeString("* QUOTAROOT ")
	w.Mailbox(mailbox)
	for _, r := range roots {
		w.SP()
		w.AString(r)
	}
	w.CRLF()
}

// ThreadNode is one message of a THREAD response and its replies (RFC
// 5256 §4); a node with Num 0 is a missing parent of several threads.
type ThreadNode struct {
	Num      uint32
	Children []ThreadNode
}

// Thread writes "* THREAD (2)(3 6 (4 23)(44 7 96))" (RFC 5256 §4).
func (w *Writer) Thread(roots []ThreadNode) {
	b := append(w.buf[:0], "* THREAD"...)
	if len(roots) > 0 {
		b = append(b, ' ') // RFC 5256 §5: "THREAD" [SP 1*thread-list]
	}
	for _, n := range roots {
		b = append(b, '(')
		b = appendThread(b, n)
		b = append(b, ')')
	}
	b = append(b, "\r\n"...)
	w.buf = b
	w.write(b)
}

// appendThread writes a node and its chain of single replies, then its
// branches in parentheses.
func appendThread(b []byte, n ThreadNode) []byte {
	sep := false
	for {
		if n.Num != 0 {
			if sep {
				b = append(b, ' ')
			}
			b = strconv.AppendUint(b, uint64(n.Num), 10)
			sep = true
		}
		if len(n.Children) != 1 {
			break
		}
		n = n.Children[0]
	}
	if len(n.Children) > 1 {
		if sep {
			b = append(b, ' ')
		}
		for _, c := range n.Children {
			b = append(b, '(')
			b = appendThread(b, c)
			b = append(b, ')')
		}
	}
	return b
}

// base64 helpers without encoding/base64's allocation for the encoder.
func base64Len(n int) int { return (n + 2) / 3 * 4 }

func encodeBase64(dst, src []byte) {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	di := 0
	for i := 0; i < len(src); i += 3 {
		var v uint32
		n := len(src) - i
		if n > 3 {
			n = 3
		}
		for k := 0; k < 3; k++ {
			v <<= 8
			if k < n {
				v |= uint32(src[i+k])
			}
		}
		for k := 0; k < 4; k++ {
			if k <= n {
				dst[di+k] = std[(v>>(18-6*k))&0x3f]
			} else {
				dst[di+k] = '='
			}
		}
		di += 4
	}
}
