package reporting

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"time"
)

// base64Line is the encoded line length (RFC 2045 §6.8: at most 76).
const base64Line = 76

// Mail is a message that carries one report as an attachment, with a
// text part for people.
type Mail struct {
	From, To string
	// Host is the sending host's name: the right side of the Message-ID.
	Host    string
	Subject string
	// Header are more fields, in order (name, value).
	Header [][2]string
	// ContentType is the container's media type without its boundary:
	// `multipart/report; report-type="tlsrpt"`, "multipart/mixed".
	ContentType string
	// Text is the text part, lines ending in CRLF.
	Text string
	// AttachmentType is the report's media type; Filename its name.
	AttachmentType string
	Filename       string
	Attachment     []byte
	Date           time.Time
}

// Bytes returns the message, lines ending in CRLF: From, To, Date, a new
// Message-ID, the Subject (encoded when it is not ASCII), the extra
// fields, then a two-part MIME body: the text and the report in base64.
// It is to be DKIM-signed on the way out (RFC 8460 §5.3, RFC 7489
// §7.2.1.1), so From should be an address at a local domain.
func (m Mail) Bytes() []byte {
	boundary := "report-" + RandomHex(12)
	var b strings.Builder
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	h("From", "<"+m.From+">")
	h("To", "<"+m.To+">")
	h("Date", m.Date.Format(time.RFC1123Z))
	h("Message-ID", "<"+RandomHex(16)+"@"+m.Host+">")
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	for _, f := range m.Header {
		h(f[0], f[1])
	}
	h("MIME-Version", "1.0")
	h("Content-Type", m.ContentType+`; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("This is a multipart message in MIME format.\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	b.WriteString(m.Text)
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: " + m.AttachmentType + "\r\nContent-Transfer-Encoding: base64\r\n")
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=%q\r\n\r\n", m.Filename)
	enc := base64.StdEncoding.EncodeToString(m.Attachment)
	for len(enc) > base64Line {
		b.WriteString(enc[:base64Line] + "\r\n")
		enc = enc[base64Line:]
	}
	b.WriteString(enc + "\r\n")
	b.WriteString("--" + boundary + "--\r\n")
	return []byte(b.String())
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
