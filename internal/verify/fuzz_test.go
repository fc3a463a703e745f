package verify

import (
	"bytes"
	"testing"

	"pail/internal/mailheader"
)

// FuzzHeader feeds arbitrary header sections to everything here that
// reads one: the field splitter (mailheader), the authserv-id reader, the
// DKIM-Signature tag reader and the From reader.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"Authentication-Results: mx.hill.test; spf=pass\r\n\r\n",
		"Authentication-Results: (c (nested) \\) x) \"mx.hill\\\"test\"; none\r\n\r\n",
		"DKIM-Signature: v=1; a=rsa-sha256; d=town.test; s=sel;\r\n\tb=abc def; bh=x\r\n\r\n",
		"From: a@b.test, c@b.test\r\nFrom: x\r\n\r\n",
		"From : =?utf-8?q?J=C3=A4ck?= <jack@town.test>\r\n \r\n\r\n",
		"\r\n",
		"x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		for fl := range mailheader.Fields(h) {
			if fl.Start < 0 || fl.End > len(h) || fl.Start >= fl.End {
				t.Fatalf("field span %d-%d of %d", fl.Start, fl.End, len(h))
			}
			ServID(fl.Value)
		}
		last := int64(0)
		for _, s := range OwnResults(h, "mx.hill.test") {
			if s.Start < last || s.End <= s.Start || s.End > int64(len(h)) {
				t.Fatalf("span %+v after %d of %d", s, last, len(h))
			}
			last = s.End
		}
		signatures(h)
		parseFrom(h, true)
		if hdr, complete, err := ReadHeader(bytes.NewReader(h), int64(len(h))); err != nil || !bytes.HasPrefix(h, hdr) || (complete && len(hdr) < len(h) && !bytes.HasSuffix(hdr, []byte("\r\n\r\n")) && string(hdr) != "\r\n") {
			t.Fatalf("ReadHeader(%q) = %q, %v, %v", h, hdr, complete, err)
		}
	})
}
