package message

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Draft is a message to compose.
type Draft struct {
	From    mail.Address
	To, Cc  []mail.Address
	Bcc     []mail.Address // written only when IncludeBcc is set
	Subject string
	Text    string // the body, UTF-8; line ends may be LF or CRLF
	// Attachments are added after the text in a multipart/mixed.
	Attachments []Attachment
	// InReplyTo and References are message ids without angle brackets
	// (RFC 5322 §3.6.4).
	InReplyTo  string
	References []string
	Date       time.Time
	// MessageID is the id without angle brackets; see NewMessageID.
	MessageID string
	// IncludeBcc writes the Bcc field (for the sender's own copy in Sent
	// or Drafts, RFC 5322 §3.6.3); never set it for the copy that is sent.
	IncludeBcc bool
	// Boundary is the multipart boundary; empty means a random one.
	Boundary string
}

// Attachment is one file to attach.
type Attachment struct {
	Name        string
	ContentType string // empty means application/octet-stream
	Data        []byte
}

// NewMessageID returns a new globally unique message id for host
// (RFC 5322 §3.6.4), without angle brackets.
func NewMessageID(host string) string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + host
}

// Compose writes d as an RFC 5322 message with CRLF line ends: a
// text/plain; charset=utf-8 body in quoted-printable (RFC 2045 §6.7),
// followed, when there are attachments, by base64 parts in a
// multipart/mixed (RFC 2046 §5.1.3). Header fields with non-ASCII text use
// RFC 2047 encoded words; file names use RFC 2231 parameters.
func Compose(w io.Writer, d *Draft) error {
	var b bytes.Buffer
	date := d.Date
	if date.IsZero() {
		date = time.Now()
	}
	header(&b, "Date", date.Format(time.RFC1123Z))
	header(&b, "From", formatAddress(d.From))
	if len(d.To) > 0 {
		header(&b, "To", formatList(d.To))
	}
	if len(d.Cc) > 0 {
		header(&b, "Cc", formatList(d.Cc))
	}
	if d.IncludeBcc && len(d.Bcc) > 0 {
		header(&b, "Bcc", formatList(d.Bcc))
	}
	if d.MessageID != "" {
		header(&b, "Message-ID", "<"+d.MessageID+">")
	}
	if d.InReplyTo != "" {
		header(&b, "In-Reply-To", "<"+d.InReplyTo+">")
	}
	if len(d.References) > 0 {
		refs := make([]string, len(d.References))
		for i, r := range d.References {
			refs[i] = "<" + r + ">"
		}
		header(&b, "References", strings.Join(refs, " "))
	}
	header(&b, "Subject", encodeText(d.Subject))
	header(&b, "MIME-Version", "1.0")
	if len(d.Attachments) == 0 {
		if err := textPart(&b, d.Text); err != nil {
			return err
		}
		_, err := w.Write(b.Bytes())
		return err
	}
	boundary := d.Boundary
	if boundary == "" {
		var r [18]byte
		rand.Read(r[:])
		boundary = "pail-" + base64.RawURLEncoding.EncodeToString(r[:])
	}
	header(&b, "Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}))
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	b.WriteString("\r\n--" + boundary + "\r\n")
	if err := textPart(&b, d.Text); err != nil {
		return err
	}
	for _, a := range d.Attachments {
		b.WriteString("\r\n--" + boundary + "\r\n")
		attachmentPart(&b, a)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	_, err := w.Write(b.Bytes())
	return err
}

// textPart writes the header and body of the text part.
func textPart(b *bytes.Buffer, text string) error {
	header(b, "Content-Type", "text/plain; charset=utf-8")
	header(b, "Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	qp := quotedprintable.NewWriter(b) // text mode: LF becomes CRLF
	if _, err := io.WriteString(qp, text); err != nil {
		return err
	}
	if err := qp.Close(); err != nil {
		return err
	}
	if !strings.HasSuffix(text, "\n") {
		b.WriteString("\r\n")
	}
	return nil
}

// attachmentPart writes one base64 attachment, in lines of 76 characters
// (RFC 2045 §6.8).
func attachmentPart(b *bytes.Buffer, a Attachment) {
	ct := a.ContentType
	if t, _, err := mime.ParseMediaType(ct); err != nil || t == "" || strings.HasPrefix(t, "multipart/") {
		ct = "application/octet-stream"
	} else {
		ct = t
	}
	name := cleanName(a.Name)
	if name == "" {
		name = "attachment"
	}
	header(b, "Content-Type", mime.FormatMediaType(ct, map[string]string{"name": name}))
	header(b, "Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	header(b, "Content-Transfer-Encoding", "base64")
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString(a.Data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc + "\r\n")
	}
}

// formatAddress writes an address with its display name quoted or
// RFC 2047-encoded as needed (net/mail does both).
func formatAddress(a mail.Address) string { return a.String() }

func formatList(list []mail.Address) string {
	s := make([]string, len(list))
	for i, a := range list {
		s[i] = formatAddress(a)
	}
	return strings.Join(s, ", ")
}

// encodeText encodes unstructured header text (RFC 2047 §5(1)): ASCII
// stays as it is, anything else becomes Q-encoded words of UTF-8.
func encodeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if isASCII(s) {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	// Encode in short pieces, cut at character boundaries, so that every
	// encoded word fits on a folded line of 78 characters (RFC 2047 §2:
	// an encoded word is at most 75 characters). White space between
	// encoded words is not part of the text (RFC 2047 §6.2).
	var words []string
	for len(s) > 0 {
		n := min(len(s), encodedPiece)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, qWord(s[:n]))
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// qWord encodes s as one "Q" encoded word (RFC 2047 §4.2), always, even
// when s is ASCII: a run of words must be all encoded for the white space
// between them to vanish when decoded.
func qWord(s string) string {
	var b strings.Builder
	b.WriteString("=?utf-8?q?")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!*+-/", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteString("?=")
	return b.String()
}

// encodedPiece is the most UTF-8 octets put in one encoded word: at worst
// 3 characters each plus 12 for "=?utf-8?q?" and "?=", 66 in all.
const encodedPiece = 18

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// header writes one field, folded at spaces so that lines stay within 78
// characters where the text allows (RFC 5322 §2.1.1).
func header(b *bytes.Buffer, name, value string) {
	line := name + ":"
	width := len(line)
	for i, word := range strings.Split(value, " ") {
		if i > 0 && width+1+len(word) > 78 && width > len(name)+1 {
			b.WriteString(line + "\r\n")
			line, width = "", 0
		}
		line += " " + word
		width += 1 + len(word)
	}
	b.WriteString(line + "\r\n")
}

// FormatSize writes an octet count for people: "512 B", "1.4 KB",
// "3.0 MB".
func FormatSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}
