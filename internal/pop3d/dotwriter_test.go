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

// stuffByByte is the reference for dotWriter: RFC 1939 §3 applied one
// octet at a time.
func stuffByByte(in string) string {
	var b strings.Builder
	bol, cr := true, false
	for i := 0; i < len(in); i++ {
		c := in[i]
		if bol && c == '.' {
			b.WriteByte('.')
		}
		if c == '\n' && !cr {
			b.WriteByte('\r')
		}
		b.WriteByte(c)
		bol, cr = c == '\n', c == '\r'
	}
	if !bol {
		if !cr {
			b.WriteByte('\r')
		}
		b.WriteByte('\n')
	}
	return b.String() + ".\r\n"
}

// writeSplit runs in through a dotWriter in writes that end at the given
// offsets, and returns what it wrote.
func writeSplit(t *testing.T, in string, cuts ...int) string {
	t.Helper()
	var b strings.Builder
	w := bufio.NewWriterSize(&b, 16) // small, so that it flushes mid-write
	dw := newDotWriter(w)
	from := 0
	for _, c := range append(cuts, len(in)) {
		if n, err := dw.Write([]byte(in[from:c])); err != nil || n != c-from {
			t.Fatalf("Write = %d, %v; want %d", n, err, c-from)
		}
		from = c
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return b.String()
}

// TestDotWriterChunkBoundaries cuts each input at every offset: a "." that
// starts a line right at the start of a write, a CR at the end of one write
// and its LF at the start of the next, a bare LF at either edge.
func TestDotWriterChunkBoundaries(t *testing.T) {
	for _, in := range []string{
		"a\r\n.b\r\n..c\r\n.\r\nd",
		"line\r\n.\r\n",
		".\r\n.\r\n.",
		"x\n.y\n\n.\n",
		"a\r\r\n\r\n.\r.\n",
		"no line end",
		"\n\n.",
	} {
		want := stuffByByte(in)
		for cut := 0; cut <= len(in); cut++ {
			if got := writeSplit(t, in, cut); got != want {
				t.Errorf("%q cut at %d: got %q, want %q", in, cut, got, want)
			}
			for cut2 := cut; cut2 <= len(in); cut2++ {
				if got := writeSplit(t, in, cut, cut2); got != want {
					t.Errorf("%q cut at %d and %d: got %q, want %q", in, cut, cut2, got, want)
				}
			}
		}
	}
}

// FuzzDotWriter checks dotWriter against the octet-at-a-time reference,
// with the input split into two writes. Seeds: testdata/fuzz/FuzzDotWriter.
func FuzzDotWriter(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string, cut int) {
		if cut < 0 || cut > len(in) {
			cut = len(in) / 2
		}
		if got, want := writeSplit(t, in, cut), stuffByByte(in); got != want {
			t.Errorf("%q cut at %d: got %q, want %q", in, cut, got, want)
		}
	})
}
