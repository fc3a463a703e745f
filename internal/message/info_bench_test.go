package message

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkReadInfo measures what delivery adds per message to describe
// it: a plain 4 KiB message and a 64 KiB multipart with an attachment.
func BenchmarkReadInfo(b *testing.B) {
	line := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"
	msgs := map[string]string{
		"plain4KiB": "From: Jack <jack@town.test>\r\nTo: jill@hill.test\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nDate: Mon, 7 Dec 2026 12:00:00 +0100\r\nMessage-ID: <b@town.test>\r\n\r\n" + strings.Repeat(line, 4<<10/64),
		"multipart64KiB": "From: Jack <jack@town.test>\r\nTo: jill@hill.test\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Jill,\r\nthe report.\r\n--XX\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\r\n", 64<<10/66) + "--XX--\r\n",
	}
	for name, m := range msgs {
		b.Run(name, func(b *testing.B) {
			raw := []byte(m)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for range b.N {
				ReadInfoSize(bytes.NewReader(raw), int64(len(raw)))
			}
		})
	}
}
