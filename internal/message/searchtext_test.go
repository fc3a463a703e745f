package message

import (
	"strings"
	"testing"
)

// TestReadSearchTextBounds: a giant one-line body is kept up to
// MaxSearchText and marked Partial (so a searcher looks at the file); a
// bogus charset or an unterminated multipart still gives what could be
// read, marked Partial where the structure broke off.
func TestReadSearchTextBounds(t *testing.T) {
	giant := "Subject: big\r\n\r\n" + strings.Repeat("Zanzibar", 2*MaxSearchText/8) + "\r\n"
	st := ReadSearchText(strings.NewReader(giant))
	if !st.Partial || len(st.Header)+len(st.Body) > MaxSearchText+64 || !strings.HasPrefix(st.Body, "zanzibarzanzibar") {
		t.Errorf("giant: partial %v, %d bytes", st.Partial, len(st.Header)+len(st.Body))
	}
	bogus := "Subject: =?x-bogus?q?caf=E9?=\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\nStraße\r\n"
	st = ReadSearchText(strings.NewReader(bogus))
	if st.Partial || !strings.Contains(st.Body, "straße") || !strings.Contains(st.Subject, "=?x-bogus?q?caf=e9?=") {
		t.Errorf("bogus charset: %+v", st)
	}
	broken := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/plain\r\n\r\ncut"
	st = ReadSearchText(strings.NewReader(broken))
	if !strings.Contains(st.Body, "first part") {
		t.Errorf("broken multipart: %+v", st)
	}
	if got := FoldSearch("Ab\r\n \tCD  É"); got != "ab cd é" {
		t.Errorf("fold: %q", got)
	}
}
