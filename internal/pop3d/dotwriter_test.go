package pop3d

import (
	"bufio"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDotWriter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"..x\r\n.", "...x\r\n..\r\n.\r\n"},
		{"a\r\n.b\r\nc.d\r\n", "a\r\n..b\r\nc.d\r\n.\r\n"},
		{"bare\nlf\n.x", "bare\r\nlf\r\n..x\r\n.\r\n"},
		{"\r\n\r\n", "\r\n\r\n.\r\n"},
		{"a\r\r\n", "a\r\r\n.\r\n"},
	} {
		// Whole, and one octet at a time: the state carries across writes.
		for _, oneByte := range []bool{false, true} {
			var b strings.Builder
			w := bufio.NewWriter(&b)
			dw := newDotWriter(w)
			if oneByte {
				for i := 0; i < len(tc.in); i++ {
					dw.Write([]byte{tc.in[i]})
				}
			} else {
				dw.Write([]byte(tc.in))
			}
			if err := dw.Close(); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if b.String() != tc.want {
				t.Errorf("dotWriter(%q, oneByte=%v) = %q, want %q", tc.in, oneByte, b.String(), tc.want)
			}
		}
	}
}

func TestCopyTop(t *testing.T) {
	msg := "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3"
	for _, tc := range []struct {
		in    string
		lines int
		want  string
	}{
		{msg, 0, "A: 1\r\nB: 2\r\n\r\n"},
		{msg, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n"},
		{msg, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n"},
		{msg, 3, msg},
		{msg, 100, msg},
		{"A: 1\nB: 2\n\nbody\n", 0, "A: 1\nB: 2\n\n"},
		{"A: 1\r\nno body", 0, "A: 1\r\nno body"},
		{"\r\nl1\r\nl2\r\n", 1, "\r\nl1\r\n"},
		{"", 5, ""},
	} {
		var b strings.Builder
		// A one-byte reader exercises lines split across reads.
		if err := copyTop(&b, iotest.OneByteReader(strings.NewReader(tc.in)), tc.lines); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("copyTop(%q, %d) = %q, want %q", tc.in, tc.lines, b.String(), tc.want)
		}
	}
	// A header line longer than the reader's buffer.
	long := "X: " + strings.Repeat("v", 100000) + "\r\n\r\nbody\r\nmore\r\n"
	var b strings.Builder
	if err := copyTop(&b, strings.NewReader(long), 1); err != nil {
		t.Fatal(err)
	}
	if want := long[:len(long)-len("more\r\n")]; b.String() != want {
		t.Errorf("copyTop with a long header line: %d octets, want %d", b.Len(), len(want))
	}
}
