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
	if !st.Partial || len(st.Header)+len(st.Body) > MaxSearchText+64 || !strings.HasPrefix(st.Body, "ZANZIBARZANZIBAR") {
		t.Errorf("giant: partial %v, %d bytes", st.Partial, len(st.Header)+len(st.Body))
	}
	// Folding shrinks a long body (line breaks squeezed to one space):
	// what was read may then fit the budget, but the rest was not read.
	folded := "Subject: big\r\n\r\n" + strings.Repeat("filler\r\n", MaxSearchText/8+8) + "Zanzibar\r\n"
	if st := ReadSearchText(strings.NewReader(folded)); !st.Partial {
		t.Errorf("folded giant: not partial, %d bytes, zanzibar kept %v", len(st.Body), strings.Contains(st.Body, "ZANZIBAR"))
	}
	bogus := "Subject: =?x-bogus?q?caf=E9?=\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\nStraße\r\n"
	st = ReadSearchText(strings.NewReader(bogus))
	if st.Partial || !strings.Contains(st.Body, "STRAßE") || !strings.Contains(st.Subject, "=?X-BOGUS?Q?CAF=E9?=") {
		t.Errorf("bogus charset: %+v", st)
	}
	broken := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/plain\r\n\r\ncut"
	st = ReadSearchText(strings.NewReader(broken))
	if !strings.Contains(st.Body, "FIRST PART") {
		t.Errorf("broken multipart: %+v", st)
	}
	if got := FoldSearch("Ab\r\n \tCD  É\u00a0\u3000x"); got != "AB CD E\u0301 X" {
		t.Errorf("fold: %q", got)
	}
}
